"""Rule train_secondary_network: fit a network that follows a feature set's primary model
(models: [dnn, shallow, ...]: the shallow network), resuming from its checkpoint if any.

The step is :func:`hepml.steps.models.train_secondary_network`, train_model's fit with the
model kind from the rule's params.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import models  # noqa: E402 (after the log is set up)

models.train_secondary_network(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    threads=int(snakemake.threads),
)
