"""Rule deduplicate_efps: EFPs identical on the train split -> duplicates.csv, kept.txt."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.efp.settings import EFPSettings  # noqa: E402 (after the log is set up)
from hepml.steps import efp as steps  # noqa: E402

steps.deduplicate_efps(
    train_index=str(snakemake.input.train_efps),
    settings=EFPSettings.from_config(snakemake.params.settings),
    seed=int(snakemake.params.seed),
    duplicates_path=str(snakemake.output.duplicates),
    kept_path=str(snakemake.output.kept),
)
