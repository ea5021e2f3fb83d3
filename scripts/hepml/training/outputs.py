"""What every trained model writes beside its weights, for networks, BDTs and the linear EFP
model alike: the scores table of one split and strict JSON records. No TensorFlow here: the
rules of the models without a network (train_bdt, train_efp_linear, score_model of a BDT or
the linear model) import this module, not ``hepml.training.fit`` (tests/test_architecture.py).
"""

from __future__ import annotations

import math
from collections.abc import Mapping

import numpy as np
import pandas as pd

from hepml.io.dataset import LABEL, WEIGHT


def json_safe(values):
    """Replace inf/nan floats by None (strict JSON)."""
    if isinstance(values, dict):
        return {k: json_safe(v) for k, v in values.items()}
    if isinstance(values, list):
        return [json_safe(v) for v in values]
    if isinstance(values, float) and not math.isfinite(values):
        return None
    return values


def score_table(arrays: Mapping[str, np.ndarray], score: np.ndarray) -> pd.DataFrame:
    """The scores file of one split: columns y (int8), score, weight (float64)."""
    return pd.DataFrame(
        {
            "y": np.asarray(arrays[LABEL], dtype=np.int8),
            "score": np.asarray(score, dtype=np.float64),
            "weight": np.asarray(arrays[WEIGHT], dtype=np.float64),
        }
    )
