"""Rule recompute_hl: the 7 HL features recomputed from the unpacked images of every split,
compared with the file's own hl (median and max relative deviation per feature). See
:func:`hepml.steps.data.recompute_hl`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import data  # noqa: E402 (after the log is set up)

data.recompute_hl(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
