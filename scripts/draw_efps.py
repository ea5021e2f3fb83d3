"""Rule draw_efps: the multigraph of one EFP, given by its canonical name."""

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from leptonid import plots_efp  # noqa: E402 (after the log is set up)

plots_efp.run_draw_efp(name=str(snakemake.wildcards.efp), out_path=str(snakemake.output.figure))
