"""Statistics of the TMVA-style figures of the ntuple analyses (docs/ntuples.md "Figures"):
the overtraining check (a weighted two-sample Kolmogorov-Smirnov test), the significance curve
against the classifier cut, permutation importance and the data/MC yields.

Every function takes the rows of the per-sample or applied tables (``hepml.io.ntuples``,
``hepml.steps.ntuples``) as a pandas DataFrame with the columns ``weight`` (the signed physics
weight), ``label`` (1 signal, 0 background, missing for data), ``process``, ``split`` (``train``,
``valid``, ``test`` for MC, ``data`` for data) and, for the applied tables, ``score``.
Expected yields of one split estimate the full luminosity: its MC weights are scaled by
1 / (the split's fraction), the nominal fraction of ``ntuples.split``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hepml import metrics

#: The nominal split fractions when ``ntuples.split`` is not given (the contract of issue 21).
DEFAULT_FRACTIONS = {"valid": 0.2, "test": 0.3}
MC_SPLITS = ("train", "valid", "test")
DATA_SPLIT = "data"


@dataclass(frozen=True)
class NtupleSignificanceSettings:
    """``ntuples.significance``: the counting experiment after a cut on the classifier score.

    background_uncertainty: the relative uncertainty on the selected background (sigma_b =
    background_uncertainty x b) in the Asimov significance; min_background: a cut is a
    candidate only where at least this many expected background events (full luminosity, the
    choosing split's weights scaled by 1 / its fraction) pass it; min_background_mc: and at
    least this many simulated background events of that split (unweighted), so that the
    chosen cut does not sit on a few MC events of large weight.
    """

    background_uncertainty: float = 0.1
    min_background: float = 1.0
    min_background_mc: int = 10

    @classmethod
    def from_config(cls, values: Mapping | None) -> NtupleSignificanceSettings:
        from hepml.settings import dataclass_from_config

        return dataclass_from_config(cls, values or {}, "ntuples.significance")


@dataclass(frozen=True)
class NtupleRankingSettings:
    """``ntuples.ranking``: permutation importance on the validation split; each variable is
    permuted ``repeats`` times (seeded), its importance the mean drop of the weighted AUC."""

    repeats: int = 5

    @classmethod
    def from_config(cls, values: Mapping | None) -> NtupleRankingSettings:
        from hepml.settings import dataclass_from_config

        settings = dataclass_from_config(cls, values or {}, "ntuples.ranking")
        if settings.repeats < 1:
            raise ValueError(f"ntuples.ranking.repeats: expected >= 1, got {settings.repeats}")
        return settings


def split_fraction(split: str, fractions: Mapping[str, float] | None = None) -> float:
    """The nominal fraction of MC events in ``split`` (train: what valid and test leave)."""
    fractions = {**DEFAULT_FRACTIONS, **(fractions or {})}
    if split == "train":
        return 1.0 - float(fractions["valid"]) - float(fractions["test"])
    return float(fractions[split])


def simulated(frame: pd.DataFrame, split: str) -> pd.DataFrame:
    """The MC rows (label 0 or 1) of one split."""
    return frame[frame["label"].notna().to_numpy() & (frame["split"] == split).to_numpy()]


def observed(frame: pd.DataFrame) -> pd.DataFrame:
    """The data rows (no label)."""
    return frame[frame["label"].isna().to_numpy()]


# --- overtraining: the weighted two-sample Kolmogorov-Smirnov test -------------------------


def effective_size(weight) -> float:
    """Kish's effective sample size (sum w)^2 / sum w^2 (= N for equal weights)."""
    weight = np.asarray(weight, dtype=np.float64)
    sum_w2 = float(np.sum(weight**2))
    return float(np.sum(weight) ** 2 / sum_w2) if sum_w2 > 0 else 0.0


def weighted_ks(x1, w1, x2, w2) -> dict:
    """Two-sample Kolmogorov-Smirnov test with per-event weights.

    The statistic is D = max |F1(x) - F2(x)| over the pooled values, F the weighted empirical
    distribution functions (cumulative sum of weights / total; signed weights allowed, their
    sum must be positive). The p-value is Smirnov's two-sided one, scipy.stats.kstwo at
    n = n1 n2 / (n1 + n2) rounded, as scipy.stats.ks_2samp(method="asymp") computes it, with
    each n the effective sample size (Kish) of its sample; with unit weights it is exactly
    ks_2samp's asymptotic p-value. Returns statistic, pvalue, n_eff1, n_eff2.
    """
    from scipy.stats import kstwo

    x1, x2 = np.asarray(x1, np.float64), np.asarray(x2, np.float64)
    w1, w2 = np.asarray(w1, np.float64), np.asarray(w2, np.float64)
    total1, total2 = w1.sum(), w2.sum()
    n1, n2 = effective_size(w1), effective_size(w2)
    if x1.size == 0 or x2.size == 0 or total1 <= 0 or total2 <= 0:
        return {"statistic": math.nan, "pvalue": math.nan, "n_eff1": n1, "n_eff2": n2}
    pooled = np.sort(np.concatenate([x1, x2]))
    cdfs = []
    for x, w, total in ((x1, w1, total1), (x2, w2, total2)):
        order = np.argsort(x, kind="mergesort")
        cumulative = np.r_[0.0, np.cumsum(w[order])] / total
        cdfs.append(cumulative[np.searchsorted(x[order], pooled, side="right")])
    statistic = float(np.max(np.abs(cdfs[0] - cdfs[1])))
    m, n = max(n1, n2), min(n1, n2)
    size = max(1.0, float(np.round(m * n / (m + n))))
    pvalue = float(np.clip(kstwo.sf(statistic, size), 0.0, 1.0))
    return {"statistic": statistic, "pvalue": pvalue, "n_eff1": n1, "n_eff2": n2}


def overtraining_table(frame: pd.DataFrame, name: str) -> pd.DataFrame:
    """Per class, train against test classifier scores: the weighted KS test (signed physics
    weights, effective sizes) and, beside it, scipy's unweighted ks_2samp p-value."""
    from scipy.stats import ks_2samp

    rows = []
    train, test = simulated(frame, "train"), simulated(frame, "test")
    for cls, label in (("signal", 1), ("background", 0)):
        a, b = train[train["label"] == label], test[test["label"] == label]
        weighted = weighted_ks(a["score"], a["weight"], b["score"], b["weight"])
        unweighted = (
            float(ks_2samp(a["score"], b["score"]).pvalue) if len(a) and len(b) else math.nan
        )
        rows.append(
            {
                "name": name,
                "class": cls,
                "train_events": len(a),
                "test_events": len(b),
                "train_n_eff": weighted["n_eff1"],
                "test_n_eff": weighted["n_eff2"],
                "ks_statistic": weighted["statistic"],
                "ks_pvalue": weighted["pvalue"],
                "ks_pvalue_unweighted": unweighted,
            }
        )
    return pd.DataFrame(rows)


# --- significance against the classifier cut -----------------------------------------------


def significance_curve(
    y, score, weight, scale: float, settings: NtupleSignificanceSettings
) -> pd.DataFrame:
    """For every distinct score as a cut (score >= cut selected, cuts descending): the expected
    signal s and background b (weights x ``scale``), the simulated background events passing
    (unweighted), S / sqrt(S + B) and the Asimov significance with sigma_b =
    background_uncertainty x b (hepml.metrics.asimov_significance: Cowan, Cranmer, Gross &
    Vitells, EPJC 71, 1554 (2011), with the background uncertainty as an auxiliary
    measurement)."""
    y = np.asarray(y, dtype=np.float64)
    score = np.asarray(score, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64) * float(scale)
    if not np.isfinite(score).all():
        raise ValueError("scores contain NaN or infinity")
    order = np.argsort(score, kind="mergesort")[::-1]
    ordered = score[order]
    ends = np.r_[np.flatnonzero(np.diff(ordered)), ordered.size - 1]
    signal = np.cumsum(weight[order] * (y[order] == 1))[ends]
    background = np.cumsum(weight[order] * (y[order] == 0))[ends]
    background_mc = np.cumsum(y[order] == 0)[ends]
    with np.errstate(divide="ignore", invalid="ignore"):
        simple = np.where(signal + background > 0, signal / np.sqrt(signal + background), np.nan)
    sigma_b = settings.background_uncertainty * np.abs(background)
    asimov = np.where(
        background > 0, metrics.asimov_significance(signal, background, sigma_b), np.nan
    )
    return pd.DataFrame(
        {
            "cut": ordered[ends],
            "s": signal,
            "b": background,
            "b_mc_events": background_mc,
            "sigma_b": sigma_b,
            "s_over_sqrt_s_plus_b": simple,
            "z_asimov": asimov,
        }
    )


def choose_cut(curve: pd.DataFrame, settings: NtupleSignificanceSettings) -> pd.Series:
    """The row of highest Asimov significance among the cuts keeping at least min_background
    expected and min_background_mc simulated background events; ties: the lower cut."""
    candidates = curve[
        (curve["b"] >= settings.min_background)
        & (curve["b_mc_events"] >= settings.min_background_mc)
        & np.isfinite(curve["z_asimov"])
    ]
    if candidates.empty:
        raise ValueError(
            f"no cut keeps {settings.min_background:g} expected and "
            f"{settings.min_background_mc} simulated background events (the split has "
            f"{curve['b'].iloc[-1]:g} and {int(curve['b_mc_events'].iloc[-1])}); lower "
            "ntuples.significance.min_background / min_background_mc"
        )
    z = candidates["z_asimov"].to_numpy()  # cuts descend: the last maximum is the lowest cut
    return candidates.iloc[len(z) - 1 - int(np.argmax(z[::-1]))]


def significance_at(
    y, score, weight, scale: float, cut: float, settings: NtupleSignificanceSettings
) -> dict:
    """s, b (weights x ``scale``), simulated background events, S / sqrt(S + B) and the
    Asimov significance of the selection score >= cut, by direct sums."""
    y, score = np.asarray(y, np.float64), np.asarray(score, np.float64)
    weight = np.asarray(weight, np.float64) * float(scale)
    selected = score >= cut
    s = float(weight[selected & (y == 1)].sum())
    b = float(weight[selected & (y == 0)].sum())
    sigma_b = settings.background_uncertainty * abs(b)
    z = float(metrics.asimov_significance(s, b, sigma_b)) if b > 0 else math.nan
    return {
        "s": s,
        "b": b,
        "b_mc_events": int((selected & (y == 0)).sum()),
        "s_over_sqrt_s_plus_b": s / math.sqrt(s + b) if s + b > 0 else math.nan,
        "z_asimov": z,
    }


def significance_row(
    frame: pd.DataFrame,
    name: str,
    fractions: Mapping[str, float] | None,
    settings: NtupleSignificanceSettings,
) -> tuple[dict, dict[str, pd.DataFrame]]:
    """The cut chosen on valid (choose_cut) and measured on valid and test; returns the
    table row and the curves of both splits (for the figure)."""
    curves, row = {}, {"name": name}
    for split in ("valid", "test"):
        rows = simulated(frame, split)
        curves[split] = significance_curve(
            rows["label"],
            rows["score"],
            rows["weight"],
            1 / split_fraction(split, fractions),
            settings,
        )
    chosen = choose_cut(curves["valid"], settings)
    row["cut"] = float(chosen["cut"])
    row["background_uncertainty"] = settings.background_uncertainty
    for split in ("valid", "test"):
        rows = simulated(frame, split)
        scale = 1 / split_fraction(split, fractions)
        before = significance_at(
            rows["label"], rows["score"], rows["weight"], scale, -np.inf, settings
        )
        after = significance_at(
            rows["label"], rows["score"], rows["weight"], scale, row["cut"], settings
        )
        row[f"{split}_s_before"] = before["s"]
        row[f"{split}_b_before"] = before["b"]
        for key, value in after.items():
            row[f"{split}_{key}"] = value
    return row, curves


# --- permutation importance ----------------------------------------------------------------


def permutation_importance(
    frame: pd.DataFrame,
    columns: Sequence[str],
    scorer: Callable[[pd.DataFrame], np.ndarray],
    repeats: int,
    seed: int,
) -> pd.DataFrame:
    """The drop of the weighted AUC (signed physics weights, ``label``) when one column's
    values are permuted among the rows, ``repeats`` times per column; column i draws from
    np.random.default_rng([seed, i]), so a column's importance does not depend on the others.
    Ranked by the mean drop (1 = most important)."""
    y, weight = frame["label"].to_numpy(np.float64), frame["weight"].to_numpy(np.float64)
    baseline = metrics.auc(y, np.asarray(scorer(frame), np.float64), weight)
    rows = []
    for index, column in enumerate(columns):
        rng = np.random.default_rng([int(seed), index])
        drops = []
        for _ in range(int(repeats)):
            permuted = frame.copy()
            permuted[column] = rng.permutation(frame[column].to_numpy())
            drops.append(baseline - metrics.auc(y, np.asarray(scorer(permuted)), weight))
        rows.append(
            {
                "variable": column,
                "auc_drop": float(np.mean(drops)),
                "auc_drop_std": float(np.std(drops, ddof=1)) if len(drops) > 1 else math.nan,
                "auc": baseline,
                "repeats": int(repeats),
            }
        )
    table = pd.DataFrame(rows).sort_values("auc_drop", ascending=False, kind="mergesort")
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table.reset_index(drop=True)


# --- data against the simulation -------------------------------------------------------------


def data_mc_frame(
    frame: pd.DataFrame, fractions: Mapping[str, float] | None, cut: float | None = None
) -> pd.DataFrame:
    """The rows a data/MC figure draws: the MC of the test split, weights x 1 / (test
    fraction), and every data event; ``cut``: only rows with score >= cut."""
    mc = simulated(frame, "test").copy()
    mc["weight"] = mc["weight"] / split_fraction("test", fractions)
    rows = pd.concat([mc, observed(frame)], ignore_index=True)
    if cut is not None:
        rows = rows[rows["score"].to_numpy() >= cut]
    return rows


def yields_table(
    frame: pd.DataFrame, fractions: Mapping[str, float] | None, cut: float
) -> pd.DataFrame:
    """Per MC process (largest yield before the cut first), their total, data and data / MC:
    yields before and after the cut (MC: test split x 1 / test fraction, error sqrt(sum w^2);
    data: events, error sqrt(N)) and the simulated or data events."""
    columns = {}
    for when, rows in (
        ("before", data_mc_frame(frame, fractions)),
        ("after", data_mc_frame(frame, fractions, cut)),
    ):
        mc, data = rows[rows["label"].notna()], rows[rows["label"].isna()]
        groups = mc.groupby("process", sort=False)["weight"]
        summed = pd.DataFrame(
            {
                "yield": groups.sum(),
                "error": np.sqrt(groups.apply(lambda w: float(np.sum(w**2)))),
                "events": groups.size(),
            }
        )
        summed.loc["total MC"] = [
            mc["weight"].sum(),
            math.sqrt(float(np.sum(mc["weight"] ** 2))),
            len(mc),
        ]
        summed.loc["data"] = [float(len(data)), math.sqrt(len(data)), len(data)]
        total = summed.loc["total MC", "yield"]
        ratio = summed.loc["data", "yield"] / total if total > 0 else math.nan
        ratio_error = (
            ratio * math.hypot(1 / math.sqrt(len(data)), summed.loc["total MC", "error"] / total)
            if len(data) and total > 0
            else math.nan
        )
        summed.loc["data / MC"] = [ratio, ratio_error, math.nan]
        columns[when] = summed
    processes = [p for p in columns["before"].index if p not in ("total MC", "data", "data / MC")]
    processes = sorted(processes, key=lambda p: -columns["before"].loc[p, "yield"])
    order = [*processes, "total MC", "data", "data / MC"]
    table = pd.DataFrame({"process": order})
    for when, summed in columns.items():
        summed = summed.reindex(order)
        absent = summed.index.isin(processes) & summed["events"].isna().to_numpy()
        summed.loc[absent] = 0.0  # a process no event of which passes the cut
        table[f"{when}"] = summed["yield"].to_numpy(np.float64)
        table[f"{when}_error"] = summed["error"].to_numpy(np.float64)
        table[f"{when}_events"] = [None if math.isnan(n) else int(n) for n in summed["events"]]
    return table
