"""Rule plot_ntuple_overtraining: train against test classifier distributions per class with the
KS p-values. See :func:`hepml.steps.ntuple_figures.plot_ntuple_overtraining`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import ntuple_figures  # noqa: E402 (after the log is set up)

ntuple_figures.plot_ntuple_overtraining(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    dataset=str(snakemake.wildcards.dataset),
    name=str(snakemake.wildcards.name),
)
