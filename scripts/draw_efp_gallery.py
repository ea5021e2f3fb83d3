"""Rule draw_efp_gallery: the graphs of the best single-EFP AUCs, one report item each."""

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from leptonid import plots_efp  # noqa: E402 (after the log is set up)

plots_efp.run_efp_gallery(
    single_auc_path=str(snakemake.input.single_auc),
    size=int(snakemake.params.size),
    out_dir=str(snakemake.output.gallery),
)
