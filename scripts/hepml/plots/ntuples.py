"""Figures of the ntuple analyses (docs/ntuples.md): data against stacked weighted simulation
with a ratio panel, input-variable distributions per class, linear correlation matrices.

Inputs are the per-sample tables of ``hepml.io.ntuples`` joined into one DataFrame: the variable
columns, ``weight`` (signed), ``process``, and ``label`` (1 signal, 0 background, missing for
data).  Histograms are ``hist`` histograms with Weight storage: the error of a bin is the square
root of its sum of squared weights (data: sqrt(N)).  Entries beyond the edges are folded into the
first and last bins, so every event of a yield is drawn.  Figures are
``matplotlib.figure.Figure`` (no pyplot) in the mplhep ATLAS style, applied with a local
``rc_context`` (no global state); the steps save them (``hepml.io.write_figure``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib as mpl
import numpy as np
import pandas as pd
from matplotlib.figure import Figure


def weighted_histogram(
    values: np.ndarray, weights: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(sum of weights, sum of squared weights) per bin; entries outside the edges are
    folded into the first and last bins."""
    import hist

    edges = np.asarray(edges, dtype=np.float64)
    histogram = hist.Hist(hist.axis.Variable(edges, flow=True), storage=hist.storage.Weight())
    histogram.fill(np.asarray(values, dtype=np.float64), weight=np.asarray(weights, np.float64))
    view = histogram.view(flow=True)
    sum_w, sum_w2 = np.array(view.value), np.array(view.variance)
    sum_w[1] += sum_w[0]
    sum_w2[1] += sum_w2[0]
    sum_w[-2] += sum_w[-1]
    sum_w2[-2] += sum_w2[-1]
    return sum_w[1:-1], sum_w2[1:-1]


def _is_data(frame: pd.DataFrame) -> np.ndarray:
    return frame["label"].isna().to_numpy()


def data_mc_histograms(
    frame: pd.DataFrame, variable: str, edges: np.ndarray
) -> tuple[dict[str, tuple[np.ndarray, np.ndarray]], tuple[np.ndarray, np.ndarray]]:
    """Per MC process (ordered by total yield, smallest first: the largest is drawn on top)
    and for data: (sum_w, sum_w2) of ``variable`` in ``edges``."""
    data = _is_data(frame)
    simulated = frame[~data]
    processes = {}
    for process, group in simulated.groupby("process", sort=False):
        processes[process] = weighted_histogram(group[variable], group["weight"], edges)
    ordered = dict(sorted(processes.items(), key=lambda item: item[1][0].sum()))
    observed = frame[data]
    data_hist = weighted_histogram(observed[variable], np.ones(len(observed)), edges)
    return ordered, data_hist


def data_mc_figure(
    frame: pd.DataFrame,
    variable: str,
    edges: np.ndarray,
    xlabel: str | None = None,
    note: str | None = None,
) -> Figure:
    """Data (points, sqrt(N) errors) against the weighted simulation stacked by process, with
    the simulation's statistical band (sqrt of the summed squared weights) and a data / MC
    ratio panel.  ``note``: a line under the legend (e.g. the classifier cut applied)."""
    import mplhep

    edges = np.asarray(edges, dtype=np.float64)
    processes, (data, _) = data_mc_histograms(frame, variable, edges)
    total = sum((h[0] for h in processes.values()), np.zeros(len(edges) - 1))
    total_w2 = sum((h[1] for h in processes.values()), np.zeros(len(edges) - 1))
    with mpl.rc_context(mplhep.style.ATLAS):
        figure = Figure(figsize=(7.0, 7.0))
        top, bottom = figure.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [3, 1], "hspace": 0.05}
        )
        if processes:
            mplhep.histplot(
                [h[0] for h in processes.values()],
                edges,
                stack=True,
                histtype="fill",
                label=list(processes),
                ax=top,
            )
        error = np.sqrt(total_w2)
        top.stairs(
            total + error,
            edges,
            baseline=total - error,
            fill=True,
            hatch="////",
            alpha=0.0,
            label="MC stat. unc.",
            color="grey",
        )
        if data.sum() > 0:
            mplhep.histplot(
                data,
                edges,
                yerr=np.sqrt(data),
                histtype="errorbar",
                color="black",
                label="Data",
                ax=top,
            )
        top.set_ylabel("Events / bin")
        top.set_ylim(bottom=0)
        top.legend(title=note, fontsize="small")
        with np.errstate(divide="ignore", invalid="ignore"):
            ratio = np.where(total > 0, data / total, np.nan)
            ratio_error = np.where(total > 0, np.sqrt(data) / total, np.nan)
            band = np.where(total > 0, error / total, np.nan)
        bottom.stairs(1 + band, edges, baseline=1 - band, fill=True, color="grey", alpha=0.3)
        centres = 0.5 * (edges[1:] + edges[:-1])
        bottom.errorbar(centres, ratio, yerr=ratio_error, fmt="o", color="black", markersize=4)
        bottom.axhline(1.0, color="black", linewidth=0.8)
        bottom.set_ylim(0.5, 1.5)
        bottom.set_ylabel("Data / MC")
        bottom.set_xlabel(xlabel or variable)
    return figure


