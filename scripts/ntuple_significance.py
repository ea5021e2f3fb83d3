"""Rule ntuple_significance: the significance against the score cut; the cut chosen on valid,
measured on test. See :func:`hepml.steps.ntuple_figures.ntuple_significance`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import ntuple_figures  # noqa: E402 (after the log is set up)

ntuple_figures.ntuple_significance(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    dataset=str(snakemake.wildcards.dataset),
    name=str(snakemake.wildcards.name),
)
