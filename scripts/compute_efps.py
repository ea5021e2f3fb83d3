"""Rule compute_efps: the EFPs of one chunk (an event range) of one split.

The engine lives in :mod:`hepml.efp.engine`, the table layout in :mod:`hepml.io.efp_store`, the
step in :func:`hepml.steps.efp.compute_efps`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import efp  # noqa: E402 (after the log is set up)

efp.compute_efps(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    chunk=str(snakemake.wildcards.chunk),
    threads=int(snakemake.threads),
)
