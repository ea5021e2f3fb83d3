"""Rule train_model: fit one feature set's network (resuming from its checkpoint if any).

The fit loop, checkpoints and files live in :func:`leptonid.training.run_training`.
"""

import logging
from pathlib import Path

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

import yaml  # noqa: E402 (after the log is set up)
from leptonid import training  # noqa: E402
from leptonid.settings import FeatureSet, TrainingSettings  # noqa: E402

settings = snakemake.params.settings
tuned = None
if "tuned" in snakemake.input.keys():
    tuned = yaml.safe_load(Path(snakemake.input.tuned).read_text())["network"]
    logging.info("tuned network settings from %s: %s", snakemake.input.tuned, tuned)
feature_set = FeatureSet.from_config(
    str(settings["feature_set"]),
    settings["feature_set_config"],
    settings["network_defaults"],
    tuned_network=tuned,
)
training.run_training(
    feather_dir=str(settings["feather_dir"]),
    feature_set=feature_set,
    settings=TrainingSettings.from_config(settings["training"]),
    seed=int(settings["seed"]),
    files=training.ModelFiles(
        model=Path(snakemake.output.model),
        preprocess=Path(snakemake.output.preprocess),
        history=Path(snakemake.output.history),
        info=Path(snakemake.output.info),
    ),
    checkpoint_dir=str(settings["checkpoint_dir"]),
    efp_dir=str(settings["efp_dir"]),
    threads=int(snakemake.threads),
)
