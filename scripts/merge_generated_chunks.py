"""Rule merge_generated_chunks: the chunks of a generated dataset -> data.h5, unscaled_data.h5.
See :func:`hepml.steps.data.merge_generated_chunks`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import data  # noqa: E402 (after the log is set up)

data.merge_generated_chunks(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
