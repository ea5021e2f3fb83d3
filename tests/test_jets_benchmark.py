"""The top-tagging benchmark layout: a small file written here, read back, every error path."""

from __future__ import annotations

import os

import numpy as np
import pandas as pd
import pytest
from hepml.io import jets as benchmark
from hepml.io.jets import BenchmarkFormatError


def random_jets(rng: np.random.Generator, n: int, max_constituents: int = 30):
    """(n, max_constituents, 4) massless constituents, pT ordered, a random number per jet."""
    counts = rng.integers(1, max_constituents + 1, size=n)
    pt = np.sort(rng.exponential(20.0, size=(n, max_constituents)), axis=1)[:, ::-1]
    eta = rng.normal(0.0, 1.0, size=(n, max_constituents))
    phi = rng.uniform(-np.pi, np.pi, size=(n, max_constituents))
    four = np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)
    four[np.arange(max_constituents)[None, :] >= counts[:, None]] = 0.0
    return four


@pytest.fixture
def jets():
    rng = np.random.default_rng(7)
    constituents = random_jets(rng, 11)
    labels = rng.integers(0, 2, size=11)
    truth = rng.normal(size=(11, 4))
    return constituents, labels, truth


@pytest.fixture
def small_file(tmp_path, jets):
    path = tmp_path / "train.h5"
    benchmark.write_benchmark(path, *jets, ttv=0)
    return path


def rewrite(path, frame, key="table", format="table"):
    """A frame written as a benchmark file (for the bad files below)."""
    frame.to_hdf(path, key=key, mode="w", format=format)
    return path


def test_round_trip(small_file, jets):
    constituents, labels, truth = jets
    block = benchmark.read_benchmark(small_file)
    assert block.constituents.shape == (11, 200, 4)
    assert block.constituents.dtype == np.float32
    np.testing.assert_allclose(block.constituents[:, :30], constituents, rtol=1e-6, atol=1e-4)
    assert not block.constituents[:, 30:].any()
    np.testing.assert_array_equal(block.labels, labels)
    assert benchmark.count_jets(small_file) == 11
    frame = pd.read_hdf(small_file, "table")
    assert list(frame.columns) == benchmark.benchmark_columns()
    assert len(frame.columns) == 806
    np.testing.assert_allclose(frame[list(benchmark.TRUTH_COLUMNS)].to_numpy(), truth, rtol=1e-6)
    with pd.HDFStore(small_file, "r") as store:
        assert store.get_storer("table").format_type == "table"


def test_written_structure_is_the_published_one(small_file, jets):
    """What h5py readers of the published files expect: /table/table with values_block_0 of
    804 floats and values_block_1 = [ttv, is_signal_new]."""
    import h5py

    with h5py.File(small_file, "r") as h5:
        table = h5["table"]["table"]
        assert table.dtype["values_block_0"].shape == (804,)
        assert table.dtype["values_block_1"].shape == (2,)
        np.testing.assert_array_equal(table["values_block_1"][:, 1], jets[1])
        np.testing.assert_array_equal(table["values_block_1"][:, 0], 0)
        np.testing.assert_allclose(table["values_block_0"][:, 800:], jets[2], rtol=1e-6)


def test_blocks_cover_the_rows_in_order(small_file, jets):
    blocks = list(benchmark.read_blocks(small_file, block_rows=4))
    assert [b.start for b in blocks] == [0, 4, 8]
    assert [len(b) for b in blocks] == [4, 4, 3]
    whole = benchmark.read_benchmark(small_file)
    np.testing.assert_array_equal(
        np.concatenate([b.constituents for b in blocks]), whole.constituents
    )
    part = list(benchmark.read_blocks(small_file, block_rows=2, start=3, stop=8))
    assert [b.start for b in part] == [3, 5, 7]
    np.testing.assert_array_equal(
        np.concatenate([b.labels for b in part]), jets[1][3:8].astype(np.int8)
    )


def test_reads_the_fixed_format_too(tmp_path, small_file):
    frame = pd.read_hdf(small_file, "table")
    fixed = rewrite(tmp_path / "fixed.h5", frame, format="fixed")
    a = benchmark.read_benchmark(small_file)
    b = benchmark.read_benchmark(fixed)
    np.testing.assert_array_equal(a.constituents, b.constituents)
    np.testing.assert_array_equal(a.labels, b.labels)
    assert [blk.start for blk in benchmark.read_blocks(fixed, block_rows=5)] == [0, 5, 10]


