"""Duplicate EFPs and single-EFP AUCs: tables in, tables out (the files are the steps' job,
``hepml.steps.efp``)."""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

AUDIT_COLUMNS = ["dropped", "kept", "max_deviation_sample", "max_deviation", "confirmed"]


def relative_deviation(values: np.ndarray, reference: np.ndarray) -> np.ndarray:
    """|a - b| / max(|a|, |b|) per event (0 where both are 0), elementwise with broadcasting.

    Scale-free: each event is compared at its own magnitude, so a column whose scale is set
    by a few huge values (kappa = -1: one soft cell gives z = 1 / ET of 1e4 or more) is still
    compared digit by digit where its values are small. 0 for equal values, 1 when exactly one
    is 0, up to 2 for opposite signs; NaN or infinity give NaN (never equal).
    """
    values = np.asarray(values, dtype=np.float64)
    reference = np.asarray(reference, dtype=np.float64)
    magnitude = np.maximum(np.abs(values), np.abs(reference))
    difference = np.abs(values - reference)
    with np.errstate(invalid="ignore"):
        return np.divide(
            difference, magnitude, out=np.where(magnitude == 0, 0.0, np.nan), where=magnitude > 0
        )


def _log_magnitude(values: np.ndarray) -> np.ndarray:
    """log|x| (0 where x = 0): within tolerance per event, two columns are within
    -log(1 - tolerance) of each other here (and have the same zeros)."""
    magnitude = np.abs(values)
    return np.log(magnitude, out=np.zeros_like(magnitude), where=magnitude > 0)


def find_duplicate_efps(
    sample: pd.DataFrame,
    full: Mapping[str, np.ndarray],
    tolerance: float,
) -> pd.DataFrame:
    """EFPs identical on the data (docs/reference.md "Energy Flow Polynomials", duplicates).

    sample: (S, C) EFP values of a random sample of train events, columns in canonical order.
    full: name -> (N,) values of that EFP on all train events (read on demand, only for the
    suspected pairs).
    tolerance: largest relative difference per event, |a - b| <= tolerance * max(|a|, |b|)
    (:func:`relative_deviation`), still called identical; in [0, 1).

    Duplicates are identical polynomials, so two EFPs are compared value by value, each event
    at its own magnitude: no column-wide scale (the min-max normalisation of the authors'
    code lets one huge value, common at kappa = -1, hide every difference among the small
    ones). Two EFPs are candidates when they agree on every sampled event; a candidate is
    confirmed when they agree on all events. Going through the columns in canonical order, a
    column is dropped when it is confirmed identical to an earlier kept column (the first
    such one in canonical order): the first name of every identity class is kept. A scaled
    or shifted copy is not identical (it is kept).
    Returns the audit: one row per suspected identity checked on all events, with columns
    dropped (the later name), kept (the earlier kept name it was compared with),
    max_deviation_sample, max_deviation (on all events; the largest relative difference) and
    confirmed (max_deviation <= tolerance: the later name is dropped). Rows in canonical order
    of the later names; a column stops being compared at its first confirmed identity.
    """
    if not 0 <= tolerance < 1:
        raise ValueError(f"duplicate tolerance must be in [0, 1), got {tolerance}")
    names = list(sample.columns)
    values = sample.to_numpy(dtype=np.float64)
    finite = np.isfinite(values).all(axis=0)
    bad = [name for name, ok in zip(names, finite, strict=True) if not ok]
    if bad:
        raise ValueError(
            f"{len(bad)} EFP column(s) hold NaN or infinity on the sampled train events: "
            f"{', '.join(bad[:5])}"
        )
    # Within tolerance per event, two columns' log-magnitudes differ by at most
    # -log1p(-tolerance) on every event, so their projections differ by at most that times
    # sum|weights|: a window in projection order holds every candidate (no pair is missed).
    weights = np.linspace(1.0, 2.0, len(values))
    projection = weights @ _log_magnitude(values)
    window = -np.log1p(-tolerance) * weights.sum() * (1 + 1e-9) + 1e-9 * (
        1.0 + np.abs(projection).max(initial=0.0)
    )
    order = np.argsort(projection, kind="stable")
    sorted_projection = projection[order]

    def on_all_events(column: int) -> np.ndarray:
        """Values of one column on all events (read anew: memory holds two columns,
        whatever the number of identities)."""
        return np.asarray(full[names[column]], dtype=np.float64)

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
        deviation = relative_deviation(values[:, candidates], values[:, [column]]).max(axis=0)
        suspected = deviation <= tolerance
        this = on_all_events(column) if suspected.any() else None
        for candidate, on_sample in zip(candidates[suspected], deviation[suspected], strict=True):
            on_all = float(relative_deviation(on_all_events(candidate), this).max())
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
