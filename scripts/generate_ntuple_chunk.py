"""Rule generate_ntuple_chunk: one chunk of a built-in ntuple sample (higgs, ttbar or the
pseudo-data) from Pythia 8 (docs/ntuples.md "Built-in ntuples").
See :func:`hepml.steps.data.generate_ntuple_chunk`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import data  # noqa: E402 (after the log is set up)

data.generate_ntuple_chunk(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    sample=str(snakemake.wildcards.sample),
    chunk=str(snakemake.wildcards.chunk),
)
