"""Rule merge_generated_jets: the generated chunks of a jets dataset -> the benchmark's
train.h5, val.h5 and test.h5. See :func:`hepml.steps.jets.merge_generated_jets`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import jets  # noqa: E402 (after the log is set up)

jets.merge_generated_jets(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
