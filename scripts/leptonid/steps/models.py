"""The training and scoring rules: train_model, train_bdt, tune_model, score_model.

Their inputs arrive as the rule's named inputs: ``{split}`` the split's Feather array files,
and, for a feature set with EFPs, ``{split}_efps`` the split's EFP index.json
(rules/models_functions.smk ``split_inputs``).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

from leptonid import io, training
from leptonid.dataset import SplitInput
from leptonid.settings import BdtSettings, FeatureSet, TrainingSettings, TuningSettings

log = logging.getLogger(__name__)


def split_input(inputs: Mapping, split: str) -> SplitInput:
    """The SplitInput of one split from a rule's named inputs."""
    files = inputs[split]
    files = [files] if isinstance(files, str | Path) else list(files)
    efp_table = inputs.get(f"{split}_efps")
    return SplitInput(tuple(map(str, files)), str(efp_table) if efp_table else None)


def feature_set_from_param(values: Mapping, tuned_network: Mapping | None = None) -> FeatureSet:
    """The FeatureSet of a rule's ``feature_set`` param (FeatureSet.to_dict), optionally with
    tuned network settings merged over its network."""
    values = dict(values)
    name = values.pop("name")
    return FeatureSet.from_config(name, values, None, tuned_network=tuned_network)


def train_model(
    inputs: Mapping,
    outputs: Mapping,
    settings: Mapping,
    threads: int,
) -> dict:
    """Fit one feature set's network on train, early-stopping on valid (resumes from its
    checkpoint). inputs: train, valid (+ *_efps, tuned); outputs: model, preprocess, history,
    info; settings: the rule's params (feature_set, training, seed, checkpoint_dir)."""
    import yaml

    tuned = None
    if inputs.get("tuned"):
        tuned = yaml.safe_load(Path(inputs["tuned"]).read_text())["network"]
        log.info("tuned network settings from %s: %s", inputs["tuned"], tuned)
    return training.run_training(
        split_input(inputs, "train"),
        split_input(inputs, "valid"),
        feature_set_from_param(settings["feature_set"], tuned),
        TrainingSettings.from_config(settings["training"]),
        int(settings["seed"]),
        training.ModelFiles(
            model=Path(outputs["model"]),
            preprocess=Path(outputs["preprocess"]),
            history=Path(outputs["history"]),
            info=Path(outputs["info"]),
        ),
        str(settings["checkpoint_dir"]),
        threads=int(threads),
    )


def train_bdt(inputs: Mapping, outputs: Mapping, settings: Mapping, threads: int) -> dict:
    """The BDT baseline on train, early-stopped on valid -> trees.npz, history, train_info."""
    return training.run_bdt(
        split_input(inputs, "train"),
        split_input(inputs, "valid"),
        feature_set_from_param(settings["feature_set"]),
        BdtSettings.from_config(settings["bdt"]),
        int(settings["seed"]),
        trees_path=str(outputs["trees"]),
        history_path=str(outputs["history"]),
        info_path=str(outputs["info"]),
        threads=int(threads),
    )


def tune_model(inputs: Mapping, outputs: Mapping, settings: Mapping, threads: int) -> dict:
    """Optuna search on train/valid -> tuned network settings (YAML) and the trial table."""
    return training.run_tuning(
        split_input(inputs, "train"),
        split_input(inputs, "valid"),
        feature_set_from_param(settings["feature_set"]),
        TrainingSettings.from_config(settings["training"]),
        TuningSettings.from_config(settings["tuning"]),
        int(settings["seed"]),
        tuned_path=str(outputs["tuned"]),
        trials_path=str(outputs["trials"]),
        threads=int(threads),
    )


def score_model(
    inputs: Mapping, split: str, settings: Mapping, out_path: str | Path, threads: int
) -> None:
    """Scores (y, score, weight) of a trained network or BDT on one split."""
    feature_set = feature_set_from_param(settings["feature_set"])
    data = split_input(inputs, split)
    if settings["model"] == "bdt":
        scores = training.score_bdt(inputs["trees"], data, feature_set)
    else:
        scores = training.score_network(
            inputs["model"], inputs["preprocess"], data, feature_set, threads=int(threads)
        )
    io.write_table(scores, out_path)
