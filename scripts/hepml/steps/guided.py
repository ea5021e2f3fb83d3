"""The guided search's rules (rules/guided.smk, docs/guided.md): select_next_efp, summarise_scan,
plot_guided.

Everything it reads is on the validation split: the scores of the pass n-1 model and of the
black box, and the validation EFP table, streamed in groups of columns of at most one
``efp.storage`` block, so the ADO ranking of the whole paper grid fits a small job.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hepml import io, metrics
from hepml.guided.search import PassSelection, candidate_pool
from hepml.guided.search import select_next_efp as select_pass
from hepml.guided.tables import scan_markdown, scan_table, single_aucs
from hepml.io import efp_store
from hepml.steps.efp import read_kept

log = logging.getLogger(__name__)


def _scores(path: str | Path) -> pd.DataFrame:
    return io.read_table(path, ["y", "score", "weight"])


def select_next_efp(
    *,
    model_scores_path: str | Path,
    black_box_scores_path: str | Path,
    efp_index: str | Path,
    kept_path: str | Path,
    previous_choice_path: str | Path | None,
    feature_set: Mapping,
    pass_index: int,
    candidates: str,
    n_pairs: int,
    max_passes: int,
    seed: int,
    storage: efp_store.StorageSettings,
    pairs_path: str | Path,
    ranking_path: str | Path,
    choice_path: str | Path,
    feature_set_path: str | Path,
) -> PassSelection:
    """One pass of the guided search on the validation split, from files to files.

    Scores files: Feather tables y, score, weight of the same validation events (score_model);
    efp_index: the validation EFP table; kept_path: kept EFP names; previous_choice_path:
    choice.json of pass n-1 (None for pass 1). feature_set: the pass n feature set (FeatureSet
    dict) with the start set's EFPs only; the chosen ones are appended in feature_set_path.
    The AUC stop compares the two models' AUCs on these validation scores.
    """
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
    *,
    scan: str,
    choice_paths: Sequence[str | Path],
    pairs_paths: Sequence[str | Path],
    metrics_paths: Sequence[str | Path],
    stop_path: str | Path | None,
    single_auc_path: str | Path,
    black_box: tuple[str, str | Path],
    start: tuple[str, str | Path],
    csv_path: str | Path,
    markdown_path: str | Path,
) -> pd.DataFrame:
    """The table of one scan (one row per trained pass) as CSV and markdown, with how the scan
    ended and the share of the gap it closed.

    black_box, start: (feature set name, its metrics file).
    """
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
    *,
    dataset: str,
    tables: Mapping[str, str | Path],
    rankings: Mapping[str, Sequence[str | Path]],
    choices: Mapping[str, Sequence[str | Path]],
    black_boxes: Mapping[str, str | Path],
    starts: Mapping[str, str | Path],
    auc_path: str | Path,
    ado_path: str | Path,
    graphs_path: str | Path,
    draw: Callable | None = None,
) -> None:
    """The three figures of one dataset's scans: AUC against pass, the candidates' ADO
    histograms, the chosen EFP graphs.

    tables: scan -> table.csv; rankings, choices: scan -> ranking.csv / choice.json of the
    passes that added an EFP; black_boxes, starts: feature set -> metrics file (the reference
    lines); draw: ``draw(axis, efp_name)`` (default: the EFP module's graph drawing).
    """
    from hepml.plots import guided as plots  # matplotlib: only the plotting rule needs it

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
