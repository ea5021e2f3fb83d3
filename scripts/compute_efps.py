"""Rule compute_efps: the EFPs of one chunk (an event range) of one split.

The engine lives in :mod:`hepml.efp.engine`, the table layout in :mod:`hepml.efp_store`, the
step in :func:`hepml.steps.efp.compute_efps`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.efp.settings import EFPSettings  # noqa: E402 (after the log is set up)
from hepml.steps import efp as steps  # noqa: E402

settings = EFPSettings.from_config(snakemake.params.settings)
steps.compute_efps(
    image_paths={key: str(snakemake.input[key]) for key in settings.images},
    settings=settings,
    chunk=int(snakemake.wildcards.chunk),
    out_dir=str(snakemake.output.chunk),
    threads=int(snakemake.threads),
)
