"""Rule apply_model: every row of every sample's table (data included) with a model's score.
See :func:`hepml.steps.ntuples.apply_model`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import ntuples  # noqa: E402 (after the log is set up)

ntuples.apply_model(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    name=str(snakemake.wildcards.name),
    threads=int(snakemake.threads),
)
