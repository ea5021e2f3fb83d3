"""Duplicate EFPs and single-EFP AUCs: tables in, tables out (the files are the steps' job,
``leptonid.steps.efp``)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

AUDIT_COLUMNS = ["dropped", "kept", "max_deviation_sample", "max_deviation", "confirmed"]


def min_max_normalise(values: np.ndarray) -> np.ndarray:
    """(N, C) -> (N, C) float64 scaled to [0, 1] per column; a constant column becomes 0."""
    values = np.asarray(values, dtype=np.float64)
    low, high = values.min(axis=0), values.max(axis=0)
    span = high - low
    scale = np.divide(1.0, span, out=np.zeros_like(span), where=span > 0)
    return (values - low) * scale


def find_duplicate_efps(
    sample: pd.DataFrame,
    full: Mapping[str, np.ndarray],
    tolerance: float,
) -> pd.DataFrame:
    """EFPs identical on the data (docs/reference.md "Energy Flow Polynomials", duplicates).

    sample: (S, C) EFP values of a random sample of train events, columns in canonical order.
    full: name -> (N,) values of that EFP on all train events (read on demand, only for the
    suspected pairs).
    tolerance: largest max |difference| of min-max normalised values still called identical.

    Two EFPs are candidates when their normalised sample values differ by at most tolerance
    everywhere; a candidate is confirmed when the same holds on all events (normalised on all
    events). Going through the columns in canonical order, a column is dropped when it is
    confirmed identical to an earlier kept column (the first such one in canonical order): the
    first name of every identity class is kept. A constant column normalises to 0, so constant
    columns form one class.
    Returns the audit: one row per suspected identity checked on all events, with columns
    dropped (the later name), kept (the earlier kept name it was compared with),
    max_deviation_sample, max_deviation (on all events) and confirmed (max_deviation <=
    tolerance: the later name is dropped). Rows in canonical order of the later names; a column
    stops being compared at its first confirmed identity.
    """
    names = list(sample.columns)
    normalised = min_max_normalise(sample.to_numpy(dtype=np.float64))
    # Any two columns within tolerance have projections within tolerance * sum|weights|, so a
    # window in projection order holds every candidate of a column (no pair is missed).
    weights = np.linspace(1.0, 2.0, len(normalised))
    projection = weights @ normalised
    window = tolerance * weights.sum() * (1 + 1e-9) + 1e-12
    order = np.argsort(projection, kind="stable")
    sorted_projection = projection[order]

    def on_all_events(column: int) -> np.ndarray:
        """Min-max normalised values of one column on all events (read anew: memory holds
        two columns, whatever the number of identities)."""
        values = np.asarray(full[names[column]], dtype=np.float64)
        return min_max_normalise(values[:, None])[:, 0]

    kept = np.ones(len(names), dtype=bool)
    rows = []
    for column in range(len(names)):
        low, high = (
            np.searchsorted(sorted_projection, projection[column] - window, side="left"),
            np.searchsorted(sorted_projection, projection[column] + window, side="right"),
        )
        candidates = np.sort(order[low:high])
        candidates = candidates[(candidates < column) & kept[candidates]]
        if candidates.size == 0:
            continue
        deviation = np.abs(normalised[:, candidates] - normalised[:, [column]]).max(axis=0)
        suspected = deviation <= tolerance
        this = on_all_events(column) if suspected.any() else None
        for candidate, on_sample in zip(candidates[suspected], deviation[suspected], strict=True):
            on_all = float(np.abs(on_all_events(candidate) - this).max())
            confirmed = on_all <= tolerance
            rows.append((names[column], names[candidate], float(on_sample), on_all, confirmed))
            if confirmed:
                kept[column] = False
                break
    return pd.DataFrame(rows, columns=AUDIT_COLUMNS)


def single_efp_aucs(
    table: pd.DataFrame, y: np.ndarray, weight: np.ndarray | None = None
) -> pd.DataFrame:
    """AUC of every EFP alone, as the paper's "AUC(EFP alone)" column.

    table: (N, C) EFP values; y: (N,) labels, 1 = signal; weight: (N,) per-event weights or None.
    Returns columns efp, auc = max(AUC, 1 - AUC), raw_auc (AUC of the value itself) and
    direction ('higher' when larger values mean signal, else 'lower'), sorted by auc
    descending (ties in canonical order).
    """
    from sklearn.metrics import roc_auc_score

    y = np.asarray(y).ravel()
    if len(y) != len(table):
        raise ValueError(f"{len(table)} EFP rows but {len(y)} labels")
    if len(np.unique(y)) != 2:
        raise ValueError(f"the labels must hold both classes, found {np.unique(y)}")
    if weight is not None:
        weight = np.asarray(weight, dtype=np.float64).ravel()
        if len(weight) != len(y):
            raise ValueError(f"{len(y)} labels but {len(weight)} weights")
    raw = np.array(
        [roc_auc_score(y, table[name].to_numpy(), sample_weight=weight) for name in table.columns]
    )
    result = pd.DataFrame(
        {
            "efp": list(table.columns),
            "auc": np.maximum(raw, 1.0 - raw),
            "raw_auc": raw,
            "direction": np.where(raw >= 0.5, "higher", "lower"),
        }
    )
    return result.sort_values("auc", ascending=False, kind="stable").reset_index(drop=True)
