"""Optional optuna TPE search of a feature set's network hyper-parameters on train/valid
(docs/reference.md "Networks" ranges). Arrays in, the best settings and the trial table out;
``hepml.steps.models.tune_model`` writes them.

Memory: the splits are streamed as in training (``hepml.training.fit``): each trial fits on
batches read from the arrays (``io.ArrayRows`` for images) and scaled one at a time, and scores
valid in blocks of ``SCORE_BLOCK_EVENTS`` events, so a tuning job holds a few batches and one
block of model inputs, never a whole split (docs/cluster.md "Memory")."""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from hepml import metrics
from hepml.io.dataset import LABEL, WEIGHT, input_names
from hepml.models.networks import build_model, compile_model
from hepml.settings import FeatureSet, NetworkSettings, TrainingSettings, TuningSettings
from hepml.training.fit import (
    PREDICT_BATCH,
    PREDICT_BLOCK_EVENTS,
    seed_everything,
    training_batches,
)
from hepml.training.preprocess import Preprocessor

log = logging.getLogger(__name__)

SCORE_BLOCK_EVENTS = PREDICT_BLOCK_EVENTS  # valid events read and scaled at a time


def _score_eagerly(model, x: Mapping[str, np.ndarray], batch: int = PREDICT_BATCH) -> np.ndarray:
    """(N,) scores from direct model calls in chunks: no predict-function tracing per trial."""
    n = len(next(iter(x.values())))
    chunks = [
        np.asarray(model({k: v[i : i + batch] for k, v in x.items()}, training=False))
        for i in range(0, n, batch)
    ]
    return np.concatenate(chunks).reshape(-1).astype(np.float64)


def score_streamed(
    model, preprocessor: Preprocessor, arrays: Mapping[str, np.ndarray]
) -> np.ndarray:
    """(N,) scores of load_split arrays, read and scaled SCORE_BLOCK_EVENTS events at a time."""
    names = [spec.name for spec in preprocessor.specs]
    n = len(arrays[LABEL])
    scores = np.empty(n, dtype=np.float64)
    for start in range(0, n, SCORE_BLOCK_EVENTS):
        block = {name: arrays[name][start : start + SCORE_BLOCK_EVENTS] for name in names}
        values = _score_eagerly(model, preprocessor.transform(block))
        scores[start : start + len(values)] = values
    return scores


def tune_network(
    train: Mapping[str, np.ndarray],
    valid: Mapping[str, np.ndarray],
    feature_set: FeatureSet,
    settings: TrainingSettings,
    tuning: TuningSettings,
    seed: int,
) -> tuple[dict, pd.DataFrame]:
    """Optuna TPE search (seeded) over docs/reference.md's ranges; objective: weighted valid AUC.

    train/valid: load_split dicts; images may be ``io.ArrayRows`` (load_split on_demand): every
    trial streams them (module docstring). Each trial trains ``tuning.epochs`` epochs (no early
    stopping) on the batches of ``hepml.training.fit`` (batch_size, events shuffled anew each
    epoch from ``seed + trial number``), at most ``tuning.max_batches`` batches per epoch when
    set. Returns (best network settings, one row per trial with its parameters and valid AUC).
    Conv settings are only searched for feature sets with image inputs; dense layers range 1-3
    (CNN) or 1-8 (DNN).
    """
    import keras
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = input_names(feature_set.inputs, feature_set.efps)
    preprocessor = Preprocessor.fit(train, names)  # images in blocks of events
    y_valid = np.asarray(valid[LABEL], dtype=np.float32)
    w_valid = np.asarray(valid[WEIGHT], dtype=np.float32)
    has_images = any(spec.is_image for spec in preprocessor.specs)
    space = tuning.space
    batches_per_epoch = math.ceil(len(train[LABEL]) / settings.batch_size)
    if tuning.max_batches is not None:
        batches_per_epoch = min(batches_per_epoch, tuning.max_batches)

    def suggest(trial) -> dict:
        values = {}
        if has_images:
            values["conv_blocks"] = trial.suggest_int("conv_blocks", *space.conv_blocks)
            values["filters"] = trial.suggest_int("filters", *space.filters, log=True)
        dense = space.dense_layers_cnn if has_images else space.dense_layers_dnn
        values["dense_layers"] = trial.suggest_int("dense_layers", *dense)
        values["units"] = trial.suggest_int("units", *space.units, log=True)
        values["learning_rate"] = trial.suggest_float(
            "learning_rate", *space.learning_rate, log=True
        )
        values["dropout"] = trial.suggest_float("dropout", *space.dropout)
        return values

    def objective(trial) -> float:
        values = suggest(trial)
        network = NetworkSettings.from_config(feature_set.network.to_dict(), values)
        keras.backend.clear_session()
        seed_everything(seed + trial.number)
        model = compile_model(
            build_model(feature_set.primary_model, preprocessor.specs, network),
            network.learning_rate,
        )
        model.fit(
            training_batches(train, preprocessor, settings.batch_size, seed=seed + trial.number),
            epochs=tuning.epochs,
            steps_per_epoch=batches_per_epoch,
            verbose=0,
        )
        score = score_streamed(model, preprocessor, valid)
        if not np.isfinite(score).all() or np.ptp(score) == 0:
            value = 0.5
        else:
            value = metrics.auc(y_valid, score, w_valid)
        log.info(
            "trial %d/%d: valid AUC %.4f with %s", trial.number + 1, tuning.n_trials, value, values
        )
        return value

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=int(seed))
    )
    study.optimize(objective, n_trials=tuning.n_trials)
    trials = study.trials_dataframe(attrs=("number", "value", "params"))
    best = {**study.best_params, "valid_auc": float(study.best_value)}
    return best, trials
