"""ROC curves, AUC, bootstrap intervals, background rejection and the collapse check.

All functions take per-event labels ``y`` (N,) in {0, 1} (1 = signal), classifier scores
``score`` (N,) and optional per-event weights ``weight`` (N,) (None = unit weights), and agree
with scikit-learn's ``roc_curve(..., drop_intermediate=False)`` and ``roc_auc_score`` (tested
to 1e-9). Signal efficiency eps_S is the true-positive rate, background efficiency eps_B the
false-positive rate; background rejection is 1/eps_B (docs/reference.md, both papers).
"""

from __future__ import annotations

import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hepml.settings import EvaluationSettings, split_name

log = logging.getLogger(__name__)

STATUS_OK = "ok"
STATUS_COLLAPSED = "collapsed"


def _check(y, score, weight) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    y = np.asarray(y)
    score = np.asarray(score, dtype=np.float64)
    if y.ndim != 1 or score.shape != y.shape:
        raise ValueError(
            f"y and score must be 1-D of equal length, got {y.shape} and {score.shape}"
        )
    if not np.isin(y, (0, 1)).all():
        raise ValueError(f"labels y must be 0 or 1, got values {np.unique(y)[:10]}")
    weight = np.ones_like(score) if weight is None else np.asarray(weight, dtype=np.float64)
    if weight.shape != y.shape:
        raise ValueError(f"weight must have shape {y.shape}, got {weight.shape}")
    if not np.isfinite(score).all():
        raise ValueError("scores contain NaN or infinity")
    return y.astype(np.float64), score, weight


