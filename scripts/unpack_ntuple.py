"""Rule unpack_ntuple: one sample's ROOT files -> its table (split column) and cut-flow.
See :func:`hepml.steps.ntuples.unpack_ntuple`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import ntuples  # noqa: E402 (after the log is set up)

ntuples.unpack_ntuple(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    sample=str(snakemake.wildcards.sample),
)
