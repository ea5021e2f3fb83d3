"""Rule ntuple_ranking: permutation importance of the model's variables on the validation split.
See :func:`hepml.steps.ntuple_figures.ntuple_ranking`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import ntuple_figures  # noqa: E402 (after the log is set up)

ntuple_figures.ntuple_ranking(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    dataset=str(snakemake.wildcards.dataset),
    name=str(snakemake.wildcards.name),
)
