"""Boosted decision trees on the flat inputs, every kind's one tree backend: LightGBM.

``train_bdt`` fits LightGBM's histogram gradient boosting (binary log-loss, per-event weights)
on the train split, early-stopped on the valid split's weighted log-loss, and returns the model
in LightGBM's own text format (``Booster.model_to_string``: every tree's splits and leaf
values as text, no pickle), truncated to the best iteration. ``predict_text`` loads that text
and scores any split, a later job (score_model): the decision (train and valid) stays apart
from the measurement (test).

Reproducible: the fit is seeded (``seed`` sets LightGBM's data, bagging and feature seeds),
``deterministic`` and ``force_row_wise`` fix the order of its floating-point sums, and the
thread count is fixed by the rule; tests check that two fits give the same text.

Two models share the code: ``bdt`` (settings ``training.bdt``) and ``gbdt`` (``training.gbdt``,
the tabular kind's modern anchor); docs/tabular.md "Models" maps each setting to LightGBM's
parameter and gives the values of both.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hepml.io.dataset import LABEL, WEIGHT, input_names
from hepml.io.tabular import TableRows
from hepml.settings import BdtSettings, FeatureSet

log = logging.getLogger(__name__)

# The training loss of the history is measured on at most this many training events (a seeded
# subsample, as scikit-learn's early stopping did): the full split would double the fit's time.
HISTORY_TRAIN_EVENTS = 10_000
PREDICT_BLOCK_EVENTS = 1 << 18  # rows scored at a time by predict_text


def flat_matrix(
    arrays: Mapping[str, np.ndarray], names: Sequence[str], dtype=np.float32
) -> np.ndarray:
    """(N, n_features) array of the flat inputs ``names`` side by side, in order (float32:
    10.5M events x 28 features are 1.2 GB, half of float64)."""
    columns = [
        np.asarray(arrays[name], dtype=dtype).reshape(len(arrays[name]), -1) for name in names
    ]
    return columns[0] if len(columns) == 1 else np.concatenate(columns, axis=1)


def feature_rows(arrays: Mapping[str, np.ndarray], names: Sequence[str]):
    """The (N, n_features) rows of the flat inputs ``names``: the input itself when it is the
    one input read in blocks of rows (``io.TableRows``, a tabular feature set loaded on
    demand: never held whole), else :func:`flat_matrix`."""
    if len(names) == 1 and isinstance(arrays[names[0]], TableRows):
        return arrays[names[0]]
    return flat_matrix(arrays, names)


def lightgbm_data(rows):
    """What ``lightgbm.Dataset`` is built from: an array as it is, ``io.TableRows`` as a
    ``lightgbm.Sequence`` (LightGBM draws its bin sample row by row with its seeded sample
    indices, then pushes the rows a block at a time and keeps only its binned copy, about 1
    byte per value; the model text is the array path's, tests/test_training.py)."""
    if not isinstance(rows, TableRows):
        return rows
    import lightgbm

    class Rows(lightgbm.Sequence):
        batch_size = rows.block_rows

        def __len__(self) -> int:
            return len(rows)

        def __getitem__(self, index):
            # a single row is one of LightGBM's bin sample, which it wants as float64
            return rows[index].astype(np.float64) if np.isscalar(index) else rows[index]

    return Rows()


def data_random_seed(seed: int) -> int:
    """The ``data_random_seed`` LightGBM derives from ``seed`` (Config::Set: the first
    ``Random(seed).NextShort(0, 32767)``, include/LightGBM/utils/random.h), given explicitly:
    a Dataset built from a ``lightgbm.Sequence`` draws its bin sample in Python with only the
    Dataset's parameters, which omit ``seed``, so without it the sample (and the bins, above
    ``bin_construct_sample_cnt`` = 200,000 rows) would differ from the array path's."""
    state = (214013 * (int(seed) & 0xFFFFFFFF) + 2531011) & 0xFFFFFFFF
    return ((state >> 16) & 0x7FFF) % 32767


def lightgbm_params(settings: BdtSettings, seed: int, threads: int) -> dict:
    """LightGBM parameters of BdtSettings (docs/tabular.md "Models" has the table)."""
    return {
        "objective": "binary",
        "boosting": "gbdt",
        "metric": "binary_logloss",
        "learning_rate": float(settings.learning_rate),
        "num_leaves": int(settings.max_leaf_nodes),
        "max_depth": -1 if settings.max_depth is None else int(settings.max_depth),
        "min_data_in_leaf": int(settings.min_samples_leaf),
        "max_bin": int(settings.max_bins),
        "lambda_l2": float(settings.l2_regularization),
        "seed": int(seed),
        "data_random_seed": data_random_seed(seed),
        "deterministic": True,
        "force_row_wise": True,
        "num_threads": int(threads),
        "verbosity": -1,
    }


def train_bdt(
    train: Mapping[str, np.ndarray],
    valid: Mapping[str, np.ndarray],
    feature_set: FeatureSet,
    settings: BdtSettings,
    seed: int,
    threads: int = 1,
    model: str = "bdt",
) -> tuple[str, pd.DataFrame, dict]:
    """Boosted trees (``model``: bdt or gbdt) on the flat inputs, early-stopped on valid.

    Returns (the model as LightGBM text; history with iteration, loss (weighted log-loss on
    at most HISTORY_TRAIN_EVENTS seeded training events), val_loss (the valid split's); a
    train_info record). The test split is not seen here: a later job scores it.
    """
    import lightgbm

    if feature_set.image_inputs:
        raise ValueError(f"feature set {feature_set.name!r}: a {model} needs flat inputs only")
    names = input_names(feature_set.inputs, feature_set.efps)
    x_train, x_valid = (feature_rows(a, names) for a in (train, valid))
    y_train, w_train = np.asarray(train[LABEL]), np.asarray(train[WEIGHT], dtype=np.float64)
    params = lightgbm_params(settings, seed, threads)
    data = lightgbm.Dataset(
        lightgbm_data(x_train),
        label=y_train,
        weight=w_train,
        params={"max_bin": params["max_bin"]},
    )
    monitor = np.random.default_rng(int(seed)).permutation(len(x_train))[:HISTORY_TRAIN_EVENTS]
    monitor.sort()
    train_monitor = data.create_valid(
        x_train[monitor], label=y_train[monitor], weight=w_train[monitor]
    )
    valid_data = data.create_valid(
        lightgbm_data(x_valid),
        label=np.asarray(valid[LABEL]),
        weight=np.asarray(valid[WEIGHT], np.float64),
    )
    record: dict = {}
    start = time.perf_counter()
    booster = lightgbm.train(
        params,
        data,
        num_boost_round=int(settings.max_iter),
        valid_sets=[train_monitor, valid_data],
        valid_names=["train", "valid"],
        callbacks=[
            lightgbm.early_stopping(int(settings.n_iter_no_change), verbose=False),
            lightgbm.record_evaluation(record),
        ],
    )
    fit_seconds = time.perf_counter() - start
    best = int(booster.best_iteration) or booster.current_iteration()
    history = pd.DataFrame(
        {
            "iteration": np.arange(1, len(record["valid"]["binary_logloss"]) + 1),
            "loss": record["train"]["binary_logloss"],
            "val_loss": record["valid"]["binary_logloss"],
        }
    )
    run = len(history)
    info = {
        "name": feature_set.names[feature_set.models.index(model)],
        "feature_set": feature_set.name,
        "model": model,
        "architecture": f"LightGBM {lightgbm.__version__} gbdt",
        "n_train": int(len(x_train)),
        "n_valid": int(len(x_valid)),
        "n_features": int(x_train.shape[1]),
        "seed": int(seed),
        "iterations": best,
        "iterations_run": run,
        "best_epoch": best,
        "epochs_run": run,
        "training_time_s": fit_seconds,
        "train_samples_per_s": len(x_train) * run / fit_seconds if fit_seconds > 0 else None,
        "device": f"CPU ({int(threads)} threads)",
        model: dict(vars(settings)),
        "lightgbm": params,
    }
    log.info(
        "%s %s: best iteration %d of %d in %.1f s", model, info["name"], best, run, fit_seconds
    )
    return booster.model_to_string(num_iteration=best), history, info


def predict_text(
    model_text: str, x: np.ndarray, threads: int = 1, source: str = "model"
) -> np.ndarray:
    """(N,) float64 signal probabilities of a LightGBM text model on features x (N, F): an
    array or ``io.TableRows``, scored PREDICT_BLOCK_EVENTS rows at a time (each row's score
    does not depend on the others); ``source`` (the model file) names the model in errors."""
    import lightgbm

    try:
        booster = lightgbm.Booster(model_str=model_text)
    except lightgbm.basic.LightGBMError as error:
        raise ValueError(f"{source}: not a LightGBM text model ({error})") from None
    if booster.num_feature() != x.shape[1]:
        raise ValueError(
            f"{source}: the model was trained on {booster.num_feature()} features, the inputs "
            f"have {x.shape[1]}"
        )
    scores = np.empty(len(x), dtype=np.float64)
    for start in range(0, len(x), PREDICT_BLOCK_EVENTS):
        block = np.asarray(x[start : start + PREDICT_BLOCK_EVENTS])
        scores[start : start + len(block)] = booster.predict(block, num_threads=int(threads))
    return scores