def test_zlib_is_read_and_a_filter_h5py_lacks_is_named(tmp_path, small_file, jets):
    compressed = tmp_path / "zlib.h5"
    benchmark.write_benchmark(compressed, *jets, complevel=5)  # pandas' default library: zlib
    np.testing.assert_array_equal(
        benchmark.read_benchmark(compressed).constituents,
        benchmark.read_benchmark(small_file).constituents,
    )
    blosc = tmp_path / "blosc.h5"
    pd.read_hdf(small_file, "table").to_hdf(
        blosc, key="table", mode="w", format="table", complevel=5, complib="blosc"
    )
    with pytest.raises(BenchmarkFormatError, match=r"blosc.h5 \(key 'table'\): .*filter 'blosc'"):
        benchmark.count_jets(blosc)


def test_more_than_200_constituents_are_cut_and_fewer_padded():
    many = np.ones((2, 250, 4))
    assert benchmark.pad_constituents(many).shape == (2, 200, 4)
    few = benchmark.pad_constituents(np.ones((2, 3, 4)))
    assert few.shape == (2, 200, 4) and few[:, 3:].sum() == 0 and few[:, :3].sum() == 24
    with pytest.raises(ValueError, match=r"shape \(n, k, 4\)"):
        benchmark.pad_constituents(np.ones((2, 3)))


def test_writer_rejects_bad_labels_and_truth(tmp_path):
    c = np.ones((3, 5, 4))
    with pytest.raises(ValueError, match="labels"):
        benchmark.write_benchmark(tmp_path / "x.h5", c, [0, 1, 2])
    with pytest.raises(ValueError, match="truth"):
        benchmark.write_benchmark(tmp_path / "x.h5", c, [0, 1, 1], truth=np.zeros((3, 3)))
    assert not (tmp_path / "x.h5").exists()


# ------------------------------------------------------------------------------ errors
def test_missing_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.h5"):
        benchmark.count_jets(tmp_path / "nope.h5")


def test_not_an_hdf5_file(tmp_path):
    path = tmp_path / "text.h5"
    path.write_text("not hdf5\n")
    with pytest.raises(BenchmarkFormatError, match="text.h5: not a pandas HDF5 file"):
        benchmark.count_jets(path)


def test_wrong_key(tmp_path, small_file):
    frame = pd.read_hdf(small_file, "table")
    path = rewrite(tmp_path / "other.h5", frame, key="jets")
    with pytest.raises(BenchmarkFormatError, match=r"other.h5 \(key 'table'\): no such key.*/jets"):
        next(benchmark.read_blocks(path))
    assert len(benchmark.read_benchmark(path, key="jets")) == 11


def test_missing_column(tmp_path, small_file):
    frame = pd.read_hdf(small_file, "table").drop(columns=["PX_7"])
    path = rewrite(tmp_path / "missing.h5", frame)
    with pytest.raises(BenchmarkFormatError, match=r"missing.h5 \(key 'table'\).*PX_7"):
        benchmark.read_benchmark(path)
    no_label = rewrite(tmp_path / "nolabel.h5", frame.drop(columns=["is_signal_new", "PY_7"]))
    with pytest.raises(BenchmarkFormatError, match="PY_7, is_signal_new"):
        benchmark.read_benchmark(no_label)


@pytest.mark.parametrize(
    "column, value, message",
    [
        ("E_5", np.nan, r"row 7, column E_5: expected a finite value, got nan"),
        ("PZ_0", np.inf, r"row 7, column PZ_0: expected a finite value, got inf"),
        ("E_2", -1.5, r"row 7, column E_2: expected a non-negative energy, got -1.5"),
        ("is_signal_new", 2, r"row 7, column is_signal_new: expected a label 0 \(QCD\) or 1"),
        ("is_signal_new", np.nan, r"row 7, column is_signal_new: expected a label"),
    ],
)
def test_bad_values_name_file_key_row_and_column(tmp_path, small_file, column, value, message):
    frame = pd.read_hdf(small_file, "table")
    if column == "is_signal_new":
        frame[column] = frame[column].astype(np.float64)
    frame.loc[7, column] = value
    path = rewrite(tmp_path / "bad.h5", frame)
    blocks = benchmark.read_blocks(path, block_rows=3)
    assert len(next(blocks)) == 3 and len(next(blocks)) == 3  # rows 0-5 are fine
    with pytest.raises(BenchmarkFormatError, match=r"bad.h5 \(key 'table'\): " + message):
        next(blocks)


