"""End to end: the tiny full config in a temporary copy of the repository, then the HTML report.

Takes the finished run of ``tests/tiny_full.yaml`` (tests/conftest.py ``tiny_run``: simulation,
unpacking, EFPs, training, evaluation, guided search), builds ``results/report.html`` and
checks that every model of every dataset of the tiny config is in it: its metrics file, its
curve in the ROC overlays, its row in the AUC table and its training curve, each with a caption
saying what to look for; and the comparison of the two electron datasets.
"""

import base64
import json
import re
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
CONFIG = "tests/tiny_full.yaml"


def report_variable(html: str, name: str):
    """A JSON value the Snakemake report embeds as ``var <name> = ...``."""
    match = re.search(rf"var {name} = (?=[{{\"])", html)
    assert match, f"report has no variable {name!r}"
    return json.JSONDecoder().raw_decode(html, match.end())[0]


def embedded(entry: dict) -> bytes:
    """The file content of a report entry (a base64 data URI)."""
    return base64.b64decode(entry["data_uri"].split("base64,", 1)[1])


def check_dataset_in_report(
    results: dict, dataset: str, feature_sets: dict, may_not_learn=()
) -> None:
    """Every model of one dataset: metrics, ROC and rejection curves, table row, history.
    Each model's status is ok, but for the names in ``may_not_learn`` (which may collapse)."""
    names = [name for feature_set in feature_sets.values() for name in feature_set.names]
    summary = f"results/{dataset}/summary"
    roc_svg = embedded(results[f"{summary}/roc.svg"]).decode()
    rejection_svg = embedded(results[f"{summary}/rejection.svg"]).decode()
    table = embedded(results[f"{summary}/auc_table.csv"]).decode()
    table_rows = {line.split(",")[0]: line for line in table.splitlines()[1:]}
    assert "paper_auc" in table.splitlines()[0] and "train_samples_per_s" in table.splitlines()[0]
    for name in names:
        metrics_entry = results[f"results/{dataset}/metrics/{name}.json"]
        metrics = json.loads(embedded(metrics_entry))
        assert metrics["name"] == name and metrics["status"] in ("ok", "collapsed")
        assert metrics["status"] == "ok" or name in may_not_learn, (dataset, name)
        assert metrics["n_test"] > 0 and metrics["device"]
        if metrics["status"] == "ok":
            assert 0 <= metrics["auc_low"] <= metrics["auc"] <= metrics["auc_high"] <= 1
        else:
            assert metrics["auc"] is None
        # legend text is kept as text in the SVG: "<name>: AUC ..." or "<name>: collapsed"
        assert f">{name}: " in roc_svg and f">{name}: " in rejection_svg
        assert name in table_rows and metrics["status"] in table_rows[name]
        history = results[f"results/{dataset}/models/{name}/history.png"]
        assert embedded(history).startswith(b"\x89PNG")
        for entry in (metrics_entry, history):
            assert "What to look for" in entry["caption"]
            assert entry["labels"]["dataset"] == dataset
    for figure in ("roc.svg", "rejection.svg", "auc_table.csv"):
        assert "What to look for" in results[f"{summary}/{figure}"]["caption"]


def test_roc_figures_label_every_model_and_mark_collapsed_ones(tmp_path):
    import numpy as np
    from hepml import io
    from hepml.plots import eval as plots_eval

    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 500)
    good = rng.normal(size=500) + 2 * y
    curves = {
        "et_and_ht": plots_eval.roc_points(y, good, None),
        "ht": plots_eval.roc_points(y, rng.normal(size=500), None),
    }
    entries = {
        "et_and_ht": {"status": "ok", "auc": 0.9, "auc_low": 0.89, "auc_high": 0.91},
        "ht": {"status": "collapsed", "auc": None},
    }
    roc, rejection = plots_eval.plot_roc_overlay(curves, entries, "test")
    for figure, name in ((roc, "roc.svg"), (rejection, "rejection.svg")):
        labels = [t.get_text() for t in figure.axes[0].get_legend().get_texts()]
        assert labels[:2] == ["et_and_ht: AUC 0.9000 [0.8900, 0.9100]", "ht: collapsed (no AUC)"]
        io.write_figure(figure, tmp_path / name)
        assert ">ht: collapsed (no AUC)<" in (tmp_path / name).read_text()
    eps_s, eps_b = curves["et_and_ht"]
    assert np.all(np.diff(eps_b) >= 0) and eps_s[-1] == 1.0
