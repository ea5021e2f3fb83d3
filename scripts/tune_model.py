"""Rule tune_model: optuna TPE search of one feature set's network hyper-parameters.

Writes a YAML fragment (network: ...) that train_model merges when tuning is enabled.
See :func:`hepml.steps.models.tune_model`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import models  # noqa: E402 (after the log is set up)

models.tune_model(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    threads=int(snakemake.threads),
)
