"""hepml.io.dataset.load_split, the one data-access function: what it returns and every way
it refuses its input (each error names the file and the key)."""

from __future__ import annotations

import numpy as np
import pytest
from hepml import io
from hepml.io.dataset import DataError, SplitInput, load_split


def split_dir(tmp_path, n=6, **overrides):
    """Feather files hl (n, 7), y, weight of one split; overrides replace an array."""
    rng = np.random.default_rng(4)
    arrays = {
        "hl": rng.normal(size=(n, 7)),
        "y": (np.arange(n) % 2).astype(np.int8),
        "weight": np.ones(n),
        **overrides,
    }
    files = {}
    for key, array in arrays.items():
        files[key] = tmp_path / "train" / f"{key}.feather"
        io.write_array(files[key], array)
    return files, arrays


def test_returns_the_inputs_label_and_weight(tmp_path):
    files, arrays = split_dir(tmp_path)
    loaded = SplitInput(tuple(map(str, files.values()))).load(["hl"])
    assert sorted(loaded) == ["hl", "weight", "y"]
    for key in loaded:
        np.testing.assert_array_equal(loaded[key], arrays[key])
    assert not loaded["hl"].flags.writeable  # a read-only view of the memory-mapped file


def test_a_file_that_is_not_feather(tmp_path):
    files, _ = split_dir(tmp_path)
    with pytest.raises(DataError, match=r"hl\.npy: expected a Feather array file"):
        load_split([tmp_path / "hl.npy", files["y"], files["weight"]], ["hl"])


def test_a_needed_key_without_a_file(tmp_path):
    files, _ = split_dir(tmp_path)
    with pytest.raises(DataError, match=r"key 'et' is needed.*\['hl', 'weight', 'y'\]"):
        load_split(files.values(), ["et"])
    with pytest.raises(DataError, match="key 'weight' is needed"):
        load_split([files["hl"], files["y"]], ["hl"])


def test_a_declared_file_that_is_missing(tmp_path):
    files, _ = split_dir(tmp_path)
    files["hl"].unlink()
    with pytest.raises(DataError, match=r"train/hl\.feather: missing; key 'hl' is needed"):
        load_split(files.values(), ["hl"])


def test_efp_columns_without_a_table(tmp_path):
    files, _ = split_dir(tmp_path)
    with pytest.raises(DataError, match="EFP columns.*no EFP table given"):
        load_split(files.values(), ["hl"], efps=["et_efp_1_0_0_k_1_b_1"])


def test_lengths_that_differ_name_the_file(tmp_path):
    files, _ = split_dir(tmp_path, hl=np.zeros((5, 7)))
    with pytest.raises(DataError, match=r"hl\.feather: key 'hl' has 5 events, expected 6"):
        load_split(files.values(), ["hl"])


@pytest.mark.parametrize(
    "y", [np.array([0, 1, 2, 0, 1, 0], dtype=np.int8), np.zeros((6, 1), dtype=np.int8)]
)
def test_labels_must_be_0_or_1_of_shape_n(tmp_path, y):
    files, _ = split_dir(tmp_path, y=y)
    with pytest.raises(DataError, match=r"y\.feather: key 'y' must be \(N,\) of 0/1"):
        load_split(files.values(), ["hl"])


def test_weights_must_be_finite(tmp_path):
    files, _ = split_dir(tmp_path, weight=np.array([1.0, 1.0, np.nan, 1.0, 1.0, 1.0]))
    with pytest.raises(DataError, match=r"weight\.feather: key 'weight' must be \(N,\) finite"):
        load_split(files.values(), ["hl"])


def test_a_foreign_file_is_a_data_error(tmp_path):
    files, _ = split_dir(tmp_path)
    files["hl"].write_bytes(b"not arrow at all")
    with pytest.raises(DataError, match=r"hl\.feather: not a Feather"):
        load_split(files.values(), ["hl"])
