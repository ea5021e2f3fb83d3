"""Rule deduplicate_efps: EFPs identical on the train split -> duplicates.csv, kept.txt."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import efp  # noqa: E402 (after the log is set up)

efp.deduplicate_efps(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
