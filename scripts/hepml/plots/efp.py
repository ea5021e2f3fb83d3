"""Drawings of EFP multigraphs with matplotlib only (no networkx).

Vertices sit on a circle (one vertex: a dot; two: side by side); an edge of multiplicity w is
drawn as w arcs between its two vertices, bent symmetrically so that parallel edges stay
visible (a single edge is straight). Figures are ``matplotlib.figure.Figure`` objects (no
pyplot, no global state); ``hepml.steps.efp`` saves them (``hepml.io.write_figure``).
"""

from __future__ import annotations

import math

import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from matplotlib.patches import FancyArrowPatch

from hepml.efp.graphs import EFPGraph, graph_from_ndk
from hepml.efp.names import parse_efp_name

EDGE_BEND = 0.22  # arc3 curvature between neighbouring parallel edges
VERTEX_SIZE = 140


def vertex_positions(n: int) -> np.ndarray:
    """(n, 2) vertex positions on the unit circle: vertex 0 on top (left for n = 2)."""
    if n == 1:
        return np.zeros((1, 2))
    if n == 2:
        return np.array([[-1.0, 0.0], [1.0, 0.0]])
    angles = math.pi / 2 + 2 * math.pi * np.arange(n) / n
    return np.stack([np.cos(angles), np.sin(angles)], axis=1)


def edge_bends(multiplicity: int) -> list[float]:
    """arc3 curvatures of the parallel arcs of one edge: [0] for a single edge, symmetric."""
    return [EDGE_BEND * (i - (multiplicity - 1) / 2) for i in range(multiplicity)]


def draw_efp_graph(ax, graph: EFPGraph, color: str = "black") -> int:
    """Draw one multigraph on ax, every parallel edge as its own arc; returns the arcs drawn."""
    positions = vertex_positions(graph.n)
    arcs = 0
    for (i, j), weight in zip(graph.edges, graph.weights, strict=True):
        for bend in edge_bends(weight):
            ax.add_patch(
                FancyArrowPatch(
                    tuple(positions[i]),
                    tuple(positions[j]),
                    arrowstyle="-",
                    connectionstyle=f"arc3,rad={bend}",
                    color=color,
                    linewidth=1.6,
                    shrinkA=0,
                    shrinkB=0,
                )
            )
            arcs += 1
    ax.scatter(positions[:, 0], positions[:, 1], s=VERTEX_SIZE, color=color, zorder=3)
    ax.set_xlim(-1.5, 1.5)
    ax.set_ylim(-1.5, 1.5)
    ax.set_aspect("equal")
    ax.axis("off")
    return arcs


def efp_title(name: str) -> str:
    """Title of an EFP: image and graph n_d_k, then kappa and beta."""
    parts = parse_efp_name(name)
    return (
        f"{parts.image}  {parts.n}_{parts.d}_{parts.k}\n"
        f"\u03ba = {parts.kappa:g}, \u03b2 = {parts.beta:g}"
    )


def efp_figure(name: str, note: str | None = None) -> Figure:
    """Figure of the graph of one EFP, given by canonical name; note is added to the title."""
    parts = parse_efp_name(name)
    graph = graph_from_ndk(parts.n, parts.d, parts.k)
    figure = Figure(figsize=(2.6, 3.0))
    ax = figure.add_subplot(1, 1, 1)
    draw_efp_graph(ax, graph)
    ax.set_title(efp_title(name) + (f"\n{note}" if note else ""), fontsize=9)
    figure.tight_layout()
    return figure


def gallery_file_name(rank: int, name: str) -> str:
    """File name of one gallery item: rank{rank:02d}_{name}.png."""
    return f"rank{rank:02d}_{name}.png"


GALLERY_COLUMNS = ("efp", "auc", "direction")


def gallery(table: pd.DataFrame, size: int, source: str) -> list[tuple[str, Figure]]:
    """(file name, figure) of the ``size`` best single-EFP AUCs, best first.

    table: single_auc.csv of the EFP stage (columns efp, auc, direction; best first), read
    from ``source`` (named in the error when a column is missing).
    """
    missing = set(GALLERY_COLUMNS) - set(table.columns)
    if missing:
        raise ValueError(f"{source}: column(s) {sorted(missing)} missing")
    return [
        (
            gallery_file_name(rank, str(row.efp)),
            efp_figure(str(row.efp), f"AUC {row.auc:.4f} ({row.direction} = signal)"),
        )
        for rank, row in enumerate(table.head(size).itertuples(index=False), start=1)
    ]
