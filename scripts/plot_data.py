"""Rule plot_data: class-average images and feature distributions of the train split.

See :func:`hepml.steps.data.plot_data`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import data  # noqa: E402 (after the log is set up)

data.plot_data(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    dataset=str(snakemake.wildcards.dataset),
)
