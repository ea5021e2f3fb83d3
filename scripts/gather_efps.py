"""Rule gather_efps: check the chunks of one split and write its EFP table index (no copy)."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.efp.settings import EFPSettings  # noqa: E402 (after the log is set up)
from hepml.steps import efp as steps  # noqa: E402

steps.gather_efps(
    chunk_dirs=[str(path) for path in snakemake.input.chunks],
    settings=EFPSettings.from_config(snakemake.params.settings),
    reference_path=str(snakemake.input.reference),
    index_path=str(snakemake.output.index),
)
