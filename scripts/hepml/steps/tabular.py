"""The tabular rules (rules/tabular.smk, docs/tabular.md): unpack_table, plot_table and
higgs_benchmark.

A dataset of kind ``tabular`` is one table of events (hepml.io.tabular): unpack_table reads
it once, in blocks, and writes per split ``features.feather`` (one float32 column per
configured feature), ``y.feather`` and ``weight.feather``. Models read a feature set's columns
as one flat input (hepml.io.dataset.load_split) and go through the shared train, score and
evaluate rules; higgs_benchmark adds the discovery significance of the Higgs paper
(arXiv:1402.4735 Table 3) with the threshold chosen on the validation split and measured on
the test split, beside the paper's numbers.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence

import pandas as pd

from hepml import io
from hepml.io import tabular

log = logging.getLogger(__name__)

CLASS_NAMES = ("background (y = 0)", "signal (y = 1)")
PAPER_NOTE = (
    "\nPaper columns: Baldi, Sadowski & Whiteson, Nature Commun. 5, 4308 (2014), "
    "arXiv:1402.4735, Tables 1 and 3 (DN: deep network, NN: shallow network, BDT), on the UCI "
    "HIGGS events (2.6 M to 10.5 M training events), not on these events: shown for orientation, "
    "never used as a target. Significance: Asimov profile-likelihood Z of the cut score >= "
    "threshold for {signal:g} signal and {background:g} +- {uncertainty:g} background events "
    "before the cut, the threshold chosen on the validation split (at least "
    "{min_background:g} background events selected there) and measured on the test split "
    '(docs/tabular.md "Discovery significance").\n'
)


def unpack_table(inputs: Mapping, outputs: Mapping, params: Mapping) -> dict[str, int]:
    """The table (inputs table) -> every split's features, y and weight (outputs
    ``{split}_{key}``); params: table (datasets.<name>.table), seed, where (its config key).
    Returns the rows per split. Bad input raises io.DataError (hepml.io.tabular) and leaves
    no output behind."""
    params = params["settings"]
    spec = tabular.TableSpec.from_config(params.get("table"), params.get("where", "table"))
    by_split = {
        split: {key: outputs[f"{split}_{key}"] for key in tabular.KEYS}
        for split in ("train", "valid", "test")
    }
    return tabular.unpack_table(
        str(inputs["table"]), spec, by_split, int(params["seed"]), params.get("where", "table")
    )


def plot_table(inputs: Mapping, outputs: Mapping, dataset: str) -> None:
    """Every feature's distribution per class on the valid split (normalised, weighted)."""
    from hepml.plots import data as plots_data

    frame = io.read_table(inputs["features"])  # one float32 column per feature
    columns = {name: frame[name].to_numpy() for name in frame.columns}
    figure = plots_data.plot_feature_distributions(
        columns,
        io.read_array(inputs["y"]),
        io.read_array(inputs["weight"]),
        CLASS_NAMES,
        f"{dataset}, valid split",
    )
    io.write_figure(figure, outputs["features"])


def benchmark_row(
    name: str,
    metrics_entry: Mapping,
    valid: pd.DataFrame,
    test: pd.DataFrame,
    settings,
    reference: Mapping,
) -> dict:
    """One model's row: test AUC and interval (evaluate_model), the significance with the
    threshold chosen on valid and measured on test, and the paper's values."""
    from hepml import metrics

    row = {
        "name": name,
        "model": metrics_entry.get("model"),
        "auc": metrics_entry.get("auc"),
        "auc_low": metrics_entry.get("auc_low"),
        "auc_high": metrics_entry.get("auc_high"),
        "significance": None,
        "significance_valid": None,
        "threshold": None,
        "eps_s_test": None,
        "eps_b_test": None,
    }
    if metrics_entry.get("status", metrics.STATUS_OK) == metrics.STATUS_OK:
        chosen = metrics.choose_threshold(valid["y"], valid["score"], valid["weight"], settings)
        measured = metrics.significance_at(
            test["y"], test["score"], test["weight"], chosen["threshold"], settings
        )
        row.update(
            significance=measured["z"],
            significance_valid=chosen["z"],
            threshold=chosen["threshold"],
            eps_s_test=measured["eps_s"],
            eps_b_test=measured["eps_b"],
        )
    else:
        log.warning("%s: collapsed model, no significance", name)
    row.update(
        paper_model=reference.get("tagger"),
        paper_auc=reference.get("auc"),
        paper_significance=reference.get("significance"),
    )
    return row


def higgs_benchmark(inputs: Mapping, outputs: Mapping, params: Mapping) -> pd.DataFrame:
    """The Higgs benchmark table (outputs table csv, markdown): per result name (params
    names, in the order of the inputs metrics, valid and test) the test AUC, the discovery
    significance (params significance: hepml.metrics.SignificanceSettings) and the paper's
    values (params published: name -> tagger, auc, significance)."""
    from hepml import metrics

    params = params["settings"]
    settings = metrics.SignificanceSettings.from_config(params.get("significance"))
    names: Sequence[str] = params["names"]
    published = params.get("published") or {}
    lists = [[str(path) for path in inputs[key]] for key in ("metrics", "valid", "test")]
    if any(len(paths) != len(names) for paths in lists):
        raise ValueError(
            f"higgs_benchmark: {len(names)} result names but {[len(p) for p in lists]} "
            "metrics/valid/test files"
        )
    rows = []
    for name, metrics_path, valid_path, test_path in zip(names, *lists, strict=True):
        entry = io.read_json(metrics_path)
        if entry.get("name", name) != name:
            raise ValueError(f"{metrics_path}: metrics of {entry.get('name')!r}, expected {name!r}")
        rows.append(
            benchmark_row(
                name,
                entry,
                io.read_table(valid_path, ["y", "score", "weight"]),
                io.read_table(test_path, ["y", "score", "weight"]),
                settings,
                published.get(name) or {},
            )
        )
    table = pd.DataFrame(rows)
    io.write_text(outputs["table"], table.to_csv(index=False))
    note = PAPER_NOTE.format(
        signal=settings.signal_events,
        background=settings.background_events,
        uncertainty=settings.background_uncertainty,
        min_background=settings.min_background_selected,
    )
    io.write_text(outputs["markdown"], metrics.markdown_table(table) + note)
    return table
