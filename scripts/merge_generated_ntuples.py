"""Rule merge_generated_ntuples: the chunks of a built-in ntuple sample -> its ROOT file
(tree mini, the open-data layout; docs/ntuples.md "Built-in ntuples").
See :func:`hepml.steps.data.merge_generated_ntuples`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import data  # noqa: E402 (after the log is set up)

data.merge_generated_ntuples(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    sample=str(snakemake.wildcards.sample),
)
