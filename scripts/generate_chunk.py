"""Rule generate_chunk: one chunk of Pythia 8 events through the calorimeter (docs/generator.md).

Dispatches on the dataset kind; the physics lives in leptonid.generate.<kind>.
"""

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from leptonid.generate.chunks import write_generated_chunk  # noqa: E402

write_generated_chunk(
    kind=str(snakemake.params.kind),
    seed=int(snakemake.params.seed),
    chunk=int(snakemake.wildcards.chunk),
    n_events=int(snakemake.params.n_events),
    settings=dict(snakemake.params.settings),
    path=str(snakemake.output.chunk),
)