def class_histograms(
    frame: pd.DataFrame, variable: str, edges: np.ndarray
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Signal and background of ``variable``, each normalised to unit area: (density, error)
    with error sqrt(sum w^2) scaled alike."""
    widths = np.diff(np.asarray(edges, dtype=np.float64))
    out = {}
    for name, label in (("signal", 1), ("background", 0)):
        group = frame[frame["label"] == label]
        sum_w, sum_w2 = weighted_histogram(group[variable], group["weight"], edges)
        norm = sum_w.sum()
        if norm == 0:
            out[name] = (np.zeros_like(sum_w), np.zeros_like(sum_w))
            continue
        out[name] = (sum_w / norm / widths, np.sqrt(sum_w2) / abs(norm) / widths)
    return out


def variable_distributions_figure(
    frame: pd.DataFrame, edges: Mapping[str, np.ndarray], columns: int = 3
) -> Figure:
    """One panel per variable: signal and background, weighted, normalised to unit area, with
    sum-of-squared-weights errors (TMVA's input-variable plots)."""
    import mplhep

    names = list(edges)
    rows = -(-len(names) // columns)
    with mpl.rc_context(mplhep.style.ATLAS):
        figure = Figure(figsize=(4.5 * columns, 3.8 * rows), layout="constrained")
        axes = np.atleast_1d(figure.subplots(rows, columns, squeeze=False)).ravel()
        for axis, name in zip(axes, names, strict=False):
            histograms = class_histograms(frame, name, edges[name])
            for cls, color in (("signal", "tab:blue"), ("background", "tab:red")):
                density, error = histograms[cls]
                mplhep.histplot(density, edges[name], yerr=error, label=cls, color=color, ax=axis)
            axis.set_xlabel(name)
            axis.set_ylabel("Normalised")
            axis.legend(fontsize="small")
        for axis in axes[len(names) :]:
            axis.set_visible(False)
    return figure


def weighted_correlation(x: np.ndarray, weight: np.ndarray) -> np.ndarray:
    """The linear correlation matrix of the columns of ``x`` (N, k) with per-event weights;
    a constant column gives NaN.  Signed weights are allowed (their sum must be positive): the
    estimate is then unbiased but, with few events, may leave [-1, 1]."""
    x = np.asarray(x, dtype=np.float64)
    weight = np.asarray(weight, dtype=np.float64)
    total = weight.sum()
    if total <= 0:
        raise ValueError(f"weighted correlation needs a positive sum of weights, got {total:g}")
    centred = x - (weight @ x) / total
    covariance = (centred * weight[:, None]).T @ centred / total
    scale = np.sqrt(np.diag(covariance))
    with np.errstate(divide="ignore", invalid="ignore"):
        return covariance / np.outer(scale, scale)


def correlation_figure(frame: pd.DataFrame, variables: Sequence[str]) -> Figure:
    """The weighted linear correlation matrices (in %) of signal and background, side by
    side, as TMVA draws them."""
    import mplhep

    variables = list(variables)
    with mpl.rc_context(mplhep.style.ATLAS):
        figure = Figure(figsize=(6.0 * 2, 5.2), layout="constrained")
        axes = figure.subplots(1, 2)
        for axis, (name, label) in zip(axes, (("Signal", 1), ("Background", 0)), strict=True):
            group = frame[frame["label"] == label]
            matrix = 100 * weighted_correlation(group[variables].to_numpy(), group["weight"])
            image = axis.imshow(matrix, vmin=-100, vmax=100, cmap="RdBu_r")
            for (i, j), value in np.ndenumerate(matrix):
                axis.text(j, i, f"{value:.0f}", ha="center", va="center", fontsize="small")
            axis.set_xticks(range(len(variables)), variables, rotation=45, ha="right")
            axis.set_yticks(range(len(variables)), variables)
            axis.set_title(f"{name}: linear correlation (%)")
        figure.colorbar(image, ax=axes, shrink=0.8)
    return figure


def binning(values: np.ndarray, bins: int = 30, quantile: float = 0.005) -> np.ndarray:
    """``bins`` equal bins between the ``quantile`` and 1 - ``quantile`` quantiles of
    ``values`` (the tails land in the edge bins, folded in by :func:`weighted_histogram`); a
    constant or empty column gets one unit-wide range around its value."""
    values = np.asarray(values, dtype=np.float64)
    values = values[np.isfinite(values)]
    if values.size == 0:
        return np.linspace(0.0, 1.0, bins + 1)
    low, high = np.quantile(values, [quantile, 1.0 - quantile])
    if not high > low:
        low, high = low - 0.5, high + 0.5
    return np.linspace(low, high, bins + 1)


def normalised_histogram(
    values: np.ndarray, weights: np.ndarray, edges: np.ndarray
) -> tuple[np.ndarray, np.ndarray]:
    """(density, error) normalised to unit area, error sqrt(sum w^2) scaled alike; zeros when
    the weights sum to zero."""
    widths = np.diff(np.asarray(edges, dtype=np.float64))
    sum_w, sum_w2 = weighted_histogram(values, weights, edges)
    norm = sum_w.sum()
    if norm == 0:
        return np.zeros_like(sum_w), np.zeros_like(sum_w)
    return sum_w / norm / widths, np.sqrt(sum_w2) / abs(norm) / widths


def overtraining_figure(
    frame: pd.DataFrame, edges: np.ndarray, pvalues: Mapping[str, float], title: str
) -> Figure:
    """TMVA's overtraining check: the classifier's distribution per class, normalised, on the
    test split (filled histograms) and the train split (points with sum-of-squared-weights
    errors); ``pvalues``: class -> the Kolmogorov-Smirnov p-value, shown in the legend.
    ``frame``: the MC rows of train and test (columns score, weight, label, split)."""
    import mplhep

    edges = np.asarray(edges, dtype=np.float64)
    with mpl.rc_context(mplhep.style.ATLAS):
        figure = Figure(figsize=(7.0, 5.5), layout="constrained")
        axis = figure.subplots()
        for cls, label, color in (("signal", 1, "tab:blue"), ("background", 0, "tab:red")):
            for split in ("test", "train"):
                rows = frame[(frame["label"] == label) & (frame["split"] == split)]
                density, error = normalised_histogram(rows["score"], rows["weight"], edges)
                if split == "test":
                    mplhep.histplot(
                        density,
                        edges,
                        histtype="fill",
                        alpha=0.35,
                        color=color,
                        label=f"{cls} (test)",
                        ax=axis,
                    )
                else:
                    mplhep.histplot(
                        density,
                        edges,
                        yerr=error,
                        histtype="errorbar",
                        color=color,
                        label=f"{cls} (train), KS p = {pvalues.get(cls, float('nan')):.3g}",
                        ax=axis,
                    )
        axis.set_xlabel("classifier score")
        axis.set_ylabel("Normalised")
        axis.set_ylim(bottom=0)
        axis.legend(title=title, fontsize="small")
    return figure


def significance_figure(
    curves: Mapping[str, pd.DataFrame], cut: float, title: str, uncertainty: float
) -> Figure:
    """The significance against the score cut, per split (``curves``: split -> columns cut,
    s_over_sqrt_s_plus_b, z_asimov, as hepml.ntuple_stats.significance_curve), with the
    chosen cut marked; below, the expected signal and background yields passing."""
    import mplhep

    styles = {"valid": "tab:green", "test": "black"}
    with mpl.rc_context(mplhep.style.ATLAS):
        figure = Figure(figsize=(7.0, 7.0))
        top, bottom = figure.subplots(
            2, 1, sharex=True, gridspec_kw={"height_ratios": [2, 1], "hspace": 0.05}
        )
        for split, curve in curves.items():
            color = styles.get(split, None)
            top.plot(curve["cut"], curve["z_asimov"], color=color, label=f"Z_A ({split})")
            top.plot(
                curve["cut"],
                curve["s_over_sqrt_s_plus_b"],
                color=color,
                linestyle="--",
                label=f"S/sqrt(S+B) ({split})",
            )
            bottom.plot(curve["cut"], curve["s"], color=color, label=f"S ({split})")
            bottom.plot(curve["cut"], curve["b"], color=color, linestyle=":", label=f"B ({split})")
        for axis in (top, bottom):
            axis.axvline(cut, color="grey", linewidth=1.0)
        top.set_ylabel("significance")
        top.set_ylim(bottom=0)
        top.legend(
            title=f"{title}\ncut {cut:.4g} (chosen on valid), sigma_b / B = {uncertainty:g}",
            fontsize="small",
        )
        bottom.set_yscale("log")
        bottom.set_ylabel("expected events")
        bottom.set_xlabel("cut on the classifier score (score >= cut)")
        bottom.legend(fontsize="x-small", ncol=2)
    return figure


def ranking_figure(table: pd.DataFrame, title: str) -> Figure:
    """Permutation importance: the mean drop of the weighted AUC per variable (bars, the most
    important on top) with the spread over the repeats. Plain matplotlib: the rule that
    draws it loads the model and runs in the training environment (no mplhep there)."""
    table = table.sort_values("rank", ascending=False)
    figure = Figure(figsize=(6.5, 0.5 * len(table) + 1.8), layout="constrained")
    axis = figure.subplots()
    error = table["auc_drop_std"].fillna(0.0).to_numpy()
    axis.barh(table["variable"], table["auc_drop"], xerr=error, color="tab:blue")
    axis.axvline(0.0, color="black", linewidth=0.8)
    axis.set_xlabel("AUC drop when permuted (validation split, weighted)")
    axis.set_title(title, fontsize="medium")
    return figure
