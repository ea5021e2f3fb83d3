"""The guided search's rules (rules/guided.smk, docs/guided.md): select_next_efp, summarise_scan,
plot_guided.

Everything it reads is on the validation split: the scores of the pass n-1 model and of the
black box, and the validation EFP table, streamed in groups of columns of at most one
``efp.storage`` block, so the ADO ranking of the whole paper grid fits a small job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from hepml import io, metrics
from hepml.efp.settings import storage_settings
from hepml.guided.search import PassSelection, candidate_pool
from hepml.guided.search import select_next_efp as select_pass
from hepml.guided.tables import scan_markdown, scan_table, single_aucs
from hepml.io import efp_store
from hepml.steps.efp import read_kept

log = logging.getLogger(__name__)


def _scores(path: str | Path) -> pd.DataFrame:
    return io.read_table(path, ["y", "score", "weight"])


def select_next_efp(inputs: Mapping, outputs: Mapping, params: Mapping) -> PassSelection:
    """One pass of the guided search on the validation split, from files to files.

    inputs model_scores, black_box_scores: Feather tables y, score, weight of the same
    validation events (score_model); valid_efps: the validation EFP table; kept: kept EFP
    names; previous_choice: choice.json of pass n-1 (absent for pass 1). params settings:
    pass, candidates, n_pairs, max_passes, seed, storage (the efp storage block) and
    feature_set, the pass n feature set (FeatureSet dict) with the start set's EFPs only; the
    chosen ones are appended in outputs feature_set (outputs pairs, ranking, choice: the
    pass's summary, ADO ranking and choice). The AUC stop compares the two models' AUCs on
    these validation scores.
    """
    settings = params["settings"]
    model_scores_path = str(inputs["model_scores"])
    black_box_scores_path = str(inputs["black_box_scores"])
    efp_index, kept_path = str(inputs["valid_efps"]), str(inputs["kept"])
    previous_choice_path = inputs.get("previous_choice")
    feature_set = settings["feature_set"]
    pass_index, candidates = int(settings["pass"]), str(settings["candidates"])
    n_pairs, max_passes = int(settings["n_pairs"]), int(settings["max_passes"])
    seed, storage = int(settings["seed"]), storage_settings(settings["storage"])
    pairs_path, ranking_path = str(outputs["pairs"]), str(outputs["ranking"])
    choice_path, feature_set_path = str(outputs["choice"]), str(outputs["feature_set"])
    model = _scores(model_scores_path)
    black_box = _scores(black_box_scores_path)
    if len(model) != len(black_box) or not np.array_equal(model["y"], black_box["y"]):
        raise io.DataError(
            f"{model_scores_path} and {black_box_scores_path}: labels differ; both must score "
            "the same validation events in the same order"
        )
    chosen_before = (
        [] if previous_choice_path is None else io.read_json(previous_choice_path)["efps"]
    )
    start_efps = list(feature_set.get("efps", ()))
    kept = read_kept(kept_path)
    if not kept:
        raise io.DataError(f"{kept_path}: no EFP names (expected one kept EFP name per line)")
    pool = candidate_pool(kept, candidates, exclude=[*start_efps, *chosen_before])
    table = efp_store.EFPTable(efp_index)
    if table.n_events != len(model):
        raise io.DataError(
            f"{efp_index}: {table.n_events} events, but {model_scores_path} has {len(model)}"
        )
    log.info(
        "%d candidates, read in %d groups of columns",
        len(pool),
        table.n_groups(len(pool), storage.block_elements),
    )
    selection = select_pass(
        model["y"].to_numpy(),
        model["score"].to_numpy(dtype=np.float64),
        black_box["score"].to_numpy(dtype=np.float64),
        table.iter_groups(pool, storage.block_elements),
        pass_index=pass_index,
        chosen_before=chosen_before,
        n_pairs=n_pairs,
        max_passes=max_passes,
        seed=seed,
        model_auc=metrics.auc(model["y"], model["score"], model["weight"]),
        black_box_auc=metrics.auc(black_box["y"], black_box["score"], black_box["weight"]),
        auc_split="valid",
        weight=model["weight"].to_numpy(dtype=np.float64),
    )
    io.write_json(pairs_path, selection.summary)
    io.write_text(ranking_path, selection.ranking.to_csv(index=False))
    io.write_json(choice_path, selection.choice)
    io.write_json(
        feature_set_path,
        {**dict(feature_set), "efps": [*start_efps, *selection.choice["efps"]]},
    )
    return selection


def summarise_scan(
    inputs: Mapping, outputs: Mapping, params: Mapping, *, scan: str
) -> pd.DataFrame:
    """The table of one scan (one row per trained pass) as CSV and markdown (outputs table,
    markdown), with how the scan ended and the share of the gap it closed.

    inputs: choices, pairs (of the passes that added an EFP), metrics (of every trained pass),
    stop (the choice that stopped the scan, if any), single_auc, black_box_metrics,
    start_metrics; params settings: black_box, start (their feature set names).
    """
    settings = params["settings"]
    choice_paths = [str(path) for path in inputs["choices"]]
    pairs_paths = [str(path) for path in inputs["pairs"]]
    metrics_paths = [str(path) for path in inputs["metrics"]]
    stop_path = inputs.get("stop")
    single_auc_path = str(inputs["single_auc"])
    black_box = (str(settings["black_box"]), str(inputs["black_box_metrics"]))
    start = (str(settings["start"]), str(inputs["start_metrics"]))
    csv_path, markdown_path = str(outputs["table"]), str(outputs["markdown"])
    table = scan_table(
        scan,
        [io.read_json(path) for path in choice_paths],
        [io.read_json(path) for path in pairs_paths],
        [io.read_json(path) for path in metrics_paths],
        single_aucs(io.read_csv(single_auc_path), str(single_auc_path)),
    )
    stop = io.read_json(stop_path) if stop_path else None
    text = scan_markdown(
        table,
        stop,
        (black_box[0], io.read_json(black_box[1])),
        (start[0], io.read_json(start[1])),
    )
    io.write_text(csv_path, table.to_csv(index=False))
    io.write_text(markdown_path, text)
    return table


def plot_guided(
    inputs: Mapping,
    outputs: Mapping,
    params: Mapping,
    *,
    dataset: str,
    draw: Callable | None = None,
) -> None:
    """The three figures of one dataset's scans (outputs auc, ado, graphs): AUC against pass,
    the candidates' ADO histograms, the chosen EFP graphs.

    params settings: scans, black_boxes, starts (names). inputs, per scan: table_{scan}
    (table.csv), ranking_{scan}, choice_{scan} (ranking.csv / choice.json of the passes that
    added an EFP); per black box and start set: metrics_{name} (the reference lines). draw:
    ``draw(axis, efp_name)`` (default: the EFP module's graph drawing).
    """
    from hepml.plots import guided as plots  # matplotlib: only the plotting rule needs it

    settings = params["settings"]
    scans = [str(scan) for scan in settings["scans"]]
    tables = {scan: str(inputs[f"table_{scan}"]) for scan in scans}
    rankings = {scan: [str(path) for path in inputs[f"ranking_{scan}"]] for scan in scans}
    choices = {scan: [str(path) for path in inputs[f"choice_{scan}"]] for scan in scans}
    black_boxes = {name: str(inputs[f"metrics_{name}"]) for name in settings["black_boxes"]}
    starts = {name: str(inputs[f"metrics_{name}"]) for name in settings["starts"]}
    auc_path, ado_path = str(outputs["auc"]), str(outputs["ado"])
    graphs_path = str(outputs["graphs"])

    references = [
        plots.ReferenceLine.from_metrics(f"{kind} {name} (test)", io.read_json(path))
        for kind, group in (("black box", black_boxes), ("start set", starts))
        for name, path in group.items()
    ]
    scan_tables = {scan: io.read_csv(path) for scan, path in tables.items()}
    figures = {
        auc_path: plots.plot_auc_vs_pass(
            scan_tables, references, title=f"Guided search: {dataset}"
        ),
    }
    chosen = {scan: [io.read_json(path)["efp"] for path in choices[scan]] for scan in tables}
    figures[ado_path] = plots.plot_ado_histograms(
        {scan: [io.read_csv(path) for path in rankings[scan]] for scan in tables}, chosen
    )
    panels = [
        (f"{scan} pass {index + 1}", name)
        for scan, names in chosen.items()
        for index, name in enumerate(names)
    ]
    figures[graphs_path] = plots.plot_chosen_graphs(panels, draw or plots.draw_efp)
    for path, figure in figures.items():
        io.write_figure(figure, path)