def test_block_rows_must_be_positive(small_file):
    with pytest.raises(ValueError, match="block_rows"):
        next(benchmark.read_blocks(small_file, block_rows=0))


# ------------------------------------------------------------------------------ pickled metadata
class Trap:
    """Unpickling it creates the directory ``marker`` (os.mkdir): a booby-trapped file's attack."""

    def __init__(self, marker):
        self.marker = str(marker)

    def __reduce__(self):
        return (os.mkdir, (self.marker,))


def booby_trap(path, node: str, attribute: str, marker) -> bytes:
    """Overwrite one attribute of an HDF5 file with an armed pickle, as PyTables stores
    pickles (protocol 0, a fixed-length string ending with STOP); returns the pickle."""
    import pickle

    import h5py

    raw = pickle.dumps(Trap(marker), protocol=0)
    with h5py.File(path, "r+") as h5:
        h5[node].attrs[attribute] = np.bytes_(raw)
    return raw


@pytest.mark.parametrize(
    "file_format, node, attribute",
    [
        ("table", "table", "data_columns"),  # the file: an attribute nobody needs
        ("table", "table/table", "values_block_0_kind"),  # the column names the reader needs
        ("table", "/", "TITLE"),
        ("fixed", "table", "axis0_variety"),
    ],
)
def test_a_booby_trapped_file_is_refused_without_running_anything(
    tmp_path, small_file, file_format, node, attribute
):
    """Every reader entry point refuses the file naming it, the node and the attribute, and
    the pickle's code never runs (no marker file)."""
    import pickle

    path = small_file
    if file_format == "fixed":
        path = rewrite(tmp_path / "fixed.h5", pd.read_hdf(small_file, "table"), format="fixed")
    marker = tmp_path / "pwned"
    raw = booby_trap(path, node, attribute, marker)
    with pytest.raises(benchmark.UnsafeMetadataError) as error:
        benchmark.read_benchmark(path)
    message = str(error.value)
    assert str(path) in message and repr(attribute) in message and "GLOBAL" in message
    with pytest.raises(benchmark.UnsafeMetadataError):
        benchmark.count_jets(path)
    with pytest.raises(benchmark.UnsafeMetadataError):
        next(benchmark.read_blocks(path, block_rows=2))
    assert not marker.exists()
    # Negative control: the trap is armed; unpickling the attribute does create the marker.
    pickle.loads(raw)
    assert marker.exists()


def test_plain_pickle_reads_pandas_metadata_as_pickle_would(small_file):
    """Every pickled attribute pandas and PyTables wrote decodes to what pickle.loads gives
    (the test unpickles its own file; the reader never does)."""
    import pickle

    import h5py

    decoded = 0
    with h5py.File(small_file, "r") as h5:
        nodes = [h5]
        h5.visit(lambda name: nodes.append(h5[name]))
        for node in nodes:
            for name, value in node.attrs.items():
                if isinstance(value, np.bytes_) and value.endswith(b"."):
                    expected = pickle.loads(bytes(value))
                    assert benchmark.plain_pickle(bytes(value), name) == expected, name
                    decoded += 1
    assert decoded >= 8  # info, non_index_axes, values_block_*_kind, data_columns, ...


def test_plain_pickle_refuses_code_and_names_malformed_data():
    import pickle

    armed = pickle.dumps(Trap("never"), protocol=0)
    with pytest.raises(benchmark.UnsafeMetadataError, match=r"where: .*GLOBAL"):
        benchmark.plain_pickle(armed, "where")
    with pytest.raises(BenchmarkFormatError, match="where: not a readable pickle"):
        benchmark.plain_pickle(b"(lp0\nVE_0\n", "where")  # no STOP
    plain = {"a": [1, 2.5, None, True, ("x", "y"), 2**70], "b": {}, "c": [[], ()]}
    for protocol in range(6):
        assert benchmark.plain_pickle(pickle.dumps(plain, protocol), "w") == plain
    assert benchmark.plain_pickle(pickle.dumps([b"z"], 3), "w") == [b"z"]


def test_columns_are_found_by_name_in_any_order(tmp_path, small_file):
    frame = pd.read_hdf(small_file, "table")
    shuffled = frame[frame.columns[::-1]]
    for file_format in ("table", "fixed"):
        path = rewrite(tmp_path / f"reversed_{file_format}.h5", shuffled, format=file_format)
        block = benchmark.read_benchmark(path)
        np.testing.assert_array_equal(
            block.constituents, benchmark.read_benchmark(small_file).constituents
        )
