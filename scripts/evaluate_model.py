"""Rule evaluate_model: AUC with a bootstrap interval, background rejection and the collapse
check of one model on the test split. See :func:`leptonid.metrics.run_evaluation`.
"""

import logging

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

from leptonid import metrics  # noqa: E402 (after the log is set up)
from leptonid.settings import EvaluationSettings  # noqa: E402

settings = snakemake.params.settings
metrics.run_evaluation(
    predictions_path=str(snakemake.input.predictions),
    info_path=str(snakemake.input.info),
    out_path=str(snakemake.output.metrics),
    name=str(settings["name"]),
    model=str(settings["model"]),
    settings=EvaluationSettings.from_config(settings["evaluation"]),
    seed=int(settings["seed"]),
)
