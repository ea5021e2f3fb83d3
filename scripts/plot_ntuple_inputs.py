"""Rule plot_ntuple_inputs: the input variables per class and the correlation matrices of an
ntuple dataset (MC, train split). See :func:`hepml.steps.ntuple_figures.plot_ntuple_inputs`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import ntuple_figures  # noqa: E402 (after the log is set up)

ntuple_figures.plot_ntuple_inputs(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
