"""The tabular kind at the paper's size (docs/tabular.md "Memory at the paper's size"): the
features read in blocks of rows (io.tabular.TableRows) give the networks, LightGBM and the
scoring the same numbers as the whole arrays, and no read takes whole columns."""

import numpy as np
import pytest
from hepml.io import DataError
from hepml.io import dataset as dataset_module
from hepml.io import tabular as tab
from hepml.io.dataset import load_split
from hepml.settings import BdtSettings, FeatureSet, NetworkSettings, TrainingSettings
from hepml.training import bdt
from hepml.training import preprocess as preprocess_module

COLUMNS = ("m_wwbb", "lepton_pT", "jet1_pt", "m_bb")
NETWORK = NetworkSettings(dense_layers=1, units=8, learning_rate=3e-3, dropout=0.0)
SETTINGS = TrainingSettings(batch_size=64, epochs=1, patience=5, lr_factor=0.5, lr_patience=9)


def unpacked(tmp_path, n: int, seed: int = 0) -> dict[str, dict]:
    """A table of n + 100 rows in the UCI layout (feature 0 and m_wwbb shifted by class),
    unpacked: split -> key -> path; about 10 % of the n rows are valid."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n + 100)
    x = rng.normal(size=(n + 100, 28)).astype(np.float32)
    x[:, 0] += y
    x[:, 27] -= 0.5 * y
    rows = np.column_stack([y, x])
    path = tmp_path / "HIGGS.parquet"
    import pyarrow as pa
    import pyarrow.parquet as pq

    pq.write_table(
        pa.table({f"c{i}": rows[:, i].astype(np.float32) for i in range(29)}),
        path,
        row_group_size=300,  # several record batches per split
    )
    outputs = {s: {k: tmp_path / "out" / s / f"{k}.feather" for k in tab.KEYS} for s in tab.SPLITS}
    tab.unpack_table(path, tab.TableSpec(test_rows=100), outputs, seed=seed)
    return outputs


def split(outputs, name: str, on_demand: bool, block_rows: int | None = None) -> dict:
    arrays = load_split(
        list(outputs[name].values()), ["features"], on_demand=on_demand, columns=COLUMNS
    )
    if block_rows is not None:
        arrays["features"] = tab.TableRows(outputs[name]["features"], list(COLUMNS), block_rows)
    return arrays


def test_table_rows_reads_what_the_whole_table_holds_a_block_at_a_time(tmp_path):
    outputs = unpacked(tmp_path, 1500)
    whole = split(outputs, "train", on_demand=False)["features"]
    assert isinstance(split(outputs, "train", on_demand=True)["features"], tab.TableRows)
    rows = tab.TableRows(outputs["train"]["features"], list(COLUMNS), block_rows=128)
    n = len(whole)
    assert rows.shape == whole.shape and rows.dtype == whole.dtype and len(rows) == n > 1000
    index = np.random.default_rng(1).permutation(n)[:300]  # unsorted, many blocks
    np.testing.assert_array_equal(rows[index], whole[index])
    np.testing.assert_array_equal(rows[5 : n - 3], whole[5 : n - 3])
    np.testing.assert_array_equal(rows[-1], whole[-1])
    np.testing.assert_array_equal(rows[n:], whole[n:])
    # bounded reads: one block of rows at a time, never a whole column
    assert rows.largest_read == 128 < n
    with pytest.raises(IndexError, match="out of range"):
        rows[[0, n]]
    with pytest.raises(DataError, match=r"features.feather: feature column\(s\) \['bogus'\]"):
        tab.TableRows(outputs["train"]["features"], ["bogus"])
    with pytest.raises(DataError, match="nothing.feather: missing"):
        tab.TableRows(tmp_path / "nothing.feather")


def test_streamed_statistics_equal_the_whole_arrays(tmp_path, monkeypatch):
    """flat_moments: exactly numpy's mean and std when the split is one block (today's
    numbers on the small configs), the same to rounding when it is merged from blocks."""
    outputs = unpacked(tmp_path, 1500)
    whole = split(outputs, "train", on_demand=False)["features"]
    values = whole.astype(np.float64)
    mean, std = preprocess_module.flat_moments(whole, "features")
    np.testing.assert_array_equal(mean, values.mean(axis=0))
    np.testing.assert_array_equal(std, values.std(axis=0))
    monkeypatch.setattr(preprocess_module, "FLAT_FIT_BLOCK_EVENTS", 128)
    rows = tab.TableRows(outputs["train"]["features"], list(COLUMNS), block_rows=128)
    streamed_mean, streamed_std = preprocess_module.flat_moments(rows, "features")
    np.testing.assert_allclose(streamed_mean, mean, rtol=0, atol=1e-12)
    np.testing.assert_allclose(streamed_std, std, rtol=1e-12)
    assert rows.largest_read == 128 and rows.rows_read == len(rows)  # one pass, in blocks
    bad = whole.copy()
    bad[700, 2] = np.nan
    with pytest.raises(ValueError, match="'features' contains NaN"):
        preprocess_module.flat_moments(bad, "features")


def test_epoch_order_is_todays_permutation_for_one_block_and_block_shuffled_beyond():
    from hepml.training.fit import epoch_order

    today = np.random.default_rng([7, 3]).permutation(500)
    np.testing.assert_array_equal(epoch_order(500, 7, 3), today)
    np.testing.assert_array_equal(epoch_order(500, 7, 3, block_rows=500), today)
    order = epoch_order(1000, 7, 3, block_rows=128)
    np.testing.assert_array_equal(np.sort(order), np.arange(1000))
    np.testing.assert_array_equal(order, epoch_order(1000, 7, 3, block_rows=128))
    assert not np.array_equal(order, epoch_order(1000, 7, 4, block_rows=128))
    assert not np.array_equal(order[:128] // 128, np.zeros(128))  # blocks in a permuted order
    blocks_per_batch = [len(set(order[i : i + 64] // 128)) for i in range(0, 1000, 64)]
    assert max(blocks_per_batch) <= 2  # a batch of 64 falls in at most two blocks of 128


def test_network_on_table_rows_has_todays_numbers_on_a_one_block_split(tmp_path):
    """train_network on TableRows: the weights of the whole-array path when the split is one
    block (the small configs), and the same scores."""
    from hepml.training.fit import predict_scores, train_network

    outputs = unpacked(tmp_path, 600)
    feature_set = FeatureSet("s", ("features",), NETWORK, models=("dnn",), columns=COLUMNS)
    whole = [split(outputs, s, on_demand=False) for s in ("train", "valid")]
    one_block = [split(outputs, s, on_demand=True, block_rows=4096) for s in ("train", "valid")]
    fits = [train_network(*pair, feature_set, SETTINGS, seed=3) for pair in (whole, one_block)]
    for a, b in zip(fits[0].model.get_weights(), fits[1].model.get_weights(), strict=True):
        np.testing.assert_array_equal(a, b)
    assert fits[0].preprocessor == fits[1].preprocessor
    np.testing.assert_array_equal(
        predict_scores(fits[1].model, fits[1].preprocessor, one_block[1]),
        predict_scores(fits[0].model, fits[0].preprocessor, whole[1]),
    )


def test_network_batches_read_blocks_once_per_epoch_never_whole_columns(tmp_path, monkeypatch):
    """The statistics pass and an epoch of shuffled training batches over TableRows with
    blocks smaller than the split: no read larger than a block, each block read once per
    pass, and the epoch holds every event once."""
    from hepml.training.fit import training_batches
    from hepml.training.preprocess import Preprocessor

    monkeypatch.setattr(preprocess_module, "FLAT_FIT_BLOCK_EVENTS", 128)
    outputs = unpacked(tmp_path, 1500)
    train = split(outputs, "train", on_demand=True, block_rows=128)
    rows = train["features"]
    preprocessor = Preprocessor.fit(train, ["features"])
    assert rows.rows_read == len(rows) > 8 * 128
    batches = training_batches(train, preprocessor, batch_size=50, seed=4)
    batches.set_epoch(2)
    seen = [batches[i] for i in range(len(batches))]
    assert rows.largest_read == 128 and rows.rows_read <= 2 * len(rows)
    scaled = np.concatenate([x["features"] for x, _, _ in seen])
    whole = preprocessor.transform({"features": split(outputs, "train", False)["features"]})
    order = np.lexsort(scaled.T)
    np.testing.assert_array_equal(scaled[order], whole["features"][np.lexsort(whole["features"].T)])


def test_lightgbm_from_table_rows_writes_the_array_paths_model(tmp_path, monkeypatch):
    """Byte-identical model text, also when LightGBM bins a sample of the rows (here 500 of
    ~1,350; at the paper's size 200,000 of 10.5M): its sample indices come from the explicit
    data_random_seed, the one LightGBM derives from seed (the Sequence path sees no seed)."""
    params = bdt.lightgbm_params
    monkeypatch.setattr(
        bdt,
        "lightgbm_params",
        lambda *args: {**params(*args), "bin_construct_sample_cnt": 500},
    )
    outputs = unpacked(tmp_path, 1500)
    feature_set = FeatureSet("s", ("features",), NETWORK, models=("dnn", "bdt"), columns=COLUMNS)
    whole = [split(outputs, s, on_demand=False) for s in ("train", "valid")]
    blocks = [split(outputs, s, on_demand=True, block_rows=128) for s in ("train", "valid")]
    settings = BdtSettings(max_iter=15, max_leaf_nodes=7)
    text, history, info = bdt.train_bdt(*whole, feature_set, settings, seed=2)
    streamed, streamed_history, _ = bdt.train_bdt(*blocks, feature_set, settings, seed=2)
    assert "[bin_construct_sample_cnt: 500]" in text
    assert streamed == text and streamed_history.equals(history)
    assert info["n_train"] == len(blocks[0]["features"])
    assert blocks[0]["features"].largest_read == 128  # LightGBM read blocks, not columns
    test = split(outputs, "test", on_demand=True, block_rows=32)
    np.testing.assert_array_equal(
        bdt.predict_text(text, test["features"]),
        bdt.predict_text(text, split(outputs, "test", on_demand=False)["features"]),
    )


def test_data_random_seed_is_the_one_lightgbm_derives_from_seed():
    import re

    import lightgbm

    x = np.random.default_rng(0).normal(size=(200, 2))
    for seed in (1, 20141):
        text = lightgbm.train(
            {"objective": "binary", "seed": seed, "verbosity": -1},
            lightgbm.Dataset(x, label=(x[:, 0] > 0).astype(int)),
            1,
        ).model_to_string()
        derived = int(re.search(r"\[data_random_seed: (\d+)\]", text).group(1))
        assert bdt.data_random_seed(seed) == derived


def test_tree_rules_never_read_a_whole_feature_table(tmp_path, monkeypatch):
    """train_bdt and score_model (trees) load the features on demand: with the whole-table
    reader disabled they still run (they did not before)."""
    from hepml.steps import models as steps

    outputs = unpacked(tmp_path, 800)

    def whole_table(*args, **kwargs):
        raise AssertionError("read_features: a whole feature table was read")

    monkeypatch.setattr(dataset_module, "read_features", whole_table)
    feature_set = FeatureSet("s", ("features",), NETWORK, models=("dnn", "bdt"), columns=COLUMNS)
    files = {s: [str(p) for p in outputs[s].values()] for s in tab.SPLITS}
    model = tmp_path / "m"
    settings = {"feature_set": feature_set.to_dict(), "model": "bdt", "seed": 1}
    steps.train_bdt(
        {"train": files["train"], "valid": files["valid"]},
        {k: str(model / k) for k in ("model", "history", "info")},
        {"settings": {**settings, "bdt": {"max_iter": 5}}},
        threads=1,
    )
    scores = steps.score_model(
        {"test": files["test"], "trees": str(model / "model")},
        {"scores": str(tmp_path / "scores.feather")},
        {"settings": settings},
        split="test",
        threads=1,
    )
    assert len(scores) == 100 and scores["score"].between(0, 1).all()
