"""The BDT baseline's trees as plain arrays: a fitted model saved without pickle.

scikit-learn's HistGradientBoostingClassifier can only be saved by pickling it. The workflow
keeps the decision (train_bdt, on train and valid) apart from the measurement (scoring the
test split, a later job), so the fitted trees are exported to arrays (``export_trees``),
written as an ``.npz`` file of plain numeric arrays (``leptonid.io``), and evaluated by
``predict_trees``, which follows the same rule as scikit-learn's predictor: at a split node an
event goes left when its feature is <= the threshold, or when it is NaN and the node sends
missing values left; the raw score is the baseline plus the leaf values of every tree, and
the probability its logistic function. Tests check equality with ``predict_proba``.
"""

from __future__ import annotations

import numpy as np

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
