"""Rule train_model: fit one feature set's network (resuming from its checkpoint if any).

The step is :func:`hepml.steps.models.train_model`; the fit loop and its checkpoints live
in :mod:`hepml.training.fit`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import models  # noqa: E402 (after the log is set up)

models.train_model(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    threads=int(snakemake.threads),
)
