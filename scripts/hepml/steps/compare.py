"""The rule compare_datasets: the AUC tables of the datasets of one kind, side by side."""

from __future__ import annotations

import logging
from collections.abc import Mapping

import pandas as pd

from hepml import compare, io, metrics

log = logging.getLogger(__name__)


def compare_datasets(
    inputs: Mapping, outputs: Mapping, params: Mapping, *, kind: str
) -> pd.DataFrame:
    """Join the datasets' summary/auc_table.csv (``inputs['tables']``, one per dataset in
    ``params['datasets']``' order) into ``outputs['table']`` (CSV), ``outputs['markdown']`` and
    ``outputs['figure']``."""
    tables = [str(path) for path in inputs["tables"]]
    datasets = [str(dataset) for dataset in params["datasets"]]
    if len(tables) != len(datasets):
        raise ValueError(f"{len(tables)} tables for the datasets {list(datasets)}")
    joined = compare.comparison_table(
        {dataset: io.read_csv(path) for dataset, path in zip(datasets, tables, strict=True)}
    )
    io.write_text(outputs["table"], joined.to_csv(index=False))
    io.write_text(outputs["markdown"], metrics.markdown_table(joined))
    from hepml.plots.compare import comparison_figure  # matplotlib: only here

    title = f"{kind}: {' vs '.join(datasets)}"
    io.write_figure(comparison_figure(joined, list(datasets), title), outputs["figure"])
    first = datasets[0]
    for dataset in datasets[1:]:
        deltas = joined[f"delta_{dataset}"]
        pulls = deltas / joined[f"delta_error_{dataset}"]
        for name, delta, pull in zip(joined["name"], deltas, pulls, strict=True):
            log.info("%s: AUC(%s) - AUC(%s) = %+.4f (%.1f sd)", name, dataset, first, delta, pull)
    return joined
