"""Rule gather_efps: the chunk tables of one split, in order, into one EFP table."""

import logging

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

from leptonid import efp  # noqa: E402 (after the log is set up)

efp.run_gather(
    chunk_paths=[str(path) for path in snakemake.input.chunks],
    settings=efp.EFPSettings.from_config(snakemake.params.settings),
    reference_path=str(snakemake.input.reference),
    out_path=str(snakemake.output.table),
)
