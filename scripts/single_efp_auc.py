"""Rule single_efp_auc: the AUC of every kept EFP alone on the test split."""

import logging

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

from leptonid import efp  # noqa: E402 (after the log is set up)

efp.run_single_auc(
    test_path=str(snakemake.input.test),
    kept_path=str(snakemake.input.kept),
    y_path=str(snakemake.input.y),
    weight_path=str(snakemake.input.weight),
    out_path=str(snakemake.output.table),
)
