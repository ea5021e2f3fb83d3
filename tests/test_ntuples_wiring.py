"""The pieces that wire source ntuples into the workflow (docs/ntuples.md): the hashed split,
the training weights, the shared-stage split files, the table scorer, the start-up check of a
feature set's columns, and the ROC's first crossing under signed weights. The whole path runs
in tests/test_ntuples_run.py."""

from __future__ import annotations

import copy
from pathlib import Path

import ntuple_fixture
import numpy as np
import pandas as pd
import pyarrow as pa
import pytest
import yaml
from hepml import io, metrics, plan
from hepml.io import ntuples
from hepml.io.files import DataError
from hepml.io.ntuples import NtupleBlock, NtupleSplitSettings
from hepml.settings import SettingsError

REPO = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO / "config" / "ztautau.yaml").read_text())
BLOCK = CONFIG["datasets"]["ztautau"]["ntuples"]


# ------------------------------------------------------------------ the split
def test_the_split_follows_its_fractions_and_keys_on_seed_sample_and_entry():
    split = NtupleSplitSettings(valid=0.2, test=0.3)
    entry = np.arange(200_000)
    assigned = ntuples.assign_split(7, "ztautau", entry, split)
    for name, fraction in split.fractions.items():
        observed = float((assigned == name).mean())
        sigma = np.sqrt(fraction * (1 - fraction) / entry.size)
        assert abs(observed - fraction) < 5 * sigma, (name, observed)
    # the same event, the same split, whatever the pieces it is computed in
    pieces = np.concatenate(
        [ntuples.assign_split(7, "ztautau", e, split) for e in (entry[:999], entry[999:])]
    )
    np.testing.assert_array_equal(pieces, assigned)
    # another seed or another sample: another draw (about half the events move)
    assert (ntuples.assign_split(8, "ztautau", entry, split) != assigned).mean() > 0.5
    assert (ntuples.assign_split(7, "ttbar", entry, split) != assigned).mean() > 0.5
    assert set(ntuples.assign_split(7, "data", entry[:10], split, role="data")) == {"data"}


def test_split_fractions_are_checked():
    with pytest.raises(SettingsError, match=r"ntuples.split: valid \(0.6\) \+ test \(0.4\)"):
        NtupleSplitSettings.from_config({"valid": 0.6, "test": 0.4}, "ntuples.split")
    with pytest.raises(SettingsError, match=r"ntuples.split.test: expected a fraction"):
        NtupleSplitSettings.from_config({"test": 0}, "ntuples.split")
    with pytest.raises(SettingsError, match=r"unknown key\(s\) \['tset'\]"):
        NtupleSplitSettings.from_config({"tset": 0.3}, "ntuples.split")


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("opendata")
    ntuple_fixture.write_fixture(root, seed=5)
    return root


def test_the_split_column_does_not_depend_on_the_step_size(fixture_root, tmp_path):
    tables = []
    for step in (97, 100_000):
        block = copy.deepcopy(BLOCK) | {"path": str(fixture_root), "step_size": step}
        out = tmp_path / f"{step}.feather"
        ntuples.unpack_sample(NtupleBlock.from_config(block), "wmunu", out, seed=11)
        tables.append(ntuples.read_table(out).to_pandas())
    pd.testing.assert_frame_equal(tables[0], tables[1])
    assert set(tables[0]["split"]) == {"train", "valid", "test"}
    expected = ntuples.assign_split(
        11, "wmunu", tables[0]["entry"].to_numpy(), NtupleSplitSettings()
    )
    np.testing.assert_array_equal(tables[0]["split"].to_numpy(), expected)


# ------------------------------------------------------------------ training weights
@pytest.mark.parametrize("mode", ["absolute", "keep", "drop"])
def test_training_weights_give_each_class_half_the_events(mode):
    rng = np.random.default_rng(1)
    y = rng.integers(0, 2, 1000)
    weight = rng.normal(1.0, 0.5, 1000) * np.where(y == 1, 0.01, 3.0)  # very unequal classes
    assert (weight < 0).any()
    trained = ntuples.class_normalised_weights(weight, y, mode)
    for label in (0, 1):
        assert trained[y == label].sum() == pytest.approx(500.0)
    base = ntuples.training_weights(weight, mode)
    for label in (0, 1):  # one factor per class: the shape within a class is the mode's
        ratio = trained[y == label] / np.where(base[y == label] == 0, 1, base[y == label])
        assert np.ptp(ratio[base[y == label] != 0]) < 1e-9
    assert ((trained < 0).any()) == (mode == "keep")


