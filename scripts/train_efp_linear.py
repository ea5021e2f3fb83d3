"""Rule train_efp_linear: Fisher's linear discriminant on every kept EFP, its shrinkage chosen
on the validation split. See :func:`hepml.steps.models.train_efp_linear`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import models  # noqa: E402 (after the log is set up)

models.train_efp_linear(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
