"""Rule train_bdt: boosted decision tree on a flat feature set; trains and scores the test
split in one job (no pickle: the model is not kept). See :func:`leptonid.training.run_bdt`.
"""

import logging

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

from leptonid import training  # noqa: E402 (after the log is set up)
from leptonid.settings import FeatureSet, TrainingSettings  # noqa: E402

settings = snakemake.params.settings
training.run_bdt(
    feather_dir=str(settings["feather_dir"]),
    feature_set=FeatureSet.from_config(
        str(settings["feature_set"]), settings["feature_set_config"], settings["network_defaults"]
    ),
    settings=TrainingSettings.from_config(settings["training"]).bdt,
    seed=int(settings["bdt_seed"]),
    predictions_path=str(snakemake.output.predictions),
    history_path=str(snakemake.output.history),
    info_path=str(snakemake.output.info),
    efp_dir=str(settings["efp_dir"]),
    threads=int(snakemake.threads),
)
