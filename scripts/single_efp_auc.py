"""Rule single_efp_auc: the AUC of every kept EFP alone on one split (valid or test)."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.efp.settings import storage_settings  # noqa: E402 (after the log is set up)
from hepml.steps import efp as steps  # noqa: E402

split = str(snakemake.wildcards.split)
steps.single_efp_auc(
    index_path=str(snakemake.input[f"{split}_efps"]),
    kept_path=str(snakemake.input.kept),
    y_path=str(snakemake.input.y),
    weight_path=str(snakemake.input.weight),
    out_path=str(snakemake.output.table),
    storage=storage_settings(snakemake.params.storage),
)
