"""Rule single_efp_auc: the AUC of every kept EFP alone on one split (valid or test)."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import efp  # noqa: E402 (after the log is set up)

efp.single_efp_auc(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    split=str(snakemake.wildcards.split),
)