@dataclass(frozen=True)
class _SortedScores:
    """Events sorted by descending score, with the last index of each distinct score."""

    order: np.ndarray  # (N,) event indices by descending score
    y: np.ndarray  # (N,) labels in sorted order, float64
    weight: np.ndarray  # (N,) weights in sorted order
    ends: np.ndarray  # (K,) index of the last event of each distinct score value
    thresholds: np.ndarray  # (K,) the distinct score values, descending

    @classmethod
    def build(cls, y, score, weight) -> _SortedScores:
        order = np.argsort(score, kind="mergesort")[::-1]
        score = score[order]
        ends = np.r_[np.flatnonzero(np.diff(score)), score.size - 1]
        return cls(order, y[order], weight[order], ends, score[ends])

    def rates(self, weight: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(fpr, tpr), each (K + 1,) starting at (0, 0); ``weight`` overrides (sorted order)."""
        w = self.weight if weight is None else weight
        tps = np.r_[0.0, np.cumsum(self.y * w)[self.ends]]
        fps = np.r_[0.0, np.cumsum((1.0 - self.y) * w)[self.ends]]
        if tps[-1] <= 0 or fps[-1] <= 0:
            nan = np.full_like(tps, np.nan)
            return nan, nan
        return fps / fps[-1], tps / tps[-1]


def roc_curve(y, score, weight=None) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(fpr, tpr, thresholds), each (K + 1,): one point per distinct score, from (0, 0).

    thresholds[0] is +inf (nothing selected), as in scikit-learn; a point i selects events
    with score >= thresholds[i].
    """
    y, score, weight = _check(y, score, weight)
    if not (y == 1).any() or not (y == 0).any():
        raise ValueError("ROC needs both signal (y=1) and background (y=0) events")
    sorted_scores = _SortedScores.build(y, score, weight)
    fpr, tpr = sorted_scores.rates()
    return fpr, tpr, np.r_[np.inf, sorted_scores.thresholds]


def _trapezoid(fpr: np.ndarray, tpr: np.ndarray) -> float:
    return float(np.sum(np.diff(fpr) * (tpr[1:] + tpr[:-1])) / 2.0)


def auc(y, score, weight=None) -> float:
    """Area under the ROC curve (weighted), trapezoidal, ties counted as half."""
    fpr, tpr, _ = roc_curve(y, score, weight)
    return _trapezoid(fpr, tpr)


def bootstrap_auc(
    y, score, weight=None, *, resamples: int, confidence_level: float, seed: int
) -> tuple[float, float, np.ndarray]:
    """Central bootstrap interval of the AUC: (low, high, the resampled AUCs (resamples,)).

    Each resample draws N events with replacement (np.random.default_rng(seed)); an event drawn
    k times counts with weight k * weight, so the events are sorted only once.
    """
    y, score, weight = _check(y, score, weight)
    sorted_scores = _SortedScores.build(y, score, weight)
    rng = np.random.default_rng(seed)
    n = y.size
    samples = np.empty(resamples)
    for i in range(resamples):
        counts = np.bincount(rng.integers(0, n, n), minlength=n)
        fpr, tpr = sorted_scores.rates(sorted_scores.weight * counts[sorted_scores.order])
        samples[i] = _trapezoid(fpr, tpr)
    finite = samples[np.isfinite(samples)]
    if finite.size == 0:
        return math.nan, math.nan, samples
    tail = (1.0 - confidence_level) / 2.0
    low, high = np.quantile(finite, [tail, 1.0 - tail])
    return float(low), float(high), samples


def background_efficiency_at(fpr: np.ndarray, tpr: np.ndarray, signal_efficiency: float) -> float:
    """eps_B where the ROC (linear between points) first reaches eps_S = signal_efficiency.

    The first point at or above it, found by a scan rather than a binary search: with signed
    weights (ntuples' negative generator weights, docs/ntuples.md) the tpr may dip, and a
    binary search on it can land past the first crossing."""
    reached = np.flatnonzero(np.asarray(tpr) >= signal_efficiency)
    index = int(reached[0]) if reached.size else int(np.size(tpr))
    if index == 0:
        return float(fpr[0])
    if index >= tpr.size:
        return float(fpr[-1])
    t0, t1, f0, f1 = tpr[index - 1], tpr[index], fpr[index - 1], fpr[index]
    fraction = 0.0 if t1 == t0 else (signal_efficiency - t0) / (t1 - t0)
    return float(f0 + fraction * (f1 - f0))


def background_rejection(y, score, weight=None, *, signal_efficiency: float) -> float:
    """1/eps_B at the given signal efficiency (inf when no background passes)."""
    fpr, tpr, _ = roc_curve(y, score, weight)
    eps_b = background_efficiency_at(fpr, tpr, signal_efficiency)
    return math.inf if eps_b <= 0 else 1.0 / eps_b


def collapse_reason(score, auc_value: float | None, tolerance: float) -> str | None:
    """Why a model counts as collapsed (None if it does not).

    A constant (or non-finite) score, or |AUC - 0.5| < tolerance, is a failed training run
    (docs/reference.md: the public re-run's ``ht`` model at AUC 0.5), never a result.
    """
    score = np.asarray(score, dtype=np.float64)
    if not np.isfinite(score).all():
        return "non-finite scores"
    if score.size == 0 or np.ptp(score) == 0:
        return "constant score"
    if auc_value is None or not math.isfinite(auc_value):
        return "AUC undefined"
    if abs(auc_value - 0.5) < tolerance:
        return f"|AUC - 0.5| = {abs(auc_value - 0.5):.4f} < collapse_tolerance {tolerance}"
    return None


def rejection_key(signal_efficiency: float) -> str:
    """Column/JSON key of the rejection at one signal efficiency: ``rejection_0.8``."""
    return f"rejection_{signal_efficiency:g}"


def evaluate_scores(y, score, weight, settings: EvaluationSettings, seed: int) -> dict:
    """Every test-split number of one model, JSON-ready.

    Returns auc (None when collapsed; the measured value stays in auc_measured), auc_low,
    auc_high, rejection_<eps_S> (1/eps_B, None when infinite), n_test, n_signal,
    n_background, status (ok/collapsed) and collapse_reason.
    """
    y_arr = np.asarray(y)
    score_arr = np.asarray(score, dtype=np.float64)
    weight_arr = None if weight is None else np.asarray(weight, dtype=np.float64)
    result: dict = {
        "n_test": int(y_arr.size),
        "n_signal": int((y_arr == 1).sum()),
        "n_background": int((y_arr == 0).sum()),
        "confidence_level": settings.confidence_level,
        "bootstrap_resamples": settings.bootstrap_resamples,
        "bootstrap_seed": int(seed),
    }
    finite = bool(np.isfinite(score_arr).all())
    measured = auc(y_arr, score_arr, weight_arr) if finite else None
    reason = collapse_reason(score_arr, measured, settings.collapse_tolerance)
    result["auc_measured"] = measured
    if reason is None:
        low, high, _ = bootstrap_auc(
            y_arr,
            score_arr,
            weight_arr,
            resamples=settings.bootstrap_resamples,
            confidence_level=settings.confidence_level,
            seed=seed,
        )
        fpr, tpr, _ = roc_curve(y_arr, score_arr, weight_arr)
        result.update(auc=measured, auc_low=low, auc_high=high)
        for eps_s in settings.signal_efficiencies:
            eps_b = background_efficiency_at(fpr, tpr, eps_s)
            result[rejection_key(eps_s)] = None if eps_b <= 0 else 1.0 / eps_b
        result.update(status=STATUS_OK, collapse_reason=None)
    else:
        log.warning("model collapsed (%s): no AUC is reported", reason)
        result.update(auc=None, auc_low=None, auc_high=None)
        for eps_s in settings.signal_efficiencies:
            result[rejection_key(eps_s)] = None
        result.update(status=STATUS_COLLAPSED, collapse_reason=reason)
    return result


TABLE_COLUMNS = [
    "name",
    "feature_set",
    "model",
    "auc",
    "auc_low",
    "auc_high",
    "paper_auc",
    "status",
    "train_samples_per_s",
    "training_time_s",
    "n_test",
    "device",
    "auc_measured",
    "collapse_reason",
]


def summary_table(
    metrics: Sequence[Mapping],
    paper_reference: Mapping[str, float] | None,
    signal_efficiencies: Sequence[float],
) -> pd.DataFrame:
    """One row per trained model: AUC and interval, rejections, paper AUC, status, speed.

    ``metrics`` are evaluate_model's JSON dicts (with ``name`` and ``model``). A collapsed
    model keeps its row with status ``collapsed`` and an empty ``auc`` (its measured value
    is in ``auc_measured``). ``paper_auc`` is empty where paper_reference has no entry.
    """
    paper_reference = paper_reference or {}
    rejections = [rejection_key(eps) for eps in signal_efficiencies]
    rows = []
    for entry in metrics:
        feature_set, _ = split_name(entry["name"])
        row = {column: entry.get(column) for column in TABLE_COLUMNS}
        row["feature_set"] = feature_set
        row["paper_auc"] = paper_reference.get(entry["name"])
        for key in rejections:
            row[key] = entry.get(key)
        rows.append(row)
    columns = TABLE_COLUMNS[:6] + rejections + TABLE_COLUMNS[6:]
    return pd.DataFrame(rows, columns=columns)


def markdown_table(table: pd.DataFrame, digits: int = 4) -> str:
    """The summary table as GitHub markdown (numbers rounded, empty cells for missing)."""

    def cell(value) -> str:
        if value is None or (isinstance(value, float) and not math.isfinite(value)):
            return ""
        if isinstance(value, float):
            return f"{value:.{digits}f}" if abs(value) < 10 else f"{value:.1f}"
        return str(value)

    header = "| " + " | ".join(table.columns) + " |"
    rule = "|" + "|".join("---" for _ in table.columns) + "|"
    body = ["| " + " | ".join(cell(v) for v in row) + " |" for row in table.astype(object).values]
    return "\n".join([header, rule, *body]) + "\n"


# --- discovery significance (the Higgs benchmark, docs/tabular.md) ---------------------------


@dataclass(frozen=True)
class SignificanceSettings:
    """A counting experiment after a cut on the classifier score (arXiv:1402.4735 Table 3:
    100 signal and 1000 +- 50 background events expected before the cut).

    signal_events, background_events: expected counts before the cut; background_uncertainty:
    the absolute uncertainty on background_events, carried as the same relative uncertainty to
    the selected background; min_background_selected: a threshold is a candidate only where at
    least this many (weighted) background events of the choosing split pass it, so that eps_B
    is measured, not a fluctuation of a few events.
    """

    signal_events: float = 100.0
    background_events: float = 1000.0
    background_uncertainty: float = 50.0
    min_background_selected: float = 10.0

    @classmethod
    def from_config(cls, values: Mapping | None) -> SignificanceSettings:
        from hepml.settings import dataclass_from_config

        return dataclass_from_config(cls, values or {}, "significance")

    @property
    def relative_uncertainty(self) -> float:
        return self.background_uncertainty / self.background_events


def asimov_significance(s, b, sigma_b=0.0) -> np.ndarray:
    """Median discovery significance Z of a counting experiment with s expected signal and b
    expected background events, b known to +- sigma_b: the Asimov profile-likelihood
    significance (Cowan, Cranmer, Gross & Vitells, Eur. Phys. J. C 71, 1554 (2011); with the
    background uncertainty as an auxiliary Poisson measurement of b, G. Cowan, "Discovery
    sensitivity for a counting experiment with background uncertainty" (2012)):

        Z = sqrt(2 [(s + b) ln((s + b)(b + sigma_b^2) / (b^2 + (s + b) sigma_b^2))
                    - (b^2 / sigma_b^2) ln(1 + sigma_b^2 s / (b (b + sigma_b^2)))])

    sigma_b = 0 gives sqrt(2 [(s + b) ln(1 + s/b) - s]) (Cowan et al. eq. 97). Arrays
    broadcast; b = 0 with s > 0 gives inf, s = 0 gives 0.
    """
    s, b, sigma_b = np.broadcast_arrays(*(np.asarray(v, dtype=np.float64) for v in (s, b, sigma_b)))
    z2 = np.full(s.shape, np.inf)
    with np.errstate(divide="ignore", invalid="ignore"):
        known = (b > 0) & (sigma_b <= 0)
        z2[known] = 2 * ((s + b) * np.log1p(s / b) - s)[known]
        fuzzy = (b > 0) & (sigma_b > 0)
        var = sigma_b**2
        first = (s + b) * np.log((s + b) * (b + var) / (b**2 + (s + b) * var))
        second = b**2 / var * np.log1p(var * s / (b * (b + var)))
        z2[fuzzy] = 2 * (first - second)[fuzzy]
    z2[s <= 0] = 0.0
    return np.sqrt(np.maximum(z2, 0.0))


def significance_scan(y, score, weight, settings: SignificanceSettings) -> pd.DataFrame:
    """For every distinct score as a threshold (score >= threshold selected): eps_S, eps_B
    (weighted), the background events of this split that pass (weighted), and the expected
    s = signal_events * eps_S, b = background_events * eps_B, sigma_b and Z."""
    y, score, weight = _check(y, score, weight)
    if not (y == 1).any() or not (y == 0).any():
        raise ValueError("the significance needs both signal (y=1) and background (y=0) events")
    sorted_scores = _SortedScores.build(y, score, weight)
    tps = np.cumsum(sorted_scores.y * sorted_scores.weight)[sorted_scores.ends]
    fps = np.cumsum((1.0 - sorted_scores.y) * sorted_scores.weight)[sorted_scores.ends]
    eps_s, eps_b = tps / tps[-1], fps / fps[-1]
    s = settings.signal_events * eps_s
    b = settings.background_events * eps_b
    sigma_b = settings.relative_uncertainty * b
    return pd.DataFrame(
        {
            "threshold": sorted_scores.thresholds,
            "eps_s": eps_s,
            "eps_b": eps_b,
            "background_selected": fps,
            "s": s,
            "b": b,
            "sigma_b": sigma_b,
            "z": asimov_significance(s, b, sigma_b),
        }
    )


def choose_threshold(y, score, weight, settings: SignificanceSettings) -> dict:
    """The threshold of highest Z on this split (the validation split: it chooses) among those
    selecting at least ``min_background_selected`` background events; ties: the lower
    threshold. Returns threshold, z, eps_s, eps_b of the choosing split."""
    scan = significance_scan(y, score, weight, settings)
    candidates = scan[scan["background_selected"] >= settings.min_background_selected]
    if candidates.empty:
        raise ValueError(
            f"no threshold selects {settings.min_background_selected} background events "
            f"(the split has {scan['background_selected'].iloc[-1]:g}); lower "
            "significance.min_background_selected"
        )
    z = candidates["z"].to_numpy()  # thresholds descend: the last maximum is the lowest
    best = candidates.iloc[len(z) - 1 - int(np.argmax(z[::-1]))]
    return {key: float(best[key]) for key in ("threshold", "z", "eps_s", "eps_b")}


def significance_at(y, score, weight, threshold: float, settings: SignificanceSettings) -> dict:
    """Z of the cut score >= threshold measured on this split (the test split: it reports):
    eps_S, eps_B, s, b, sigma_b and z (None when no background passes: Z unbounded)."""
    y, score, weight = _check(y, score, weight)
    selected = score >= threshold
    signal, background = weight * (y == 1), weight * (y == 0)
    eps_s = float(signal[selected].sum() / signal.sum())
    eps_b = float(background[selected].sum() / background.sum())
    s = settings.signal_events * eps_s
    b = settings.background_events * eps_b
    sigma_b = settings.relative_uncertainty * b
    z = float(asimov_significance(s, b, sigma_b))
    return {
        "eps_s": eps_s,
        "eps_b": eps_b,
        "s": s,
        "b": b,
        "sigma_b": sigma_b,
        "z": z if math.isfinite(z) else None,
    }
