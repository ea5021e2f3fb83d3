"""The TMVA-style figures and tables of the ntuple analyses (rules/ntuple_figures.smk,
docs/ntuples.md "Figures"): input variables and correlations, the overtraining check, the
variable ranking, the significance curve, data against the stacked simulation, and their
summary tables.

They read the per-sample tables (``results/{dataset}/ntuples/{sample}.feather``) and the
applied tables (``results/{dataset}/applied/{name}.feather``: every row of every sample with
its ``split`` and the model's ``score``). Choices are made on the validation split (the cut of
the significance), numbers reported on the test split; expected yields of a split are its MC
weights x 1 / (the split's nominal fraction, ``ntuples.split``). Yields use the signed
physics weights (``weight``) throughout.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence

import numpy as np
import pandas as pd

from hepml import io, metrics, ntuple_stats

log = logging.getLogger(__name__)

#: The columns of an applied table every figure reads (docs/ntuples.md "Application").
APPLIED_COLUMNS = ("score", "weight", "label", "split", "process")
#: Bins of the score and variable histograms (TMVA draws 40 for the classifier).
SCORE_BINS = 40
VARIABLE_BINS = 30
SIGNIFICANCE_NOTE = (
    "\nCut on the classifier score (score >= cut) chosen on the validation split: the highest "
    "Asimov significance Z_A with sigma_b = background_uncertainty x B (Cowan, Cranmer, Gross & "
    "Vitells, EPJC 71, 1554 (2011); hepml.metrics.asimov_significance), among cuts keeping at "
    "least {min_background:g} expected and {min_background_mc} simulated background events. "
    "S and B are expected events at the dataset's luminosity: a split's MC weights (signed) "
    "x 1 / (its nominal fraction: valid {valid:g}, test {test:g}). Test columns report.\n"
)
OVERTRAINING_NOTE = (
    "\nTrain against test classifier scores per class: Kolmogorov-Smirnov test weighted with "
    "the signed physics weights (p-value from Smirnov's distribution at the effective sample "
    "sizes (sum w)^2 / sum w^2; hepml.ntuple_stats.weighted_ks), and scipy's unweighted "
    "ks_2samp p-value beside it. A small p-value (say below 0.01) says the model scores a "
    "class's training events differently from unseen ones: overtraining.\n"
)
YIELDS_NOTE = (
    "\nMC: the test split's events, weights (signed) x 1 / {test:g} (the test fraction), error "
    "sqrt(sum w^2); data: every event, error sqrt(N). After: score >= {cut:.6g}, the cut chosen "
    "on the validation split (summary/significance.md).\n"
)


def read_applied(path, extra: Sequence[str] = ()) -> pd.DataFrame:
    """The columns the figures read from an applied table, checked: scores finite, splits
    known, data rows (split ``data``) unlabeled and MC rows labeled 0 or 1. DataError names
    the file, the column and what was expected."""
    columns = list(dict.fromkeys([*APPLIED_COLUMNS, *extra]))
    frame = io.read_table(path, columns)
    score = frame["score"].to_numpy(np.float64)
    if not np.isfinite(score).all():
        raise io.DataError(
            f"{path}: column 'score' has {int((~np.isfinite(score)).sum())} NaN or infinite "
            "values (expected a finite classifier output for every row)"
        )
    known = {*ntuple_stats.MC_SPLITS, ntuple_stats.DATA_SPLIT}
    unknown = sorted(set(frame["split"].unique()) - known)
    if unknown:
        raise io.DataError(
            f"{path}: column 'split' has {unknown} (expected one of {sorted(known)})"
        )
    is_data = (frame["split"] == ntuple_stats.DATA_SPLIT).to_numpy()
    label = frame["label"]
    if label[is_data].notna().any() or not label[~is_data].isin((0, 1)).all():
        raise io.DataError(
            f"{path}: column 'label' must be null on data rows (split 'data') and 0 or 1 on MC rows"
        )
    return frame


def _check_classes(frame: pd.DataFrame, split: str, path) -> None:
    rows = ntuple_stats.simulated(frame, split)
    for cls, label in (("signal", 1), ("background", 0)):
        if not (rows["label"] == label).any():
            raise io.DataError(f"{path}: no {cls} events in the {split} split (column 'split')")


def _chosen_cut(path, name: str) -> float:
    """The cut chosen on valid, from the significance table of one result name."""
    table = io.read_csv(path)
    if "cut" not in table or "name" not in table or len(table) != 1:
        raise io.DataError(f"{path}: expected one row with columns 'name' and 'cut'")
    if table["name"].iloc[0] != name:
        raise io.DataError(f"{path}: the cut of {table['name'].iloc[0]!r}, expected {name!r}")
    return float(table["cut"].iloc[0])


def plot_ntuple_inputs(inputs: Mapping, outputs: Mapping, params: Mapping) -> None:
    """The input variables and spectators per class (weighted, normalised) and the linear
    correlation matrices of the variables for signal and background, on the MC of the train
    split (inputs tables: the MC samples' tables; params settings: variables, spectators)."""
    from hepml.plots import ntuples as plots

    settings = params["settings"]
    variables, spectators = list(settings["variables"]), list(settings.get("spectators") or [])
    columns = [*variables, *spectators]
    tables = [str(path) for path in inputs["tables"]]
    frames = [io.read_table(path, [*columns, "weight", "label", "split"]) for path in tables]
    frame = ntuple_stats.simulated(pd.concat(frames, ignore_index=True), "train")
    _check_classes(frame, "train", ", ".join(tables))
    edges = {name: plots.binning(frame[name], VARIABLE_BINS) for name in columns}
    distributions = plots.variable_distributions_figure(frame, edges)
    correlation = plots.correlation_figure(frame, variables)
    io.write_figure(distributions, outputs["variables"])
    io.write_figure(correlation, outputs["correlation"])


def plot_ntuple_overtraining(
    inputs: Mapping, outputs: Mapping, *, dataset: str, name: str
) -> pd.DataFrame:
    """Train against test classifier distributions per class (outputs figure) and the KS
    p-values (outputs table: hepml.ntuple_stats.overtraining_table)."""
    from hepml.plots import ntuples as plots

    frame = read_applied(inputs["applied"])
    for split in ("train", "test"):
        _check_classes(frame, split, inputs["applied"])
    table = ntuple_stats.overtraining_table(frame, name)
    mc = frame[frame["split"].isin(("train", "test")).to_numpy()]
    edges = np.linspace(mc["score"].min(), mc["score"].max(), SCORE_BINS + 1)
    if not edges[-1] > edges[0]:
        edges = np.linspace(edges[0] - 0.5, edges[0] + 0.5, SCORE_BINS + 1)
    pvalues = dict(zip(table["class"], table["ks_pvalue"], strict=True))
    figure = plots.overtraining_figure(mc, edges, pvalues, f"{dataset} {name} (weighted KS)")
    io.write_text(outputs["table"], table.to_csv(index=False))
    io.write_figure(figure, outputs["figure"])
    return table


def ntuple_significance(
    inputs: Mapping, outputs: Mapping, params: Mapping, *, dataset: str, name: str
) -> dict:
    """The significance against the score cut on valid and test (outputs figure) and the
    cut chosen on valid with its values on both splits (outputs table, one row); params
    settings: fractions (ntuples.split), significance (ntuples.significance)."""
    from hepml.plots import ntuples as plots

    settings = params["settings"]
    significance = ntuple_stats.NtupleSignificanceSettings.from_config(settings["significance"])
    frame = read_applied(inputs["applied"])
    for split in ("valid", "test"):
        _check_classes(frame, split, inputs["applied"])
    row, curves = ntuple_stats.significance_row(
        frame, name, settings.get("fractions"), significance
    )
    figure = plots.significance_figure(
        curves, row["cut"], f"{dataset} {name}", significance.background_uncertainty
    )
    io.write_text(outputs["table"], pd.DataFrame([row]).to_csv(index=False))
    io.write_figure(figure, outputs["figure"])
    log.info(
        "%s: cut %.6g chosen on valid (Z_A %.4g), test Z_A %.4g",
        name,
        row["cut"],
        row["valid_z_asimov"],
        row["test_z_asimov"],
    )
    return row


def default_scorer(model_dir: str, name: str, frame: pd.DataFrame, columns) -> np.ndarray:
    """The trained model's scores of a table's rows (NWIRE's hepml.steps.ntuples.score_frame,
    imported here only: it may load TensorFlow)."""
    from hepml.steps.ntuples import score_frame

    return score_frame(model_dir, name, frame, columns)


def ntuple_ranking(
    inputs: Mapping,
    outputs: Mapping,
    params: Mapping,
    *,
    dataset: str,
    name: str,
    scorer: Callable | None = None,
) -> pd.DataFrame:
    """Permutation importance on the validation split (outputs table, figure): the drop of
    the weighted AUC when one of the model's columns is permuted (params settings: columns,
    repeats, seed; inputs applied and the model's files, whose folder is the model)."""
    from pathlib import Path

    from hepml.plots import ntuples as plots

    settings = params["settings"]
    ranking = ntuple_stats.NtupleRankingSettings.from_config(settings.get("ranking"))
    columns = list(settings["columns"])
    model_dir = str(Path(str(inputs["model"])).parent)
    frame = read_applied(inputs["applied"], columns)
    _check_classes(frame, "valid", inputs["applied"])
    valid = ntuple_stats.simulated(frame, "valid").reset_index(drop=True)
    score_rows = scorer or default_scorer

    def score(rows: pd.DataFrame) -> np.ndarray:
        return np.asarray(score_rows(model_dir, name, rows, columns), dtype=np.float64)

    table = ntuple_stats.permutation_importance(
        valid, columns, score, ranking.repeats, int(settings["seed"])
    )
    stored = metrics.auc(valid["label"], valid["score"], valid["weight"])
    if not np.isclose(stored, table["auc"].iloc[0], atol=1e-6):
        log.warning(
            "%s: the model scores the valid rows to AUC %.6f, the applied table's scores give "
            "%.6f (different model files?)",
            name,
            table["auc"].iloc[0],
            stored,
        )
    figure = plots.ranking_figure(table, f"{dataset} {name}: permutation importance")
    io.write_text(outputs["table"], table.to_csv(index=False))
    io.write_figure(figure, outputs["figure"])
    return table


def plot_ntuple_data_mc(
    inputs: Mapping, outputs: Mapping, params: Mapping, *, name: str, column: str
) -> None:
    """Data against the stacked simulation (test split x 1 / test fraction) of one variable
    or spectator, before (outputs before) and after (outputs after) the cut chosen on valid
    (inputs significance), with a ratio panel; params settings: fractions."""
    from hepml.plots import ntuples as plots

    fractions = params["settings"].get("fractions")
    cut = _chosen_cut(inputs["significance"], name)
    frame = read_applied(inputs["applied"], [column])
    before = ntuple_stats.data_mc_frame(frame, fractions)
    after = ntuple_stats.data_mc_frame(frame, fractions, cut)
    edges = plots.binning(before[column], VARIABLE_BINS)
    scale = f"MC: test split x 1/{ntuple_stats.split_fraction('test', fractions):g}"
    figures = {
        "before": plots.data_mc_figure(before, column, edges, note=f"{name}, no cut\n{scale}"),
        "after": plots.data_mc_figure(
            after, column, edges, note=f"{name}, score >= {cut:.4g}\n{scale}"
        ),
    }
    for when, figure in figures.items():
        io.write_figure(figure, outputs[when])


def ntuple_data_mc_yields(
    inputs: Mapping, outputs: Mapping, params: Mapping, *, name: str
) -> pd.DataFrame:
    """Yields per process, total MC, data and data / MC before and after the cut chosen on
    valid (outputs table csv, markdown; hepml.ntuple_stats.yields_table)."""
    fractions = params["settings"].get("fractions")
    cut = _chosen_cut(inputs["significance"], name)
    frame = read_applied(inputs["applied"])
    table = ntuple_stats.yields_table(frame, fractions, cut)
    note = YIELDS_NOTE.format(test=ntuple_stats.split_fraction("test", fractions), cut=cut)
    io.write_text(outputs["table"], table.to_csv(index=False))
    io.write_text(outputs["markdown"], metrics.markdown_table(table) + note)
    return table


def _gather(paths: Sequence, names: Sequence[str], what: str) -> pd.DataFrame:
    if len(paths) != len(names):
        raise ValueError(f"{what}: {len(names)} result names but {len(paths)} tables")
    tables = []
    for name, path in zip(names, paths, strict=True):
        table = io.read_csv(path)
        if "name" not in table or set(table["name"]) != {name}:
            raise io.DataError(f"{path}: expected the rows of {name!r} (column 'name')")
        tables.append(table)
    return pd.concat(tables, ignore_index=True)


def summarise_ntuple_figures(inputs: Mapping, outputs: Mapping, params: Mapping) -> None:
    """The overtraining and significance tables of every result name (inputs overtraining,
    significance: one table per name, in the order of params settings names) as one CSV and
    one markdown table each (outputs)."""
    settings = params["settings"]
    names = list(settings["names"])
    overtraining = _gather(list(inputs["overtraining"]), names, "overtraining")
    significance = _gather(list(inputs["significance"]), names, "significance")
    fractions = settings.get("fractions")
    options = ntuple_stats.NtupleSignificanceSettings.from_config(settings.get("significance"))
    note = SIGNIFICANCE_NOTE.format(
        min_background=options.min_background,
        min_background_mc=options.min_background_mc,
        valid=ntuple_stats.split_fraction("valid", fractions),
        test=ntuple_stats.split_fraction("test", fractions),
    )
    shown = ["name", "cut", "background_uncertainty"] + [
        f"{split}_{key}"
        for split in ("valid", "test")
        for key in ("s", "b", "s_over_sqrt_s_plus_b", "z_asimov")
    ]
    io.write_text(outputs["overtraining"], overtraining.to_csv(index=False))
    io.write_text(
        outputs["overtraining_markdown"], metrics.markdown_table(overtraining) + OVERTRAINING_NOTE
    )
    io.write_text(outputs["significance"], significance.to_csv(index=False))
    io.write_text(
        outputs["significance_markdown"], metrics.markdown_table(significance[shown]) + note
    )
