"""Rule summarise_dataset: the AUC table of every model of a dataset (CSV + markdown twin),
next to the paper's numbers. See :func:`hepml.steps.evaluate.summarise_dataset`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import evaluate  # noqa: E402 (after the log is set up)

evaluate.summarise_dataset(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
