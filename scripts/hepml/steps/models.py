"""The training and scoring rules: train_model, train_bdt, tune_model (rules/train.smk) and
score_model (rules/evaluate.smk); plot_history is in ``hepml.steps.evaluate``.

Each reads its splits (``hepml.io.dataset``), calls the training code (``hepml.training``:
preprocessing, fit loop, BDT, tuning) on arrays and writes the model files (``hepml.io``).

Their inputs arrive as the rule's named inputs: ``{split}`` the split's Feather array files,
and, for a feature set with EFPs, ``{split}_efps`` the split's EFP index.json
(rules/train_functions.smk ``split_inputs``).
"""

from __future__ import annotations

import argparse
import logging
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from hepml import io
from hepml.io.dataset import SplitInput, input_names, split_files
from hepml.settings import (
    SEED_OFFSETS,
    TREE_MODELS,
    FeatureSet,
    TrainingSettings,
    TuningSettings,
    tree_settings,
)
from hepml.training import bdt
from hepml.training.outputs import json_safe, score_table

if TYPE_CHECKING:
    from hepml.training.fit import TrainResult

log = logging.getLogger(__name__)


# TensorFlow (~5 CPU-s to import) is loaded by the network rules only: train_bdt,
# train_efp_linear and score_model of a BDT or the linear model import this module too
# (tests/test_architecture.py). These call the network code, imported on first use.
def configure_tensorflow(threads: int, require_gpu: bool = False, mixed_precision: bool = False):
    """``hepml.training.fit.configure_tensorflow``: threads, device, precision."""
    from hepml.training import fit

    return fit.configure_tensorflow(threads, require_gpu, mixed_precision)


def train_network(
    train, valid, feature_set, settings, seed, checkpoint_dir, model_kind=None
) -> TrainResult:
    """``hepml.training.fit.train_network``: the fit loop (checkpoints, resume); model_kind a
    network that is not the feature set's primary one (e.g. ``shallow``)."""
    from hepml.training import fit

    return fit.train_network(
        train, valid, feature_set, settings, seed, checkpoint_dir, model_kind=model_kind
    )


def tune_network(train, valid, feature_set, training, tuning, seed):
    """``hepml.training.tuning.tune_network``: the optuna search."""
    from hepml.training import tuning as optuna_search

    return optuna_search.tune_network(train, valid, feature_set, training, tuning, seed)


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


# The training weights of a source-ntuples dataset (docs/ntuples.md "Weights"), stated in
# train_info.json: the rules pass ``ntuple_weights: {negative_weights: <mode>}`` for such a
# dataset only, and the weight files keep the signed physics weights (the metrics' weights).
NTUPLE_NORMALISATION = (
    "training weights: the signed physics weights through negative_weights, then each class "
    "scaled to sum to half the split's events (TMVA NormMode=EqualNumEvents), on train and valid"
)


def reweighted(arrays: Mapping, ntuple_weights: Mapping | None, split: str) -> Mapping:
    """``arrays`` with ``weight`` replaced by the training weights of a source-ntuples dataset
    (hepml.io.ntuples.class_normalised_weights); unchanged when ``ntuple_weights`` is None."""
    if not ntuple_weights:
        return arrays
    from hepml.io.ntuples import class_normalised_weights

    weight = class_normalised_weights(
        arrays["weight"], arrays["y"], ntuple_weights["negative_weights"], where=f"{split} split"
    )
    return {**arrays, "weight": weight}


def training_weights_info(ntuple_weights: Mapping | None) -> dict:
    """The train_info.json entry stating how the model's training weights were made."""
    if not ntuple_weights:
        return {}
    return {
        "training_weights": {
            "negative_weights": ntuple_weights["negative_weights"],
            "normalisation": "EqualNumEvents",
            "statement": NTUPLE_NORMALISATION,
        }
    }


