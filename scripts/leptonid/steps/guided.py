"""The guided search's selection rule: select_next_efp (docs/guided.md).

Everything it reads is on the validation split: the scores of the pass n-1 model and of the
black box, and the validation EFP table, streamed in groups of columns of at most one
``efp.storage`` block, so the ADO ranking of the whole paper grid fits a small job.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from leptonid import efp_store, io, metrics
from leptonid.guided import PassSelection, candidate_pool
from leptonid.guided import select_next_efp as select_pass
from leptonid.steps.efp import read_kept

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
