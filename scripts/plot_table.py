"""Rule plot_table: every feature's distribution per class on the valid split. See
:func:`hepml.steps.tabular.plot_table`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import tabular  # noqa: E402 (after the log is set up)

tabular.plot_table(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    dataset=str(snakemake.wildcards.dataset),
)
