"""Rule compare_datasets: the AUC tables of every dataset of one kind, joined by model name.
See :func:`hepml.steps.compare.compare_datasets`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import compare  # noqa: E402 (after the log is set up)

compare.compare_datasets(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    kind=str(snakemake.wildcards.kind),
)
