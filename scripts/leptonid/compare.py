"""Two or more datasets of one kind side by side: their AUC tables joined by model name.

A user who runs the published electron files beside the built-in simulation (two datasets of
kind electrons, README "Two datasets of one kind") wants to see, model by model, how the AUCs
differ and whether the difference is larger than the statistical uncertainty. The inputs are
the datasets' summary tables (:func:`leptonid.metrics.summary_table`, one row per model); the
output is one row per model name present in any of them, with each dataset's AUC and bootstrap
interval and, for every dataset after the first, the difference to the first.

The uncertainty of a difference is the two half-widths of the bootstrap intervals added in
quadrature: the datasets are independent samples, so their AUC errors are independent. The
half-width of a central 68 % interval is one standard deviation for a Gaussian AUC
distribution, which is what ``delta / delta_error`` assumes when the table is read as a pull.
"""

from __future__ import annotations

from collections.abc import Mapping

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
from matplotlib.figure import Figure  # noqa: E402

COLUMNS = ("auc", "auc_low", "auc_high")


def comparison_table(tables: Mapping[str, pd.DataFrame]) -> pd.DataFrame:
    """One row per model name: ``auc_<dataset>``, ``auc_low_<dataset>``, ``auc_high_<dataset>``
    per dataset (in the mapping's order), and ``delta_<dataset>`` = AUC minus the first
    dataset's AUC with ``delta_error_<dataset>`` for every later dataset.

    ``paper_auc`` is kept from the first table that has the model. Names missing from a
    dataset, and collapsed models (empty AUC), leave empty cells, never zeros.
    """
    if len(tables) < 2:
        raise ValueError(f"comparing datasets needs at least two tables, got {list(tables)}")
    names: list[str] = []
    for table in tables.values():
        missing = [column for column in ("name", *COLUMNS) if column not in table.columns]
        if missing:
            raise ValueError(f"an AUC table lacks the column(s) {missing}")
        names += [name for name in table["name"] if name not in names]
    result = pd.DataFrame({"name": names})
    paper = pd.Series(np.nan, index=names, dtype=float)
    for dataset, table in tables.items():
        indexed = table.set_index("name")
        for column in COLUMNS:
            values = pd.to_numeric(indexed[column], errors="coerce")
            result[f"{column}_{dataset}"] = values.reindex(names).to_numpy()
        if "paper_auc" in indexed:
            paper = paper.fillna(pd.to_numeric(indexed["paper_auc"], errors="coerce"))
    first, *others = list(tables)
    half_first = half_width(result, first)
    for dataset in others:
        result[f"delta_{dataset}"] = result[f"auc_{dataset}"] - result[f"auc_{first}"]
        result[f"delta_error_{dataset}"] = np.hypot(half_first, half_width(result, dataset))
    result["paper_auc"] = paper.reindex(names).to_numpy()
    return result


def half_width(table: pd.DataFrame, dataset: str) -> np.ndarray:
    """Half the bootstrap interval of one dataset's AUC column."""
    return 0.5 * (table[f"auc_high_{dataset}"] - table[f"auc_low_{dataset}"]).to_numpy()


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
