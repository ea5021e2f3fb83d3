"""The BDT baseline: its fit on the flat inputs (``train_bdt``) and its trees as plain arrays,
a fitted model saved without pickle.

scikit-learn's HistGradientBoostingClassifier can only be saved by pickling it. The workflow
keeps the decision (train_bdt, on train and valid) apart from the measurement (scoring the
test split, a later job), so the fitted trees are exported to arrays (``export_trees``),
written as an ``.npz`` file of plain numeric arrays (``hepml.io``), and evaluated by
``predict_trees``, which follows the same rule as scikit-learn's predictor: at a split node an
event goes left when its feature is <= the threshold, or when it is NaN and the node sends
missing values left; the raw score is the baseline plus the leaf values of every tree, and
the probability its logistic function. Tests check equality with ``predict_proba``.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hepml.io.dataset import LABEL, WEIGHT, input_names
from hepml.settings import BdtSettings, FeatureSet

log = logging.getLogger(__name__)

NODE_FIELDS = (
    "value",
    "feature_idx",
    "num_threshold",
    "missing_go_to_left",
    "left",
    "right",
    "is_leaf",
)


def export_trees(classifier) -> dict[str, np.ndarray]:
    """Arrays of a fitted binary HistGradientBoostingClassifier (numerical features only).

    Returns node fields concatenated over trees (node indices made global), ``roots`` (T,)
    the first node of each tree and ``baseline`` (1,) the raw baseline score.
    """
    if classifier.n_trees_per_iteration_ != 1:
        raise ValueError("export_trees: only binary classifiers are supported")
    trees = [predictors[0] for predictors in classifier._predictors]
    columns = {field: [] for field in NODE_FIELDS}
    roots, offset = [], 0
    for tree in trees:
        nodes = tree.nodes
        if nodes["is_categorical"].any():
            raise ValueError("export_trees: categorical splits are not supported")
        roots.append(offset)
        for field in NODE_FIELDS:
            values = nodes[field].astype(np.int64) if field in ("left", "right") else nodes[field]
            if field in ("left", "right"):
                values = np.where(nodes["is_leaf"].astype(bool), -1, values + offset)
            columns[field].append(values)
        offset += len(nodes)
    arrays = {
        field: np.concatenate(parts) if parts else np.empty(0) for field, parts in columns.items()
    }
    arrays["roots"] = np.asarray(roots, dtype=np.int64)
    arrays["baseline"] = np.asarray(classifier._baseline_prediction, dtype=np.float64).ravel()
    return arrays


def predict_trees(arrays: dict[str, np.ndarray], x: np.ndarray) -> np.ndarray:
    """(N,) float64 signal probabilities of the exported trees on features x (N, F)."""
    x = np.asarray(x, dtype=np.float64)
    feature = arrays["feature_idx"].astype(np.int64)
    threshold = arrays["num_threshold"]
    missing_left = arrays["missing_go_to_left"].astype(bool)
    left, right = arrays["left"], arrays["right"]
    is_leaf = arrays["is_leaf"].astype(bool)
    value = arrays["value"]
    raw = np.full(len(x), float(arrays["baseline"][0]))
    events = np.arange(len(x))
    for root in arrays["roots"]:
        node = np.full(len(x), root, dtype=np.int64)
        active = ~is_leaf[node]
        while active.any():
            current = node[active]
            values = x[events[active], feature[current]]
            go_left = (values <= threshold[current]) | (np.isnan(values) & missing_left[current])
            node[active] = np.where(go_left, left[current], right[current])
            active = ~is_leaf[node]
        raw += value[node]
    return 1.0 / (1.0 + np.exp(-raw))


def flat_matrix(arrays: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """(N, n_features) float64: the flat inputs ``names`` side by side, in order."""
    columns = [
        np.asarray(arrays[name], dtype=np.float64).reshape(len(arrays[name]), -1) for name in names
    ]
    return np.concatenate(columns, axis=1)


def train_bdt(
    train: Mapping[str, np.ndarray],
    valid: Mapping[str, np.ndarray],
    feature_set: FeatureSet,
    settings: BdtSettings,
    seed: int,
    threads: int = 1,
) -> tuple[dict[str, np.ndarray], pd.DataFrame, dict]:
    """Boosted decision tree baseline on the flat inputs, early-stopped on valid.

    Returns (the fitted trees as arrays, ``export_trees``; history with
    iteration, loss, val_loss (weighted log-loss per boosting iteration); a train_info record).
    The test split is not seen here: a later job scores it from the saved trees.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    if feature_set.image_inputs:
        raise ValueError(f"feature set {feature_set.name!r}: a bdt needs flat inputs only")
    names = input_names(feature_set.inputs, feature_set.efps)
    x_train, x_valid = (flat_matrix(a, names) for a in (train, valid))
    classifier = HistGradientBoostingClassifier(
        learning_rate=settings.learning_rate,
        max_iter=settings.max_iter,
        max_leaf_nodes=settings.max_leaf_nodes,
        early_stopping=True,
        n_iter_no_change=settings.n_iter_no_change,
        scoring="loss",
        random_state=int(seed),
    )
    start = time.perf_counter()
    with threadpool_limits(limits=int(threads)):
        classifier.fit(
            x_train,
            train[LABEL],
            sample_weight=train[WEIGHT],
            X_val=x_valid,
            y_val=valid[LABEL],
            sample_weight_val=valid[WEIGHT],
        )
    fit_seconds = time.perf_counter() - start
    n_iter = int(classifier.n_iter_)
    history = pd.DataFrame(
        {
            "iteration": np.arange(len(classifier.train_score_)),
            "loss": -classifier.train_score_,
            "val_loss": -classifier.validation_score_,
        }
    )
    info = {
        "name": feature_set.names[feature_set.models.index("bdt")],
        "feature_set": feature_set.name,
        "model": "bdt",
        "architecture": "HistGradientBoostingClassifier",
        "n_train": int(len(x_train)),
        "n_valid": int(len(x_valid)),
        "n_features": int(x_train.shape[1]),
        "seed": int(seed),
        "iterations": n_iter,
        "training_time_s": fit_seconds,
        "train_samples_per_s": len(x_train) * n_iter / fit_seconds if fit_seconds > 0 else None,
        "device": f"CPU ({int(threads)} threads)",
        "bdt": dict(vars(settings)),
    }
    log.info("bdt %s: %d iterations in %.1f s", info["name"], n_iter, fit_seconds)
    return export_trees(classifier), history, info