def test_a_class_without_positive_training_weight_is_named():
    y = np.array([1, 1, 0, 0])
    with pytest.raises(ValueError, match=r"valid split: the background training weights"):
        ntuples.class_normalised_weights(np.array([1.0, 1.0, -1.0, -2.0]), y, "keep", "valid split")


def test_the_training_steps_reweight_only_ntuple_datasets():
    from hepml.steps import models

    arrays = {"y": np.array([1, 0, 0, 0]), "weight": np.array([2.0, -1.0, 1.0, 2.0])}
    assert models.reweighted(arrays, None, "train") is arrays
    trained = models.reweighted(arrays, {"negative_weights": "absolute"}, "train")
    np.testing.assert_allclose(trained["weight"], [2.0, 0.5, 0.5, 1.0])
    np.testing.assert_array_equal(arrays["weight"], [2.0, -1.0, 1.0, 2.0])  # not overwritten
    assert models.training_weights_info(None) == {}
    assert "EqualNumEvents" in str(models.training_weights_info({"negative_weights": "drop"}))


# ------------------------------------------------------------------ shared-stage files
def sample_table(path, rows: dict) -> None:
    n = len(rows["split"])
    table = pa.table(
        {
            "a": pa.array(rows["a"], pa.float32()),
            "b": pa.array(rows["b"], pa.float32()),
            "weight": pa.array(rows["weight"], pa.float64()),
            "label": pa.array(rows["label"], pa.int8()),
            "sample": pa.array(["s"] * n),
            "process": pa.array(["s"] * n),
            "entry": pa.array(np.arange(n), pa.int64()),
            "split": pa.array(rows["split"]),
        }
    )
    with pa.OSFile(str(path), "wb") as sink, pa.ipc.new_file(sink, table.schema) as writer:
        writer.write_table(table, max_chunksize=2)


def split_outputs(root: Path) -> dict:
    return {
        split: {key: root / split / f"{key}.feather" for key in ("features", "y", "weight")}
        for split in ("train", "valid", "test")
    }


def test_write_splits_writes_the_tabular_layout_with_signed_weights(tmp_path):
    splits = ["train", "valid", "test"] * 2
    sample_table(
        tmp_path / "sig.feather",
        {
            "a": range(6),
            "b": range(10, 16),
            "weight": [1, -2, 3, 4, 5, 6],
            "label": [1] * 6,
            "split": splits,
        },
    )
    sample_table(
        tmp_path / "bkg.feather",
        {
            "a": range(6),
            "b": range(6),
            "weight": [-1, 2, 3, 4, 5, 6],
            "label": [0] * 6,
            "split": splits,
        },
    )
    outputs = split_outputs(tmp_path / "out")
    counts = ntuples.write_splits(
        [tmp_path / "sig.feather", tmp_path / "bkg.feather"], ["b", "a"], outputs
    )
    assert counts["valid"] == {"signal": 2, "background": 2}
    features = io.read_table(outputs["valid"]["features"])
    assert list(features.columns) == ["b", "a"] and features.dtypes.tolist() == [np.float32] * 2
    np.testing.assert_array_equal(features["a"], [1, 4, 1, 4])
    np.testing.assert_array_equal(io.read_array(outputs["valid"]["y"]), [1, 1, 0, 0])
    np.testing.assert_array_equal(io.read_array(outputs["valid"]["weight"]), [-2.0, 5.0, 2.0, 5.0])


def test_write_splits_refuses_a_split_without_a_class_and_writes_nothing(tmp_path):
    sample_table(
        tmp_path / "sig.feather",
        {
            "a": range(3),
            "b": range(3),
            "weight": [1, 1, 1],
            "label": [1] * 3,
            "split": ["train", "valid", "test"],
        },
    )
    sample_table(
        tmp_path / "bkg.feather",
        {
            "a": range(2),
            "b": range(2),
            "weight": [1, 1],
            "label": [0] * 2,
            "split": ["train", "valid"],
        },
    )
    outputs = split_outputs(tmp_path / "out")
    with pytest.raises(DataError, match="the test split has no background events"):
        ntuples.write_splits([tmp_path / "sig.feather", tmp_path / "bkg.feather"], ["a"], outputs)
    assert not any(path.exists() for keys in outputs.values() for path in keys.values())
    assert not list((tmp_path / "out").rglob("*.tmp"))


