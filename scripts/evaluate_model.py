"""Rule evaluate_model: AUC with a bootstrap interval, background rejection and the collapse
check of one model on the test split. See :func:`leptonid.metrics.run_evaluation`.
"""

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from leptonid import metrics  # noqa: E402 (after the log is set up)
from leptonid.settings import EvaluationSettings  # noqa: E402

settings = snakemake.params.settings
metrics.run_evaluation(
    predictions_path=str(snakemake.input.scores),
    info_path=str(snakemake.input.info),
    out_path=str(snakemake.output.metrics),
    name=str(settings["name"]),
    model=str(settings["model"]),
    settings=EvaluationSettings.from_config(settings["evaluation"]),
    seed=int(settings["seed"]),
)
