"""Rule summarise_ntuple_figures: the overtraining and significance tables of every model of an
ntuple dataset. See :func:`hepml.steps.ntuple_figures.summarise_ntuple_figures`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import ntuple_figures  # noqa: E402 (after the log is set up)

ntuple_figures.summarise_ntuple_figures(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
