"""Rule draw_efps: the multigraph of one EFP, given by its canonical name."""

import logging

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

from leptonid import plots_efp  # noqa: E402 (after the log is set up)

plots_efp.run_draw_efp(name=str(snakemake.wildcards.efp), out_path=str(snakemake.output.figure))
