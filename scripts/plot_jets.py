"""Rule plot_jets: class-average jet images and the standard features of the train
split. See :func:`hepml.steps.jets.plot_jets`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import jets  # noqa: E402 (after the log is set up)

jets.plot_jets(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    dataset=str(snakemake.wildcards.dataset),
)