def train_model(inputs: Mapping, outputs: Mapping, params: Mapping, *, threads: int) -> dict:
    """Fit one feature set's network on train, early-stopping on valid (resumes from its
    checkpoint). inputs: train, valid (+ *_efps, tuned); outputs: model, preprocess, history,
    info; params settings: feature_set, training, seed, checkpoint_dir, and ``model`` for a
    network that is not the set's primary one (e.g. ``shallow``)."""
    import yaml

    settings = params["settings"]

    tuned = None
    if inputs.get("tuned"):
        tuned = yaml.safe_load(Path(inputs["tuned"]).read_text())["network"]
        log.info("tuned network settings from %s: %s", inputs["tuned"], tuned)
    return fit_and_save(
        split_input(inputs, "train"),
        split_input(inputs, "valid"),
        feature_set_from_param(settings["feature_set"], tuned),
        TrainingSettings.from_config(settings["training"]),
        int(settings["seed"]),
        ModelFiles(
            model=Path(outputs["model"]),
            preprocess=Path(outputs["preprocess"]),
            history=Path(outputs["history"]),
            info=Path(outputs["info"]),
        ),
        str(settings["checkpoint_dir"]),
        threads=int(threads),
        model_kind=settings.get("model"),
        ntuple_weights=settings.get("ntuple_weights"),
    )


def train_secondary_network(
    inputs: Mapping, outputs: Mapping, params: Mapping, *, threads: int
) -> dict:
    """train_model for a network listed after the feature set's primary model (params
    settings ``model``, e.g. shallow after dnn): its own result name, files and checkpoints."""
    if not params["settings"].get("model"):
        raise ValueError("train_secondary_network: the rule's params name no model")
    return train_model(inputs, outputs, params, threads=threads)


def train_bdt(inputs: Mapping, outputs: Mapping, params: Mapping, *, threads: int) -> dict:
    """Boosted trees (params settings ``model``: bdt or gbdt, with ``settings[model]`` its
    training.<model> block) on train, early-stopped on valid -> model.txt (LightGBM text),
    history, train_info."""
    settings = params["settings"]
    feature_set = feature_set_from_param(settings["feature_set"])
    model = settings.get("model", "bdt")
    ntuple_weights = settings.get("ntuple_weights")
    # a tabular feature set's columns as io.TableRows: LightGBM's Dataset is built from blocks
    # of rows (bdt.lightgbm_data), the split is never held whole
    arrays = [
        reweighted(
            split_input(inputs, split).load(
                feature_set.inputs, feature_set.efps, on_demand=True, columns=feature_set.columns
            ),
            ntuple_weights,
            split,
        )
        for split in ("train", "valid")
    ]
    text, history, info = bdt.train_bdt(
        *arrays,
        feature_set,
        tree_settings(model, settings.get(model)),
        int(settings["seed"]),
        int(threads),
        model=model,
    )
    info.update(training_weights_info(ntuple_weights))
    io.write_text(outputs["model"], text)
    io.write_text(outputs["history"], history.to_csv(index=False))
    io.write_json(outputs["info"], json_safe(info))
    return info


def train_efp_linear(inputs: Mapping, outputs: Mapping, params: Mapping) -> dict:
    """Fisher's linear discriminant on every kept EFP (hepml.training.linear): fitted on
    train in two streamed passes, its shrinkage chosen on valid -> linear.npz, history.csv
    (the validation AUC of each shrinkage tried), train_info.json.

    inputs: kept (kept.txt), {split} (the split's y and weight files) and {split}_efps (its
    EFP index.json) for train and valid; params settings: linear (LinearSettings).
    """
    from hepml.io.efp_store import EFPTable
    from hepml.steps.efp import read_kept
    from hepml.training.linear import LinearSettings, fit_linear

    settings = params["settings"]

    names = read_kept(inputs["kept"])
    if not names:
        raise ValueError(f"{inputs['kept']}: no kept EFPs to train the linear model on")

    labels = {split: split_input(inputs, split).load([]) for split in ("train", "valid")}

    def blocks(split: str):
        y, weight = labels[split]["y"], labels[split]["weight"]
        table = EFPTable(inputs[f"{split}_efps"])
        if table.n_events != len(y):
            raise ValueError(
                f"{inputs[f'{split}_efps']}: {table.n_events} events, but the {split} split "
                f"has {len(y)}"
            )
        return lambda: ((x, y[rows], weight[rows]) for rows, x in table.iter_chunks(names))

    started = time.perf_counter()
    model, history = fit_linear(
        names, blocks("train"), blocks("valid"), LinearSettings.from_config(settings["linear"])
    )
    seconds = time.perf_counter() - started
    n_train = len(labels["train"]["y"])
    log.info(
        "linear discriminant on %d EFPs: shrinkage %g chosen on valid (AUC %.4f)",
        len(names), model.shrinkage, max(entry["valid_auc"] for entry in history),
    )  # fmt: skip
    info = {
        "model": "linear",
        "inputs": len(names),
        "shrinkage": model.shrinkage,
        "device": "CPU (numpy)",
        "training_time_s": seconds,
        "train_samples_per_s": 2 * n_train / seconds if seconds > 0 else None,
        "epochs_run": 2,  # two passes over train: moments, then scatter
        "best_epoch": None,
    }
    io.write_npz(outputs["linear"], model.to_arrays())
    io.write_text(outputs["history"], pd.DataFrame(history).to_csv(index=False))
    io.write_json(outputs["info"], json_safe(info))
    return info


