"""Rule unpack_table: one table of events -> every split's features, labels and weights as
Feather files, in one streamed pass. See :func:`hepml.steps.tabular.unpack_table`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import tabular  # noqa: E402 (after the log is set up)

tabular.unpack_table(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
