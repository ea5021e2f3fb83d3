"""Rule simulate_dataset: the built-in simulator of the dataset's kind writes data.h5 and
unscaled_data.h5. See :func:`hepml.steps.data.simulate_dataset`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import data  # noqa: E402 (after the log is set up)

data.simulate_dataset(
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
