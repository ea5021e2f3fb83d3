"""Rule draw_efp_gallery: the graphs of the best single-EFP AUCs, one report item each.

See :func:`hepml.steps.efp.draw_efp_gallery`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import efp  # noqa: E402 (after the log is set up)

efp.draw_efp_gallery(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
