"""Rule compute_efps: the EFPs of one chunk (an event range) of one split.

The engine and the table layout live in :mod:`leptonid.efp` (``run_compute_chunk``).
"""

import logging

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

from leptonid import efp  # noqa: E402 (after the log is set up)

settings = efp.EFPSettings.from_config(snakemake.params.settings)
efp.run_compute_chunk(
    image_paths={key: str(snakemake.input[key]) for key in settings.images},
    settings=settings,
    chunk=int(snakemake.wildcards.chunk),
    out_path=str(snakemake.output.chunk),
    threads=int(snakemake.threads),
)
