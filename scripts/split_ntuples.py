"""Rule split_ntuples: the simulated samples' tables -> every split's features, y and weight.
See :func:`hepml.steps.ntuples.split_ntuples`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import ntuples  # noqa: E402 (after the log is set up)

ntuples.split_ntuples(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
