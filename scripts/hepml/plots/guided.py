"""Figures of the black-box guided search: AUC against pass, ADO histograms, chosen graphs.

Every function takes tables and numbers (never file paths) and returns a matplotlib Figure;
``hepml.steps.guided.plot_guided`` reads the files and writes them. Reference lines (the black
box, the start set's model) come from the metrics files of this run, never from typed-in numbers
(docs/reference.md 3).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 (after choosing the non-interactive backend)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hepml.guided.tables import describe_efp  # noqa: E402


@dataclass(frozen=True)
class ReferenceLine:
    """A model drawn as a horizontal band: its test AUC and bootstrap interval."""

    label: str
    auc: float | None
    auc_low: float | None = None
    auc_high: float | None = None

    @classmethod
    def from_metrics(cls, label: str, metrics: Mapping) -> ReferenceLine:
        """From an evaluate_model dict (auc is None for a collapsed model)."""
        return cls(label, metrics.get("auc"), metrics.get("auc_low"), metrics.get("auc_high"))


def efp_label(name: str | None) -> str:
    """Short label of an EFP: 'ECal 2_1_0 k=2 b=0.5' (empty for None)."""
    if not name:
        return ""
    parts = describe_efp(name)
    return f"{parts['calorimeter']} {parts['graph']} k={parts['kappa']:g} b={parts['beta']:g}"


def _finite(value) -> bool:
    return value is not None and isinstance(value, int | float) and math.isfinite(value)


def plot_auc_vs_pass(
    tables: Mapping[str, pd.DataFrame], references: Sequence[ReferenceLine], title: str = ""
):
    """Test AUC (bootstrap interval as error bars) against pass, one line per scan.

    tables: scan name -> guided.scan_table (columns pass, efp, auc, auc_low, auc_high, ...);
    references: horizontal lines with their interval as a band (collapsed ones are skipped).
    Each point after pass 0 is labelled with the EFP it added.
    """
    figure, axis = plt.subplots(figsize=(7.0, 4.8), layout="constrained")
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    max_pass = 0
    for index, (scan, table) in enumerate(tables.items()):
        colour = colours[index % len(colours)]
        data = table[pd.to_numeric(table["auc"], errors="coerce").notna()]
        passes = data["pass"].to_numpy(dtype=float) + 0.04 * index
        auc = data["auc"].to_numpy(dtype=float)
        low = pd.to_numeric(data["auc_low"], errors="coerce").fillna(data["auc"]).to_numpy(float)
        high = pd.to_numeric(data["auc_high"], errors="coerce").fillna(data["auc"]).to_numpy(float)
        axis.errorbar(
            passes,
            auc,
            yerr=[np.clip(auc - low, 0, None), np.clip(high - auc, 0, None)],
            marker="o",
            capsize=3,
            color=colour,
            label=f"scan {scan}",
        )
        for x, value, name in zip(passes, auc, data["efp"], strict=True):
            if isinstance(name, str) and name:
                axis.annotate(
                    efp_label(name),
                    (x, value),
                    textcoords="offset points",
                    xytext=(4, -10 - 8 * index),
                    fontsize=7,
                    color=colour,
                )
        if len(table):
            max_pass = max(max_pass, int(table["pass"].max()))
    styles = ["--", ":", "-."]
    for index, line in enumerate(references):
        if not _finite(line.auc):
            continue
        style = styles[index % len(styles)]
        axis.axhline(line.auc, color="black", linestyle=style, linewidth=1, label=line.label)
        if _finite(line.auc_low) and _finite(line.auc_high):
            axis.axhspan(line.auc_low, line.auc_high, color="grey", alpha=0.2, linewidth=0)
    axis.set_xticks(range(max_pass + 1))
    axis.set_xlim(-0.3, max_pass + 0.8)
    axis.set_xlabel("pass (EFPs added)")
    axis.set_ylabel("test AUC")
    axis.set_title(title or "Guided search")
    axis.legend(fontsize=8, loc="lower right")
    axis.grid(alpha=0.3)
    return figure


def plot_ado_histograms(
    rankings: Mapping[str, Sequence[pd.DataFrame]],
    chosen: Mapping[str, Sequence[str]],
    bins: int = 40,
):
    """Per scan, the distribution over candidates of the ADO with the black box on the
    disagreeing pairs, one step histogram per pass, the chosen EFP marked.

    rankings: scan -> ranking tables of passes 1..n (column ado_disagreeing);
    chosen: scan -> the EFP chosen at each of those passes.
    """
    scans = list(rankings)
    figure, axes = plt.subplots(
        1, max(1, len(scans)), figsize=(5.0 * max(1, len(scans)), 3.8), layout="constrained"
    )
    axes = np.atleast_1d(axes)
    colours = plt.rcParams["axes.prop_cycle"].by_key()["color"]
    edges = np.linspace(0.0, 1.0, bins + 1)
    for axis, scan in zip(axes, scans, strict=False):
        for index, (ranking, name) in enumerate(zip(rankings[scan], chosen[scan], strict=True)):
            colour = colours[index % len(colours)]
            values = ranking["ado_disagreeing"].to_numpy(dtype=float)
            axis.hist(values, bins=edges, histtype="step", color=colour, label=f"pass {index + 1}")
            best = ranking.loc[ranking["efp"] == name, "ado_disagreeing"]
            if len(best):
                axis.axvline(float(best.iloc[0]), color=colour, linestyle="--", linewidth=1)
        axis.axvline(0.5, color="grey", linewidth=0.8)
        if rankings[scan] and max(len(r) for r in rankings[scan]) > 100:
            axis.set_yscale("log")
        axis.set_xlabel("ADO with the black box on the disagreeing pairs")
        axis.set_ylabel("candidate EFPs")
        axis.set_title(f"scan {scan}")
        if rankings[scan]:
            axis.legend(fontsize=8)
        else:
            axis.text(0.5, 0.5, "no pass added an EFP", ha="center", va="center")
    if not scans:
        axes[0].text(0.5, 0.5, "no guided pass", ha="center", va="center")
    return figure


def draw_efp(axis, name: str) -> None:
    """Draw the multigraph of a canonical EFP name with the EFP module's drawing function."""
    from hepml.efp.graphs import graph_from_ndk
    from hepml.efp.names import parse_efp_name
    from hepml.plots.efp import draw_efp_graph

    parts = parse_efp_name(name)
    draw_efp_graph(axis, graph_from_ndk(parts.n, parts.d, parts.k))


def plot_chosen_graphs(
    chosen: Sequence[tuple[str, str]],
    draw: Callable,
):
    """One panel per chosen EFP, drawn by the EFP module's graph drawing function.

    chosen: (panel title, canonical EFP name) pairs, e.g. ("hl pass 1", "et_efp_2_1_0_k_2_b_0.5");
    draw: ``draw(axis, name)`` draws the multigraph of an EFP name on a matplotlib axis.
    """
    n = max(1, len(chosen))
    columns = min(n, 4)
    rows = math.ceil(n / columns)
    figure, axes = plt.subplots(
        rows, columns, figsize=(2.6 * columns, 2.8 * rows), layout="constrained", squeeze=False
    )
    for axis in axes.flat:
        axis.set_axis_off()
    for axis, (title, name) in zip(axes.flat, chosen, strict=False):
        draw(axis, name)
        axis.set_title(f"{title}\n{efp_label(name)}", fontsize=8)
    if not chosen:
        axes[0, 0].text(0.5, 0.5, "no EFP chosen", ha="center", va="center")
    return figure