def tune_model(inputs: Mapping, outputs: Mapping, params: Mapping, *, threads: int) -> dict:
    """Optuna search on train/valid -> the best network settings as a YAML config fragment
    (``network: {...}``, read by train_model) and the trial table (params settings:
    feature_set, training, tuning, seed)."""
    import yaml

    settings = params["settings"]

    feature_set = feature_set_from_param(settings["feature_set"])
    training = TrainingSettings.from_config(settings["training"])
    tuning = TuningSettings.from_config(settings["tuning"])
    seed = int(settings["seed"])
    configure_tensorflow(int(threads), training.require_gpu, training.mixed_precision)
    # images as io.ArrayRows: every trial streams batches (hepml.training.tuning)
    train_arrays, valid_arrays = (
        reweighted(
            split_input(inputs, split).load(
                feature_set.inputs, feature_set.efps, on_demand=True, columns=feature_set.columns
            ),
            settings.get("ntuple_weights"),
            split,
        )
        for split in ("train", "valid")
    )
    best, trials = tune_network(train_arrays, valid_arrays, feature_set, training, tuning, seed)
    network = {key: value for key, value in best.items() if key != "valid_auc"}
    capped = f" of at most {tuning.max_batches} batches" if tuning.max_batches else ""
    header = (
        f"# optuna TPE search (seed {seed}) for feature set {feature_set.name}: "
        f"{tuning.n_trials} trials of {tuning.epochs} epoch(s){capped}, ranges of "
        f'docs/reference.md "Networks"; best valid AUC {best["valid_auc"]:.4f}.\n'
        "# train_model merges this over the feature set's network when tuning is enabled.\n"
    )
    io.write_text(outputs["tuned"], header + yaml.safe_dump({"network": network}))
    io.write_text(outputs["trials"], trials.to_csv(index=False))
    return best


def score_model(
    inputs: Mapping, outputs: Mapping, params: Mapping, *, split: str, threads: int
) -> pd.DataFrame:
    """Scores (y, score, weight) of a trained network, BDT or linear EFP model on one split
    (outputs scores; params settings: feature_set, model)."""
    settings, out_path = params["settings"], str(outputs["scores"])
    data = split_input(inputs, split)
    if settings["model"] == "linear":  # every kept EFP, the names in the model file
        from hepml.io.efp_store import EFPTable
        from hepml.training.linear import LinearModel

        model = LinearModel.from_arrays(io.read_npz(inputs["linear"]))
        table = EFPTable(inputs[f"{split}_efps"])
        values = [model.score(x) for _, x in table.iter_chunks(model.names)]
        scores = score_table(data.load([]), np.concatenate(values))
        io.write_table(scores, out_path)
        return scores
    feature_set = feature_set_from_param(settings["feature_set"])
    if settings["model"] in TREE_MODELS:
        arrays = data.load(
            feature_set.inputs, feature_set.efps, on_demand=True, columns=feature_set.columns
        )
        x = bdt.feature_rows(arrays, input_names(feature_set.inputs, feature_set.efps))
        text = io.read_text(inputs["trees"])
        scores = score_table(
            arrays, bdt.predict_text(text, x, int(threads), source=str(inputs["trees"]))
        )
    else:
        from hepml.training.fit import predict_scores

        configure_tensorflow(int(threads))
        arrays = data.load(
            feature_set.inputs, feature_set.efps, on_demand=True, columns=feature_set.columns
        )
        model, preprocessor = load_model(inputs["model"], inputs["preprocess"])
        scores = score_table(arrays, predict_scores(model, preprocessor, arrays))
    io.write_table(scores, out_path)
    return scores


