"""Rule plot_jets: class-average jet images and the standard features of the train
split. See :func:`leptonid.steps.jets.plot_jets`."""

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from leptonid.steps import jets  # noqa: E402 (after the log is set up)

jets.plot_jets(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    dataset=str(snakemake.wildcards.dataset),
)
