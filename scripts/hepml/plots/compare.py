"""The figure of rule compare_datasets: each dataset's AUC per model (hepml.compare)."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402


def comparison_figure(table: pd.DataFrame, datasets: list[str], title: str) -> Figure:
    """AUC with its bootstrap interval per model, one marker colour per dataset, the paper's
    AUC as a cross where it has one."""
    names = list(table["name"])
    positions = np.arange(len(names), dtype=float)
    figure, axes = plt.subplots(figsize=(7.0, 0.45 * len(names) + 1.6))
    offsets = np.linspace(-0.2, 0.2, len(datasets)) if len(datasets) > 1 else [0.0]
    for dataset, offset in zip(datasets, offsets, strict=True):
        auc = table[f"auc_{dataset}"].to_numpy(dtype=float)
        low = auc - table[f"auc_low_{dataset}"].to_numpy(dtype=float)
        high = table[f"auc_high_{dataset}"].to_numpy(dtype=float) - auc
        axes.errorbar(
            auc, positions + offset, xerr=[low, high], fmt="o", ms=4, capsize=2, label=dataset
        )
    paper = table["paper_auc"].to_numpy(dtype=float)
    if np.isfinite(paper).any():
        axes.plot(paper, positions, "kx", ms=6, label="paper")
    axes.set_yticks(positions, names)
    axes.invert_yaxis()
    axes.set_xlabel("test AUC (68 % bootstrap interval)")
    axes.set_title(title)
    axes.grid(axis="x", alpha=0.3)
    axes.legend(loc="lower left", fontsize=8)
    figure.tight_layout()
    return figure
