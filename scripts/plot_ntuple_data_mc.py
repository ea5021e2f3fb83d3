"""Rule plot_ntuple_data_mc: data against the stacked simulation of one variable, before and after
the cut. See :func:`hepml.steps.ntuple_figures.plot_ntuple_data_mc`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import ntuple_figures  # noqa: E402 (after the log is set up)

ntuple_figures.plot_ntuple_data_mc(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    name=str(snakemake.wildcards.name),
    column=str(snakemake.wildcards.column),
)
