"""Rule unpack_jets: one benchmark-layout file (a split) -> jet images, constituents, standard
features, labels and weights as Feather arrays. See :func:`leptonid.steps.jets.unpack_jets`."""

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from leptonid.steps import jets  # noqa: E402 (after the log is set up)

jets.unpack_jets(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.settings),
)
