"""Rule deduplicate_efps: EFPs identical on the train split -> duplicates.csv, kept.txt."""

import logging

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

from leptonid import efp  # noqa: E402 (after the log is set up)

efp.run_deduplicate(
    train_path=str(snakemake.input.train),
    settings=efp.EFPSettings.from_config(snakemake.params.settings),
    seed=int(snakemake.params.seed),
    duplicates_path=str(snakemake.output.duplicates),
    kept_path=str(snakemake.output.kept),
)
