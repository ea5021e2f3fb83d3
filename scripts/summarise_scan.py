"""Rule summarise_scan: the table of one guided scan (one row per trained pass), CSV and
markdown. See :func:`hepml.steps.guided.summarise_scan`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import guided  # noqa: E402 (after the log is set up)

guided.summarise_scan(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    scan=str(snakemake.wildcards.scan),
)
