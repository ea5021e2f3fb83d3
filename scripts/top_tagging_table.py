"""Rule top_tagging_table: AUC and background rejection at 30 % and 50 % signal efficiency per
model, beside the benchmark paper's values. See :func:`hepml.steps.jets.top_tagging_table`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import jets  # noqa: E402 (after the log is set up)

jets.top_tagging_table(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
