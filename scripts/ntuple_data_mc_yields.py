"""Rule ntuple_data_mc_yields: data and simulation yields per process before and after the cut.
See :func:`hepml.steps.ntuple_figures.ntuple_data_mc_yields`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import ntuple_figures  # noqa: E402 (after the log is set up)

ntuple_figures.ntuple_data_mc_yields(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    name=str(snakemake.wildcards.name),
)
