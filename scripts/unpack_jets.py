"""Rule unpack_jets: one benchmark-layout file (a split) -> jet images, constituents, standard
features, labels and weights as Feather arrays. See :func:`hepml.steps.jets.unpack_jets`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import jets  # noqa: E402 (after the log is set up)

jets.unpack_jets(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
