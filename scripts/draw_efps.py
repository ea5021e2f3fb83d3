"""Rule draw_efps: the multigraph of one EFP, given by its canonical name.

See :func:`hepml.steps.efp.draw_efps`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import efp  # noqa: E402 (after the log is set up)

efp.draw_efps(
    outputs=dict(snakemake.output.items()),
    efp=str(snakemake.wildcards.efp),
)
