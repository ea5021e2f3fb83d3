"""Optional optuna TPE search of a feature set's network hyper-parameters on train/valid
(docs/reference.md "Networks" ranges). Arrays in, the best settings and the trial table out;
``leptonid.steps.models.tune_model`` writes them."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd

from leptonid import metrics
from leptonid.dataset import input_names
from leptonid.models.networks import build_model, compile_model
from leptonid.settings import FeatureSet, NetworkSettings, TrainingSettings, TuningSettings
from leptonid.training.fit import seed_everything, xyw
from leptonid.training.preprocess import Preprocessor

log = logging.getLogger(__name__)


def _score_eagerly(model, x: Mapping[str, np.ndarray], batch: int = 4096) -> np.ndarray:
    """(N,) scores from direct model calls in chunks: no predict-function tracing per trial."""
    n = len(next(iter(x.values())))
    chunks = [
        np.asarray(model({k: v[i : i + batch] for k, v in x.items()}, training=False))
        for i in range(0, n, batch)
    ]
    return np.concatenate(chunks).reshape(-1).astype(np.float64)


def tune_network(
    train: Mapping[str, np.ndarray],
    valid: Mapping[str, np.ndarray],
    feature_set: FeatureSet,
    settings: TrainingSettings,
    tuning: TuningSettings,
    seed: int,
) -> tuple[dict, pd.DataFrame]:
    """Optuna TPE search (seeded) over docs/reference.md's ranges; objective: weighted valid AUC.

    Each trial trains ``tuning.epochs`` epochs (no early stopping). Returns (best network
    settings, one row per trial with its parameters and valid AUC). Conv settings are only
    searched for feature sets with image inputs; dense layers range 1-3 (CNN) or 1-8 (DNN).
    """
    import keras
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = input_names(feature_set.inputs, feature_set.efps)
    preprocessor = Preprocessor.fit(train, names)
    x_train, y_train, w_train = xyw(train, preprocessor)
    x_valid, y_valid, w_valid = xyw(valid, preprocessor)
    has_images = any(spec.is_image for spec in preprocessor.specs)
    space = tuning.space

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
            x_train,
            y_train,
            sample_weight=w_train,
            batch_size=settings.batch_size,
            epochs=tuning.epochs,
            shuffle=True,
            verbose=0,
        )
        score = _score_eagerly(model, x_valid)
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
