"""Rule generate_chunk: one chunk of Pythia 8 events through the calorimeter (docs/generator.md).
See :func:`hepml.steps.data.generate_chunk`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import data  # noqa: E402 (after the log is set up)

data.generate_chunk(
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    chunk=str(snakemake.wildcards.chunk),
)
