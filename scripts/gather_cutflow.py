"""Rule gather_cutflow: every sample's cut-flow -> results/{dataset}/summary/cutflow.{csv,md}.
See :func:`hepml.steps.ntuples.gather_cutflow`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import ntuples  # noqa: E402 (after the log is set up)

ntuples.gather_cutflow(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
)
