"""Rule compare_datasets: the AUC tables of every dataset of one kind, joined by model name.
See :func:`hepml.steps.compare.compare_datasets`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import compare  # noqa: E402 (after the log is set up)

compare.compare_datasets(
    tables=[str(path) for path in snakemake.input.tables],
    outputs={key: str(snakemake.output[key]) for key in ("table", "markdown", "figure")},
    datasets=list(snakemake.params.datasets),
    kind=str(snakemake.wildcards.kind),
)
