"""Rule evaluate_model: AUC with a bootstrap interval, background rejection and the collapse
check of one model on the test split. See :func:`hepml.steps.evaluate.evaluate_model`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import evaluate  # noqa: E402 (after the log is set up)

evaluate.evaluate_model(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
