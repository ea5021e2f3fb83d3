"""The ntuple rules (rules/ntuples.smk, docs/ntuples.md): unpack_ntuple, gather_cutflow,
split_ntuples and apply_model, and :func:`score_frame`, the one scorer of a table by any
trained model (apply_model here, the variable ranking of the ntuple figures).

A dataset of kind ``tabular`` with ``source: ntuples`` is a set of samples of ROOT files
(hepml.io.ntuples): unpack_ntuple reads one sample into its table (with the hashed ``split``
column) and its cut-flow; gather_cutflow joins the samples' cut-flows; split_ntuples writes
the simulation's rows per split in the tabular layout, so that the shared train, score and
evaluate rules run unchanged (training reweights them, ``hepml.steps.models``); apply_model
scores every row of every sample, data included.
"""

from __future__ import annotations

import functools
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hepml import io
from hepml.io import ntuples
from hepml.settings import SPLITS, TABULAR_INPUT

log = logging.getLogger(__name__)

TREE_FILE = "model.txt"  # hepml.training.bdt (bdt, gbdt)
NETWORK_FILES = ("model.keras", "preprocess.json")  # hepml.steps.models.save_result


def _paths(value) -> list[str]:
    return [str(value)] if isinstance(value, str | Path) else [str(v) for v in value]


def unpack_ntuple(inputs: Mapping, outputs: Mapping, params: Mapping, *, sample: str) -> dict:
    """One sample's files (inputs files, resolved when the DAG is built) -> its table
    (outputs table) with the split column, and its cut-flow (outputs cutflow). params
    settings: block (the ntuples block), seed (the split's), where (its config key).
    Returns the cut-flow's rows. Bad input raises NtupleError naming the sample, the file and
    the expression; nothing is left behind."""
    settings = params["settings"]
    block = ntuples.NtupleBlock.from_config(settings["block"], settings.get("where", "ntuples"))
    cutflow = ntuples.unpack_sample(
        block,
        sample,
        outputs["table"],
        files=_paths(inputs["files"]),
        seed=int(settings["seed"]),
    )
    ntuples.write_cutflow([cutflow], outputs["cutflow"])
    return cutflow.rows()


def gather_cutflow(inputs: Mapping, outputs: Mapping) -> pd.DataFrame:
    """Every sample's cut-flow (inputs cutflows, config order) -> one CSV (per sample and
    cut: events, sum_w, sum_w2 and sum_w_error = sqrt(sum_w2)) and a markdown table (cuts
    by samples, weighted yields +- their errors; outputs csv, markdown)."""
    rows = [row for path in _paths(inputs["cutflows"]) for row in ntuples.read_cutflow(path)]
    table = pd.DataFrame(ntuples.cutflow_table(rows))
    io.write_text(outputs["csv"], table.to_csv(index=False, float_format="%.17g"))
    note = (
        "\nWeighted yields (sum of signed event weights) after each cut, cumulative, +- "
        'sqrt(sum of squared weights); data: events (docs/ntuples.md "The cut-flow").\n'
    )
    io.write_text(outputs["markdown"], ntuples.cutflow_markdown(rows) + note)
    return table


def split_ntuples(inputs: Mapping, outputs: Mapping, params: Mapping) -> dict:
    """The simulated samples' tables (inputs tables) -> ``{split}_{key}`` (features, y,
    weight of train, valid and test: hepml.io.ntuples.write_splits); params settings: columns
    (the variables and spectators, the order of features.feather). Returns the events per
    split and class."""
    columns = list(params["settings"]["columns"])
    by_split = {
        split: {key: outputs[f"{split}_{key}"] for key in (TABULAR_INPUT, "y", "weight")}
        for split in SPLITS
    }
    counts = ntuples.write_splits(_paths(inputs["tables"]), columns, by_split)
    for split, classes in counts.items():
        log.info(
            "%s: %d signal and %d background events",
            split,
            classes["signal"],
            classes["background"],
        )
    return counts


def score_frame(
    model_dir: str | Path, name: str, frame: pd.DataFrame | np.ndarray, columns: Sequence[str]
) -> np.ndarray:
    """(N,) float64 scores of the trained model ``name`` (a result name, hepml.plan) in
    ``model_dir`` on the rows of ``frame`` (a DataFrame holding ``columns``, or an (N,
    len(columns)) array of them in this order): the feature set's columns, as in training.
    A tree model (model.txt) is scored by LightGBM, a network (model.keras, preprocess.json)
    by Keras; any other directory is a ValueError naming it."""
    if isinstance(frame, pd.DataFrame):
        missing = [c for c in columns if c not in frame.columns]
        if missing:
            raise ValueError(f"{name}: column(s) {missing} not in the table ({list(frame)})")
        x = frame[list(columns)].to_numpy(dtype=np.float32)
    else:
        x = np.asarray(frame, dtype=np.float32)
        if x.ndim != 2 or x.shape[1] != len(columns):
            raise ValueError(f"{name}: expected an (N, {len(columns)}) array, got {x.shape}")
    return _scorer(str(model_dir), name)(x)


@functools.lru_cache(maxsize=4)
def _scorer(model_dir: str, name: str, threads: int = 1):
    """A function (N, k) float32 -> (N,) float64 of the model in model_dir, loaded once per
    process (the variable ranking scores one model many times)."""
    directory = Path(model_dir)
    if (directory / TREE_FILE).exists():
        from hepml.training import bdt

        text = io.read_text(directory / TREE_FILE)
        source = str(directory / TREE_FILE)
        return lambda x: bdt.predict_text(text, x, threads, source=source)
    if all((directory / f).exists() for f in NETWORK_FILES):
        from hepml.steps.models import configure_tensorflow, load_model
        from hepml.training.fit import predict_scores

        configure_tensorflow(threads)
        model, preprocessor = load_model(*(directory / f for f in NETWORK_FILES))

        def network(x: np.ndarray) -> np.ndarray:
            return predict_scores(model, preprocessor, {TABULAR_INPUT: x})

        return network
    raise ValueError(
        f"{directory}: no trained model of {name!r} (expected {TREE_FILE}, or "
        f"{' and '.join(NETWORK_FILES)})"
    )


def apply_model(
    inputs: Mapping, outputs: Mapping, params: Mapping, *, name: str, threads: int
) -> int:
    """Every row of every sample's table (inputs tables: simulation of every split and
    data) with ``score``, the output of model ``name`` (inputs model: its model.txt or
    model.keras; params settings: columns, the feature set's) -> outputs applied. Returns
    the rows written."""
    columns = list(params["settings"]["columns"])
    model_dir = Path(_paths(inputs["model"])[0]).parent
    scorer = _scorer(str(model_dir), name, int(threads))
    rows = ntuples.write_scored(_paths(inputs["tables"]), scorer, columns, outputs["applied"])
    log.info("%s: %d rows scored -> %s", name, rows, outputs["applied"])
    return rows