@dataclass(frozen=True)
class ModelFiles:
    """Where train_model writes: results/{dataset}/models/{feature_set}/..."""

    model: Path
    preprocess: Path
    history: Path
    info: Path


def save_result(result: TrainResult, files: ModelFiles) -> None:
    """Write model.keras, preprocess.json, history.csv and train_info.json (each atomically)."""
    from hepml.training.fit import save_model

    files.model.parent.mkdir(parents=True, exist_ok=True)
    save_model(result.model, files.model)
    io.write_json(files.preprocess, result.preprocessor.to_dict())
    io.write_text(files.history, result.history.to_csv(index=False))
    io.write_json(files.info, json_safe(result.info))


def load_model(model_path: str | Path, preprocess_path: str | Path):
    """(keras model, Preprocessor) saved by save_result."""
    import keras

    from hepml.training.preprocess import Preprocessor

    model = keras.models.load_model(model_path)
    preprocessor = Preprocessor.from_dict(io.read_json(preprocess_path))
    return model, preprocessor


def fit_and_save(
    train: SplitInput,
    valid: SplitInput,
    feature_set: FeatureSet,
    settings: TrainingSettings,
    seed: int,
    files: ModelFiles,
    checkpoint_dir: str | Path,
    threads: int | None = None,
    model_kind: str | None = None,
    ntuple_weights: Mapping | None = None,
) -> dict:
    """Load train/valid, fit (resuming), write the files: train_model and the command line
    (`main`). model_kind: a network of the set other than its primary one (``shallow``);
    ntuple_weights: a source-ntuples dataset's training weights (:func:`reweighted`).

    The checkpoint directory is kept: Snakemake may still mark the outputs incomplete (Ctrl-C
    to the workflow waits for this job, then does), and its rerun writes the same outputs from
    the finished checkpoint without training (``hepml.training.fit``); the next run with
    other settings or data replaces it. Returns the train_info record (also written to
    ``files.info``).
    """
    device = configure_tensorflow(
        threads or settings.threads, settings.require_gpu, settings.mixed_precision
    )
    log.info("device: %s", device["device"])
    train_arrays, valid_arrays = (
        reweighted(
            split.load(
                feature_set.inputs, feature_set.efps, on_demand=True, columns=feature_set.columns
            ),
            ntuple_weights,
            name,
        )
        for split, name in ((train, "train"), (valid, "valid"))
    )
    result = train_network(
        train_arrays, valid_arrays, feature_set, settings, seed, checkpoint_dir,
        model_kind=model_kind,
    )  # fmt: skip
    result.info.update(device=device["device"], device_info=device)
    result.info.update(training_weights_info(ntuple_weights))
    result.info["training"] = {**result.info["training"], "threads": device["threads"]}
    save_result(result, files)
    return result.info


def main(argv: Sequence[str] | None = None) -> int:
    """Train one feature set outside Snakemake (the same entry the train_model rule calls).

    python -m hepml.steps.models --config config/config.yaml --dataset electrons
        --feature-set hl --feather-dir results/electrons/feather --out-dir DIR
        --checkpoint-dir DIR
    """
    import yaml

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--feature-set", required=True)
    parser.add_argument("--feather-dir", required=True, type=Path)
    parser.add_argument("--efp-dir", type=Path)
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--checkpoint-dir", required=True, type=Path)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    config = yaml.safe_load(args.config.read_text())
    dataset = config["datasets"][args.dataset]
    feature_set = FeatureSet.from_config(
        args.feature_set, dataset["feature_sets"][args.feature_set], dataset.get("network_defaults")
    )
    files = ModelFiles(
        args.out_dir / "model.keras",
        args.out_dir / "preprocess.json",
        args.out_dir / "history.csv",
        args.out_dir / "train_info.json",
    )
    keys = feature_set.inputs
    efp_tables = {
        split: str(args.efp_dir / split / "index.json") if args.efp_dir else None
        for split in ("train", "valid")
    }
    fit_and_save(
        SplitInput(
            tuple(map(str, split_files(args.feather_dir, "train", keys))), efp_tables["train"]
        ),
        SplitInput(
            tuple(map(str, split_files(args.feather_dir, "valid", keys))), efp_tables["valid"]
        ),
        feature_set,
        TrainingSettings.from_config(config["training"]),
        int(config["seed"]) + SEED_OFFSETS["training"],
        files,
        args.checkpoint_dir,
        threads=args.threads,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
