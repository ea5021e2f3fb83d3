"""unpack_jets (hepml.steps.jets): a benchmark-layout file to the workflow's arrays, block by
block, equal to the preprocessing applied to the whole file at once; no partial output on a
bad file; merge_generated_jets shares chunks among the three files; top_tagging_table refuses
metrics without the rejections it reports."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hepml import io
from hepml.io import jets as benchmark
from hepml.jets.preprocess import jet_images, particle_inputs
from hepml.jets.substructure import substructure_features
from hepml.sources.pythia.chunks import write_chunk
from hepml.steps.jets import KEYS, merge_generated_jets, top_tagging_table, unpack_jets
from test_jets_benchmark import booby_trap, random_jets


def outputs_in(directory):
    return {key: str(directory / f"{key}.feather") for key in KEYS}


def test_blocks_give_the_arrays_of_the_whole_file(tmp_path):
    rng = np.random.default_rng(11)
    constituents = random_jets(rng, 23)
    labels = rng.integers(0, 2, size=23)
    path = tmp_path / "val.h5"
    benchmark.write_benchmark(path, constituents, labels, ttv=1)
    outputs = outputs_in(tmp_path / "valid")
    assert unpack_jets({"h5": str(path)}, outputs, {"settings": {"block_rows": 5}}) == 23

    stored = benchmark.read_benchmark(path).constituents  # the file's float32 values
    expected_hl, _ = substructure_features(stored)
    np.testing.assert_array_equal(io.read_array(outputs["y"]), labels)
    np.testing.assert_array_equal(io.read_array(outputs["weight"]), np.ones(23))
    np.testing.assert_allclose(io.read_array(outputs["jet"])[..., 0], jet_images(stored))
    np.testing.assert_allclose(
        io.read_array(outputs["constituents"]), particle_inputs(stored), rtol=1e-6, atol=1e-7
    )
    np.testing.assert_allclose(io.read_array(outputs["hl"]), expected_hl)
    np.testing.assert_array_equal(io.read_array(outputs["mass"])[:, 0], expected_hl[:, 0])
    assert io.read_array(outputs["jet"]).shape == (23, 40, 40, 1)


def test_a_bad_file_leaves_no_output(tmp_path):
    rng = np.random.default_rng(12)
    constituents = random_jets(rng, 12)
    path = tmp_path / "test.h5"
    benchmark.write_benchmark(path, constituents, rng.integers(0, 2, size=12))
    frame = pd.read_hdf(path, "table")
    frame.loc[9, "E_0"] = np.nan  # in the second block
    frame.to_hdf(path, key="table", mode="w", format="table")
    outputs = outputs_in(tmp_path / "test")
    with pytest.raises(benchmark.BenchmarkFormatError, match="test.h5"):
        unpack_jets({"h5": str(path)}, outputs, {"settings": {"block_rows": 5}})
    assert not (tmp_path / "test").exists() or not any((tmp_path / "test").iterdir())


def test_a_booby_trapped_file_runs_nothing_and_leaves_no_output(tmp_path):
    """The issue's file: data_columns replaced by a pickle that calls code. unpack_jets stops
    with a named error before reading a row; the code never runs."""
    rng = np.random.default_rng(14)
    path = tmp_path / "train.h5"
    benchmark.write_benchmark(path, random_jets(rng, 6), rng.integers(0, 2, size=6))
    marker = tmp_path / "pwned"
    booby_trap(path, "table", "data_columns", marker)
    outputs = outputs_in(tmp_path / "train")
    with pytest.raises(benchmark.UnsafeMetadataError, match=r"train.h5: attribute 'data_columns'"):
        unpack_jets({"h5": str(path)}, outputs, {"settings": {"block_rows": 5}})
    assert not marker.exists()
    assert not (tmp_path / "train").exists() or not any((tmp_path / "train").iterdir())


def test_merge_shares_the_chunks_in_order(tmp_path):
    rng = np.random.default_rng(13)
    chunks = []
    for chunk in range(2):
        path = tmp_path / f"{chunk}.h5"
        jets = random_jets(rng, 10)
        padded = np.zeros((10, 200, 4), dtype=np.float32)
        padded[:, : jets.shape[1]] = jets
        labels = np.arange(10, dtype=np.int8) % 2
        write_chunk(path, {"constituents": padded, "labels": labels, "truth": np.zeros((10, 4))})
        chunks.append((path, padded))
    outputs = {split: str(tmp_path / f"{split}.h5") for split in ("train", "valid", "test")}
    sizes = merge_generated_jets(
        {"chunks": [str(path) for path, _ in chunks]},
        outputs,
        {"fractions": {"train": 0.6, "valid": 0.2, "test": 0.2}},
    )
    assert sizes == {"train": 12, "valid": 4, "test": 4}
    everything = np.concatenate([padded for _, padded in chunks])
    train = benchmark.read_benchmark(outputs["train"]).constituents
    test = benchmark.read_benchmark(outputs["test"]).constituents
    np.testing.assert_array_equal(train, everything[:12])
    np.testing.assert_array_equal(test, everything[16:])
    assert set(pd.read_hdf(outputs["valid"], "table")["ttv"]) == {1}


def test_top_tagging_table_refuses_metrics_without_its_rejections(tmp_path):
    """Metrics evaluated without 0.5 in evaluation.signal_efficiencies: a named error, no
    table with an empty column; a null rejection (collapsed model) stays an empty cell."""
    good = {"name": "images", "model": "nn", "auc": 0.98, "rejection_0.3": 900.0}
    collapsed = {"name": "hl", "model": "nn", "auc": None}
    collapsed.update({"rejection_0.3": None, "rejection_0.5": None})
    paths = []
    for entry in ({**good, "rejection_0.5": 120.0}, collapsed):
        paths.append(str(tmp_path / f"{entry['name']}.json"))
        io.write_json(paths[-1], entry)
    outputs = {"table": str(tmp_path / "t.csv"), "markdown": str(tmp_path / "t.md")}
    published = {"images": {"tagger": "CNN", "auc": 0.9814, "rejection_0.3": 913.6}}
    params = {"settings": {"published": published}}
    table = top_tagging_table({"metrics": paths}, outputs, params).set_index("name")
    assert table.loc["images", "rejection_0.5"] == 120.0
    assert table.loc["images", "benchmark_rejection_0.3"] == 913.6
    assert pd.isna(table.loc["hl", "rejection_0.3"])

    missing = str(tmp_path / "metrics" / "images.json")
    io.write_json(missing, good)  # no rejection_0.5
    outputs = {"table": str(tmp_path / "u.csv"), "markdown": str(tmp_path / "u.md")}
    with pytest.raises(ValueError, match=r"metrics/images.json: no 'rejection_0.5'.*signal_eff"):
        top_tagging_table({"metrics": [missing]}, outputs, params)
    assert not (tmp_path / "u.csv").exists() and not (tmp_path / "u.md").exists()


def test_plot_jets_streams_the_images(tmp_path, monkeypatch):
    """The class-average jet images are summed from blocks read on demand (io.ArrayRows),
    not from a memory map of the whole split (the paper-scale rehearsal measured the job at
    the size of the train images, 1.96 GB for 300,000 jets, before)."""
    from hepml.plots import data as plots_data
    from hepml.steps import jets as steps_jets

    rng = np.random.default_rng(1)
    n = 64
    arrays = {
        "jet": rng.random((n, 40, 40, 1)).astype(np.float32),
        "hl": rng.random((n, 4)),
        "y": rng.integers(0, 2, n).astype(np.int8),
        "weight": np.ones(n),
    }
    inputs = {}
    for key, array in arrays.items():
        inputs[key] = tmp_path / f"{key}.feather"
        io.write_array(inputs[key], array)
    seen = []
    means = plots_data.class_means

    def recording(values, y, weight):
        seen.append(type(values))
        return means(values, y, weight)

    monkeypatch.setattr(plots_data, "class_means", recording)
    outputs = {"images": tmp_path / "images.png", "features": tmp_path / "features.png"}
    steps_jets.plot_jets(inputs, outputs, "jets")
    assert seen == [io.ArrayRows] and all(path.exists() for path in outputs.values())