# ------------------------------------------------------------------ scoring a table
def test_score_frame_scores_a_table_with_the_trained_trees(tmp_path):
    import lightgbm
    from hepml.steps.ntuples import score_frame

    rng = np.random.default_rng(2)
    x = rng.normal(size=(500, 2)).astype(np.float32)
    y = (x[:, 0] + 0.5 * rng.normal(size=500) > 0).astype(int)
    params = {"objective": "binary", "verbosity": -1, "num_threads": 1, "seed": 1}
    booster = lightgbm.train(params, lightgbm.Dataset(x, label=y), num_boost_round=5)
    model_dir = tmp_path / "models" / "set-bdt"
    model_dir.mkdir(parents=True)
    (model_dir / "model.txt").write_text(booster.model_to_string())
    frame = pd.DataFrame({"other": np.zeros(500), "v1": x[:, 1], "v0": x[:, 0]})
    expected = booster.predict(x)
    np.testing.assert_allclose(score_frame(model_dir, "set-bdt", frame, ["v0", "v1"]), expected)
    np.testing.assert_allclose(score_frame(model_dir, "set-bdt", x, ["v0", "v1"]), expected)
    swapped = score_frame(model_dir, "set-bdt", frame, ["v1", "v0"])
    assert not np.allclose(swapped, expected)  # the columns are taken in the order given
    with pytest.raises(ValueError, match=r"column\(s\) \['v2'\] not in the table"):
        score_frame(model_dir, "set-bdt", frame, ["v0", "v2"])
    with pytest.raises(ValueError, match=r"no trained model of 'set'"):
        score_frame(tmp_path, "set", frame, ["v0", "v1"])


# ------------------------------------------------------------------ start-up checks
def test_feature_set_columns_must_be_training_variables():
    config = copy.deepcopy(CONFIG)
    plan.check_datasets(config)
    config["datasets"]["ztautau"]["feature_sets"]["tmva"]["columns"].append("m_vis")
    with pytest.raises(SettingsError) as error:
        plan.check_datasets(config)
    assert (
        "datasets.ztautau.feature_sets.tmva.columns: 'm_vis' is not a column of "
        "datasets.ztautau.ntuples.variables (tau_et, sum_dphi, mt, sum_cos_dphi)"
    ) in str(error.value)


def test_the_ntuples_block_accepts_only_its_registered_sub_blocks():
    block = copy.deepcopy(BLOCK) | {"split": {"valid": 0.1, "test": 0.1}}
    assert NtupleBlock.from_config(block).split == NtupleSplitSettings(0.1, 0.1)
    with pytest.raises(SettingsError, match=r"ntuples: unknown key\(s\) \['splits'\]"):
        NtupleBlock.from_config(copy.deepcopy(BLOCK) | {"splits": {}})


# ------------------------------------------------------------------ metrics with signed weights
def test_the_background_efficiency_is_read_at_the_first_crossing_of_a_dipping_roc():
    """Signed weights can make the tpr dip; a binary search then lands past the first
    crossing (np.searchsorted gives index 5 here, the first point at or above 0.44 is 2)."""
    tpr = np.array([0.0, 0.1, 0.5, 0.4, 0.42, 0.45, 0.6, 0.7, 1.0])
    fpr = np.linspace(0.0, 1.0, tpr.size)
    expected = fpr[1] + (0.44 - 0.1) / (0.5 - 0.1) * (fpr[2] - fpr[1])
    assert metrics.background_efficiency_at(fpr, tpr, 0.44) == pytest.approx(expected)
    assert metrics.background_efficiency_at(fpr, tpr, 1.5) == fpr[-1]


def test_the_cutflow_table_totals_the_backgrounds_only():
    rows = [
        {"sample": s, "process": s, "role": r, "cut": c, "events": e, "sum_w": w, "sum_w2": w2}
        for s, r, c, e, w, w2 in [
            ("sig", "signal", "all", 10, 5.0, 4.0),
            ("b1", "background", "all", 8, 3.0, 9.0),
            ("b2", "background", "all", 6, -1.0, 16.0),
            ("data", "data", "all", 7, 7.0, 7.0),
        ]
    ]
    markdown = ntuples.cutflow_markdown(rows)
    assert markdown.splitlines()[2] == "| all | 5 +- 2 | 3 +- 3 | -1 +- 4 | 7 | 2 +- 5 |"
    assert [row["sum_w_error"] for row in ntuples.cutflow_table(rows)] == [2.0, 3.0, 4.0, 7**0.5]
