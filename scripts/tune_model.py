"""Rule tune_model: optuna TPE search of one feature set's network hyper-parameters.

Writes a YAML fragment (network: ...) that train_model merges when tuning is enabled.
See :func:`leptonid.training.run_tuning`.
"""

import logging

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

from leptonid import training  # noqa: E402 (after the log is set up)
from leptonid.settings import FeatureSet, TrainingSettings, TuningSettings  # noqa: E402

settings = snakemake.params.settings
training.run_tuning(
    feather_dir=str(settings["feather_dir"]),
    feature_set=FeatureSet.from_config(
        str(settings["feature_set"]), settings["feature_set_config"], settings["network_defaults"]
    ),
    settings=TrainingSettings.from_config(settings["training"]),
    tuning=TuningSettings.from_config(settings["tuning"]),
    seed=int(settings["tuning_seed"]),
    tuned_path=str(snakemake.output.tuned),
    trials_path=str(snakemake.output.trials),
    efp_dir=str(settings["efp_dir"]),
    threads=int(snakemake.threads),
)
