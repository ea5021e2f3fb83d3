"""The evaluation rules (rules/evaluate.smk): evaluate_model, summarise_dataset, plot_roc; and
plot_history (rules/train.smk), the other figure of ``leptonid.plots.eval``.

score_model, also in rules/evaluate.smk, lives with the models it loads (``leptonid.steps.models``);
plot_history lives here because its environment (envs/plot.yaml) has no TensorFlow, which
``leptonid.steps.models`` imports.
Every number comes from ``leptonid.metrics`` on the test split's scores files (y, score, weight).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from leptonid import io, metrics
from leptonid.settings import EvaluationSettings

log = logging.getLogger(__name__)

SCORE_COLUMNS = ["y", "score", "weight"]
# The training record's fields copied into the metrics file (train_info.json of the model).
TRAINING_FIELDS = ("device", "training_time_s", "train_samples_per_s", "epochs_run", "best_epoch")


def evaluate_model(
    scores_path: str | Path, info_path: str | Path, metrics_path: str | Path, settings: Mapping
) -> dict:
    """Metrics of one model's test scores (AUC with a bootstrap interval, background
    rejections, the collapse check), joined with its training record (device, training time,
    samples/s), written as JSON. settings: the rule's params (name, model, evaluation, seed)."""
    name = str(settings["name"])
    table = io.read_table(scores_path, SCORE_COLUMNS)
    result = {"name": name, "model": str(settings["model"])}
    result.update(
        metrics.evaluate_scores(
            table["y"].to_numpy(),
            table["score"],
            table["weight"],
            EvaluationSettings.from_config(settings["evaluation"]),
            int(settings["seed"]),
        )
    )
    info = io.read_json(info_path)
    result.update({key: info.get(key) for key in TRAINING_FIELDS})
    if result["status"] == metrics.STATUS_COLLAPSED:
        log.warning("%s is collapsed (%s)", name, result["collapse_reason"])
    else:
        log.info(
            "%s: AUC %.4f [%.4f, %.4f]", name, result["auc"], result["auc_low"], result["auc_high"]
        )
    io.write_json(metrics_path, result)
    return result


def summarise_dataset(
    metrics_paths: Sequence[str | Path],
    settings: Mapping,
    csv_path: str | Path,
    markdown_path: str | Path,
) -> pd.DataFrame:
    """The AUC table of every model of a dataset as CSV and as its markdown twin, next to the
    paper's numbers. settings: the rule's params (paper_reference, signal_efficiencies)."""
    table = metrics.summary_table(
        [io.read_json(path) for path in metrics_paths],
        {str(k): float(v) for k, v in settings["paper_reference"].items()},
        [float(e) for e in settings["signal_efficiencies"]],
    )
    io.write_text(csv_path, table.to_csv(index=False))
    io.write_text(markdown_path, metrics.markdown_table(table))
    collapsed = table.loc[table["status"] == metrics.STATUS_COLLAPSED, "name"].tolist()
    if collapsed:
        log.warning("collapsed models (no AUC reported): %s", collapsed)
    return table


def plot_roc(
    scores_paths: Sequence[str | Path],
    metrics_paths: Sequence[str | Path],
    names: Sequence[str],
    title: str,
    roc_path: str | Path,
    rejection_path: str | Path,
) -> None:
    """The two ROC overlays (TPR vs FPR, 1/eps_B vs eps_S) of every model of a dataset on the
    test split (weighted); a model with non-finite scores is listed without a curve."""
    from leptonid.plots import eval as plots_eval  # matplotlib: only the plotting rules need it

    curves, entries = {}, {}
    for name, scores, metrics_path in zip(names, scores_paths, metrics_paths, strict=True):
        table = io.read_table(scores, SCORE_COLUMNS)
        entries[name] = io.read_json(metrics_path)
        if not np.isfinite(table["score"]).all():
            log.warning("%s: non-finite scores, no curve drawn", name)
            continue
        curves[name] = plots_eval.roc_points(table["y"].to_numpy(), table["score"], table["weight"])
    roc, rejection = plots_eval.plot_roc_overlay(curves, entries, title)
    io.write_figure(roc, roc_path)
    io.write_figure(rejection, rejection_path)


def plot_history(history_path: str | Path, figure_path: str | Path, title: str) -> None:
    """The training curves of one model (loss, AUC and learning rate per epoch; loss per
    boosting iteration for a BDT)."""
    from leptonid.plots import eval as plots_eval  # matplotlib: only the plotting rules need it

    io.write_figure(plots_eval.plot_history(io.read_csv(history_path), title), figure_path)
