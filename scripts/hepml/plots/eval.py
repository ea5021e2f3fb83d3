"""Figures of the training and evaluation stages: ROC overlays and training curves.

Figures are built on ``matplotlib.figure.Figure`` (no pyplot, no global state) and returned;
``hepml.steps`` reads the rule inputs and saves them (``hepml.io.write_figure``). ROC
figures are SVG with text kept as text, so names and AUCs in the legend stay searchable in the
report.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.ticker import MaxNLocator

from hepml import metrics

log = logging.getLogger(__name__)

SIGNAL_EFFICIENCY_GRID = np.linspace(0.005, 1.0, 400)  # eps_S where curves are drawn


def roc_points(
    y: np.ndarray, score: np.ndarray, weight: np.ndarray | None, grid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """(eps_S, eps_B) on a signal-efficiency grid (default 400 points), for plotting.

    eps_B is the ROC (linear between its points) at each eps_S; the full curve has one point
    per distinct score, far more than a figure needs.
    """
    grid = SIGNAL_EFFICIENCY_GRID if grid is None else grid
    fpr, tpr, _ = metrics.roc_curve(y, score, weight)
    eps_b = np.array([metrics.background_efficiency_at(fpr, tpr, e) for e in grid])
    return grid, eps_b


def curve_label(name: str, entry: Mapping) -> str:
    """Legend text: name and AUC with its bootstrap interval, or the collapsed status."""
    if entry.get("status") == metrics.STATUS_COLLAPSED:
        return f"{name}: collapsed (no AUC)"
    auc, low, high = entry.get("auc"), entry.get("auc_low"), entry.get("auc_high")
    if low is None or high is None:
        return f"{name}: AUC {auc:.4f}"
    return f"{name}: AUC {auc:.4f} [{low:.4f}, {high:.4f}]"


def plot_roc_overlay(
    curves: Mapping[str, tuple[np.ndarray, np.ndarray]],
    entries: Mapping[str, Mapping],
    title: str,
) -> tuple[Figure, Figure]:
    """Two figures of every model: TPR vs FPR, and background rejection 1/eps_B (log) vs eps_S.

    curves: name -> (eps_S, eps_B) arrays; entries: name -> metrics dict (status, AUC).
    Collapsed models are drawn dashed and grey, labelled as collapsed.
    """
    roc, rejection = Figure(figsize=(6.4, 5.2)), Figure(figsize=(6.4, 5.2))
    ax_roc, ax_rej = roc.add_subplot(), rejection.add_subplot()
    for name, (eps_s, eps_b) in curves.items():
        entry = entries.get(name, {})
        collapsed = entry.get("status") == metrics.STATUS_COLLAPSED
        style = {"linestyle": "--", "color": "0.6"} if collapsed else {}
        label = curve_label(name, entry)
        ax_roc.plot(np.r_[0.0, eps_b, 1.0], np.r_[0.0, eps_s, 1.0], label=label, **style)
        finite = eps_b > 0
        ax_rej.plot(eps_s[finite], 1.0 / eps_b[finite], label=label, **style)
    diagonal = np.linspace(0, 1, 2)
    ax_roc.plot(diagonal, diagonal, color="0.8", linewidth=0.8, label="random guess")
    ax_roc.set(xlabel="background efficiency $\\epsilon_B$ (FPR)", xlim=(0, 1), ylim=(0, 1.01))
    ax_roc.set(ylabel="signal efficiency $\\epsilon_S$ (TPR)", title=title)
    ax_rej.plot(
        SIGNAL_EFFICIENCY_GRID,
        1 / SIGNAL_EFFICIENCY_GRID,
        color="0.8",
        linewidth=0.8,
        label="random guess",
    )
    ax_rej.set_yscale("log")
    ax_rej.set(
        xlabel="signal efficiency $\\epsilon_S$", ylabel="background rejection $1/\\epsilon_B$"
    )
    ax_rej.set(xlim=(0, 1), title=title)
    for ax in (ax_roc, ax_rej):
        ax.grid(alpha=0.3)
        ax.legend(fontsize="x-small", loc="lower right" if ax is ax_roc else "upper right")
    for figure in (roc, rejection):
        figure.tight_layout()
    return roc, rejection


def plot_history(history: pd.DataFrame, title: str) -> Figure:
    """Training curves: loss and val_loss per epoch (or boosting iteration), with AUC and the
    learning rate for networks."""
    figure = Figure(figsize=(9.6, 3.8))
    step = "epoch" if "epoch" in history.columns else "iteration"
    has_auc = "val_auc" in history.columns
    ax_loss = figure.add_subplot(1, 2 if has_auc else 1, 1)
    ax_loss.plot(history[step], history["loss"], marker="o", markersize=3, label="train")
    ax_loss.plot(history[step], history["val_loss"], marker="o", markersize=3, label="valid")
    ax_loss.set(xlabel=step, ylabel="binary cross-entropy (weighted)", title=f"{title}: loss")
    ax_loss.legend(fontsize="small")
    ax_loss.grid(alpha=0.3)
    if has_auc:
        ax_auc = figure.add_subplot(1, 2, 2)
        ax_auc.plot(history[step], history["auc"], marker="o", markersize=3, label="train AUC")
        ax_auc.plot(history[step], history["val_auc"], marker="o", markersize=3, label="valid AUC")
        ax_auc.set(xlabel=step, ylabel="AUC", title=f"{title}: AUC and learning rate")
        ax_auc.grid(alpha=0.3)
        ax_lr = ax_auc.twinx()
        ax_lr.step(history[step], history["lr"], where="mid", color="0.5", linestyle=":")
        ax_lr.set_yscale("log")
        ax_lr.set_ylabel("learning rate (dotted)")
        ax_auc.legend(fontsize="small", loc="lower right")
    for ax in figure.axes:
        ax.xaxis.set_major_locator(MaxNLocator(integer=True))
    figure.tight_layout()
    return figure
