"""Rule merge_generated_table: the generated chunks of a tabular dataset -> HIGGS.csv.gz in
the UCI layout and its scaling record. See :func:`hepml.steps.data.merge_generated_table`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import data  # noqa: E402 (after the log is set up)

data.merge_generated_table(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
