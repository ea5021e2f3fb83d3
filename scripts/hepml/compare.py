"""Two or more datasets of one kind side by side: their AUC tables joined by model name.

A user who runs the published electron files beside the built-in simulation (two datasets of
kind electrons, README "Two datasets of one kind") wants to see, model by model, how the AUCs
differ and whether the difference is larger than the statistical uncertainty. The inputs are
the datasets' summary tables (:func:`hepml.metrics.summary_table`, one row per model); the
output is one row per model name present in any of them, with each dataset's AUC and bootstrap
interval and, for every dataset after the first, the difference to the first.

The uncertainty of a difference is the two half-widths of the bootstrap intervals added in
quadrature: the datasets are independent samples, so their AUC errors are independent. The
half-width of a central 68 % interval is one standard deviation for a Gaussian AUC
distribution, which is what ``delta / delta_error`` assumes when the table is read as a pull.
The figure of the table is :func:`hepml.plots.compare.comparison_figure`.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np
import pandas as pd

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
