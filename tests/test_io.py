"""Tests of hepml.io: Feather arrays, published-file validation and unpacking."""

from __future__ import annotations

import ast
import importlib
import json
import logging
import os
import subprocess
import sys
import textwrap
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
import pyarrow.feather
import pytest
from hepml import io
from hepml.io import feather, unpack

SPLITS = ("train", "valid", "test")
ELECTRON_KEYS = ["et", "ht", "ee", "he", "hl", "mass", "y"]
MUON_KEYS = ["images", "iso", "weight", "y", "pt"]
SIZES = {"train": 11, "valid": 5, "test": 7}


# ---------------------------------------------------------------------------------------------
# Small published files
# ---------------------------------------------------------------------------------------------


def electron_arrays(n: int, seed: int) -> dict[str, np.ndarray]:
    """One split of a tiny electron file in the published layout (both classes present)."""
    rng = np.random.default_rng(seed)
    y = np.arange(n) % 2
    return {
        "et": rng.exponential(size=(n, 31, 31, 1)).astype(np.float32),
        "ht": rng.exponential(size=(n, 32, 32, 1)).astype(np.float32),
        "ee": rng.exponential(size=(n, 31, 31, 1)).astype(np.float32),
        "he": rng.exponential(size=(n, 32, 32, 1)).astype(np.float32),
        "hl": rng.normal(size=(n, 7)),
        "mass": rng.exponential(size=(n, 1)),
        "y": y.astype(np.float64),
        # extra keys of the published file that the workflow ignores
        "efpe": rng.normal(size=(n, 3)),
        "efph": rng.normal(size=(n, 3)),
        "et_mass": rng.normal(size=(n, 1)),
        "ee_mass": rng.normal(size=(n, 1)),
    }


def write_published(path, arrays_by_split: dict[str, dict[str, np.ndarray]]) -> None:
    with h5py.File(path, "w") as h5:
        for split, arrays in arrays_by_split.items():
            for key, array in arrays.items():
                h5.create_dataset(f"{key}/{split}", data=array)


def electron_file(tmp_path, sizes=SIZES, change=None, name="data.h5"):
    """Write a tiny electron file; ``change(split, arrays)`` may edit a split before writing."""
    arrays = {split: electron_arrays(n, seed) for seed, (split, n) in enumerate(sizes.items())}
    if change is not None:
        for split in arrays:
            change(split, arrays[split])
    path = tmp_path / name
    write_published(path, arrays)
    return path, arrays


def muon_arrays(n_signal: int, n_bg: int, split: str, channel: bool = False, pt_2d=False):
    """One split of a tiny muon file; every event carries a unique id in all of its keys (as
    GeV and weights, inside the physical bounds: ids below 1000 are signal)."""
    ids = {
        "signal": 100 * (SPLITS.index(split) + 1) + np.arange(n_signal),
        "bg": 1000 + 100 * (SPLITS.index(split) + 1) + np.arange(n_bg),
    }
    arrays = {}
    for cls, event_id in ids.items():
        n = len(event_id)
        images = np.zeros((n, 32, 32), dtype=np.float32)
        images[:, 16, 16] = event_id
        arrays[f"images_{cls}"] = images[..., None] if channel else images
        arrays[f"iso_{cls}"] = np.stack([event_id, 2 * event_id, 3 * event_id], axis=1) * 0.5
        arrays[f"weights_{cls}"] = (event_id * 0.25).astype(np.float32)
        pt = event_id.astype(np.float32) + 0.5
        arrays[f"pt_{cls}"] = pt[:, None] if pt_2d else pt
    return arrays


def unpack_all(path, kind, keys, out_dir, seed=7):
    result = {}
    for split in SPLITS:
        for key in io.unpacked_keys(kind, keys):
            out = out_dir / split / f"{key}.feather"
            io.unpack_key(path, kind, keys, split, key, out, seed=seed)
            result[split, key] = io.read_array(out)
    return result


def assert_no_output(out_dir):
    leftovers = [p.name for p in out_dir.rglob("*") if p.is_file()] if out_dir.exists() else []
    assert leftovers == [], f"partial output left behind: {leftovers}"


# ---------------------------------------------------------------------------------------------
# Feather round trip
# ---------------------------------------------------------------------------------------------

ROUND_TRIP = {
    "float32_4d": np.random.default_rng(0).normal(size=(9, 31, 31, 1)).astype(np.float32),
    "float64_2d": np.random.default_rng(1).normal(size=(4100, 7)),
    "float64_1d": np.random.default_rng(2).normal(size=(13,)),
    "int64_1d": np.arange(-5, 8, dtype=np.int64) * 123456789,
    "int32_3d": np.arange(2 * 3 * 4, dtype=np.int32).reshape(2, 3, 4),
    "int8_labels": (np.arange(10) % 2).astype(np.int8),
    "uint8_labels": (np.arange(10) % 2).astype(np.uint8),
    "bool_labels": np.arange(10) % 3 == 0,
    "float32_labels_2d": (np.arange(10) % 2).astype(np.float32)[:, None],
    "special_floats": np.array([0.0, -0.0, np.nan, np.inf, -np.inf, 5e-324, np.pi]),
    "empty": np.zeros((0, 5), dtype=np.float32),
}


@pytest.mark.parametrize("name", list(ROUND_TRIP))
def test_round_trip_is_bit_identical_zero_copy(tmp_path, name):
    array = ROUND_TRIP[name]
    path = tmp_path / f"{name}.feather"
    io.write_array(path, array)
    allocated = pa.total_allocated_bytes()
    back = io.read_array(path)
    assert back.dtype == array.dtype
    assert back.shape == array.shape
    assert back.tobytes() == array.tobytes()
    # memory-mapped: nothing allocated by Arrow, the numpy array owns no data and is read-only
    assert pa.total_allocated_bytes() == allocated
    assert not back.flags.owndata and not back.flags.writeable
    assert list(path.parent.iterdir()) == [path]


def test_feather_layout_matches_architecture(tmp_path):
    array = np.arange(2 * 31 * 31, dtype=np.float32).reshape(2, 31, 31, 1)
    io.write_array(tmp_path / "a.feather", array)
    table = pyarrow.feather.read_table(tmp_path / "a.feather")
    assert table.column_names == ["values"]
    assert table.schema.field("values").type == pa.list_(pa.float32(), 31 * 31)
    assert table.schema.metadata[b"shape"] == b"[31, 31, 1]"
    assert table.schema.metadata[b"dtype"] == b"float32"
    reader = pa.ipc.open_file(str(tmp_path / "a.feather"))
    assert reader.num_record_batches == 1
    umask = os.umask(0o022)
    os.umask(umask)
    assert (tmp_path / "a.feather").stat().st_mode & 0o777 == 0o666 & ~umask  # not 0600


def test_read_array_accepts_multi_batch_compressed_files(tmp_path):
    values = np.arange(12, dtype=np.float64).reshape(6, 2)
    column = pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), 2)
    table = pa.table({"values": column}).replace_schema_metadata(
        {"shape": "[2]", "dtype": "float64"}
    )
    pyarrow.feather.write_feather(table, tmp_path / "m.feather", chunksize=2, compression="lz4")
    np.testing.assert_array_equal(io.read_array(tmp_path / "m.feather"), values)


def test_read_array_rejects_foreign_tables(tmp_path):
    pyarrow.feather.write_feather(pa.table({"x": [1, 2]}), tmp_path / "x.feather")
    with pytest.raises(io.DataError, match="x.feather.*'values'"):
        io.read_array(tmp_path / "x.feather")


def test_writer_leaves_nothing_when_rows_are_missing_or_fail(tmp_path):
    path = tmp_path / "a.feather"
    with pytest.raises(ValueError, match="2 rows written, 3 announced"):
        with io.FeatherArrayWriter(path, 3, (2,), np.float64) as writer:
            writer.write(np.zeros((2, 2)))
    with pytest.raises(RuntimeError, match="boom"):
        with io.FeatherArrayWriter(path, 3, (2,), np.float64) as writer:
            writer.write(np.zeros((1, 2)))
            raise RuntimeError("boom")
    assert list(tmp_path.iterdir()) == []


def _pyarrow_feather_array(path, array: np.ndarray) -> None:
    """The Feather array file as Arrow itself writes it, public API only: one uncompressed
    record batch, a plain or FixedSizeList column, shape and dtype in the schema metadata
    (docs/architecture.md). Files of the earlier writer are byte-identical to these."""
    storage = array.view(np.uint8) if array.dtype == np.bool_ else array
    flat = pa.array(np.ascontiguousarray(storage).reshape(-1))
    width = int(np.prod(array.shape[1:]))
    column = flat if array.ndim == 1 else pa.FixedSizeListArray.from_arrays(flat, width)
    metadata = {"shape": json.dumps(list(array.shape[1:])), "dtype": array.dtype.name}
    schema = pa.schema([pa.field("values", column.type, nullable=False)], metadata=metadata)
    options = pa.ipc.IpcWriteOptions(compression=None)
    with pa.ipc.new_file(str(path), schema, options=options) as writer:
        writer.write_batch(pa.record_batch([column], schema=schema))


@pytest.mark.parametrize("name", ["float32_4d", "float64_2d", "int64_1d", "bool_labels", "empty"])
def test_streamed_file_is_byte_identical_to_pyarrows_own(tmp_path, name):
    """The streamed writer changes nothing on disk: its file is the one pyarrow writes for the
    whole table, so files of the earlier writer (the same bytes) read as before."""
    array = ROUND_TRIP[name]
    io.write_array(tmp_path / "streamed.feather", array)
    _pyarrow_feather_array(tmp_path / "pyarrow.feather", array)
    written = (tmp_path / "streamed.feather").read_bytes()
    assert written == (tmp_path / "pyarrow.feather").read_bytes()
    back = io.read_array(tmp_path / "pyarrow.feather")
    assert back.tobytes() == array.tobytes() and not back.flags.owndata


@pytest.mark.parametrize(
    "misplace",
    [
        lambda found: None,  # the message reader found no single batch
        lambda found: (found[0] + 8, found[1]),
        lambda found: (found[0] - 8, found[1]),
        lambda found: (found[0], found[1] - 8),  # a body shorter than the rows
    ],
    ids=["none", "later", "earlier", "short"],
)
def test_writer_refuses_a_body_offset_it_cannot_confirm(tmp_path, monkeypatch, misplace):
    """A pyarrow whose layout or message reader changed fails loudly, never writes rows into
    the wrong bytes, and leaves nothing behind."""
    found = feather._single_body
    monkeypatch.setattr(feather, "_single_body", lambda path: misplace(found(path)))
    with pytest.raises(RuntimeError, match=r"a\.feather: pyarrow .* did not lay out"):
        io.write_array(tmp_path / "a.feather", np.arange(24.0).reshape(6, 4))
    assert list(tmp_path.iterdir()) == []


SKELETON_PROBE = textwrap.dedent(
    """
    import json, os, resource, sys
    import numpy as np
    from hepml import io
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    writer = io.FeatherArrayWriter(sys.argv[1], 2**18, (32, 32, 1), np.float32).__enter__()
    grown = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before
    stat = os.stat(writer._tmp)
    print(json.dumps([grown * 1024, stat.st_blocks * 512, stat.st_size]))
    writer.__exit__(RuntimeError, RuntimeError("probe"), None)
    """
)


def test_writer_lays_out_a_1gib_file_in_neither_memory_nor_disk(tmp_path):
    """Before any row arrives the 1 GiB body is a hole: the process does not grow and the
    disk holds the metadata and the two marked rows' blocks only (streaming stays O(chunk))."""
    scripts = Path(io.__file__).resolve().parents[2]
    result = subprocess.run(
        [sys.executable, "-c", SKELETON_PROBE, str(tmp_path / "big.feather")],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(scripts)},
        check=True,
    )
    grown, on_disk, size = json.loads(result.stdout)
    assert size > 2**30
    assert grown < 64 * 2**20
    assert on_disk < 8 * 2**20
    assert list(tmp_path.iterdir()) == []


@pytest.mark.parametrize("name", ["float32_4d", "float64_2d", "int64_1d", "bool_labels"])
def test_array_rows_reads_only_the_requested_rows(tmp_path, name):
    array = ROUND_TRIP[name]
    path = tmp_path / "a.feather"
    io.write_array(path, array)
    rows = io.ArrayRows(path)
    assert rows._offset is not None  # positioned reads, not the whole array
    assert (len(rows), rows.shape, rows.dtype, rows.ndim) == (
        len(array),
        array.shape,
        array.dtype,
        array.ndim,
    )
    n = len(array)
    for key in (slice(1, 4), slice(n - 2, n + 5), [n - 1, 0, 2, 2, 1], np.array([], int)):
        got = rows[key]
        assert got.dtype == array.dtype and got.tobytes() == array[key].tobytes()
    with pytest.raises(IndexError, match=r"a\.feather: row index out of range"):
        rows[[n]]
    with pytest.raises(ValueError, match="step 1"):
        rows[::2]


def test_array_rows_does_not_misread_a_compressed_file(tmp_path, caplog):
    """One lz4 batch of incompressible rows: the body is the rows behind length prefixes, as
    long as the rows within Arrow's padding; the check of the first and last rows sends it to
    the whole-array path, with a warning, instead of reading rows 24 bytes off."""
    values = np.random.default_rng(4).integers(0, 2**62, size=(50, 4))
    column = pa.FixedSizeListArray.from_arrays(pa.array(values.ravel()), 4)
    table = pa.table({"values": column}).replace_schema_metadata({"shape": "[4]", "dtype": "int64"})
    pyarrow.feather.write_feather(table, tmp_path / "c.feather", compression="lz4")
    with caplog.at_level(logging.WARNING, logger="hepml.io"):
        rows = io.ArrayRows(tmp_path / "c.feather")
    assert rows._offset is None
    assert "c.feather: not one uncompressed record batch of rows" in caplog.text
    np.testing.assert_array_equal(rows[[3, 1, 49]], values[[3, 1, 49]])
    np.testing.assert_array_equal(rows[10:12], values[10:12])


def _plain_pyarrow_array(path) -> np.ndarray:
    """A Feather array file read back by pyarrow alone, without the codec: Arrow's own reading
    of the column (a copy), reshaped by the schema metadata (docs/architecture.md)."""
    table = pyarrow.feather.read_table(path, memory_map=False)
    shape = json.loads(table.schema.metadata[b"shape"])
    dtype = np.dtype(table.schema.metadata[b"dtype"].decode())
    column = table.column("values").combine_chunks()
    values = (column.flatten() if shape else column).to_numpy(zero_copy_only=False)
    return values.astype(dtype).reshape((len(column), *shape))


def _write_rows_reversed(write):
    """A writer that misplaces rows: each chunk's rows in reverse order (negative control)."""
    return lambda self, rows: write(self, np.asarray(rows)[::-1])


@pytest.mark.parametrize("misplaced", [False, True], ids=["codec", "misplaced_rows"])
@pytest.mark.parametrize("name", ["float32_4d", "float64_2d", "int64_1d", "bool_labels"])
def test_plain_pyarrow_reads_the_streamed_rows_back(tmp_path, monkeypatch, name, misplaced):
    """The rows the codec streams into the body (several chunks) are where Arrow itself reads
    them: pyarrow without the codec gives the array back. A writer that misplaces rows writes
    a file Arrow reads without error, and the check sees it."""
    monkeypatch.setattr(feather, "CHUNK_EVENTS", 3)
    if misplaced:
        write = feather.FeatherArrayWriter.write
        monkeypatch.setattr(feather.FeatherArrayWriter, "write", _write_rows_reversed(write))
    array = ROUND_TRIP[name]
    io.write_array(tmp_path / "a.feather", array)
    back = _plain_pyarrow_array(tmp_path / "a.feather")
    assert back.shape == array.shape and back.dtype == array.dtype
    assert (back.tobytes() == array.tobytes()) is not misplaced


# ---------------------------------------------------------------------------------------------
# The package's re-exports
# ---------------------------------------------------------------------------------------------


def declared_exports(source: str) -> dict[str, set[str]]:
    """Module -> names of the ``TYPE_CHECKING`` imports of hepml/io/__init__.py's source."""
    declared: dict[str, set[str]] = {}
    for node in ast.parse(source).body:
        if isinstance(node, ast.If) and getattr(node.test, "id", None) == "TYPE_CHECKING":
            for statement in node.body:
                module = statement.module.removeprefix("hepml.io.")
                declared.setdefault(module, set()).update(a.name for a in statement.names)
    return declared


def test_the_reexports_are_declared_and_resolve_to_their_modules():
    """``from hepml import io; io.write_json`` keeps working: every re-exported name is declared
    by a TYPE_CHECKING import of the same module (what readers and tests/test_envs.py's import
    scan follow) and is that module's object; an unknown name is an AttributeError."""
    source = Path(io.__file__).read_text()
    assert declared_exports(source) == {m: set(names) for m, names in io._EXPORTS.items()}
    assert declared_exports(source.replace("read_json,\n", "", 1)) != {
        m: set(names) for m, names in io._EXPORTS.items()
    }
    for module, names in io._EXPORTS.items():
        for name in names:
            assert getattr(io, name) is getattr(importlib.import_module(f"hepml.io.{module}"), name)
    assert {"write_json", "read_array", "unpack_key", "DataError"} <= set(dir(io))
    with pytest.raises(AttributeError, match="no attribute 'write_jsn'"):
        io.write_jsn  # noqa: B018


# ---------------------------------------------------------------------------------------------
# Electrons
# ---------------------------------------------------------------------------------------------


def test_electrons_unpack_every_key_unchanged(tmp_path):
    path, arrays = electron_file(tmp_path)
    out = unpack_all(path, "electrons", ELECTRON_KEYS, tmp_path / "out")
    for split in SPLITS:
        for key in ("et", "ht", "ee", "he", "hl", "mass"):
            assert out[split, key].tobytes() == arrays[split][key].tobytes()
            assert out[split, key].shape == arrays[split][key].shape
        np.testing.assert_array_equal(out[split, "y"], arrays[split]["y"])
        assert out[split, "y"].dtype == np.int8
        np.testing.assert_array_equal(out[split, "weight"], np.ones(SIZES[split]))
    assert ("train", "efpe") not in out


def test_unpacking_streams_across_chunk_boundaries(tmp_path, monkeypatch):
    monkeypatch.setattr(unpack, "CHUNK_EVENTS", 3)
    path, arrays = electron_file(tmp_path, sizes={"train": 10, "valid": 4, "test": 3})
    io.unpack_key(path, "electrons", ELECTRON_KEYS, "train", "et", tmp_path / "et.feather", 0)
    assert io.read_array(tmp_path / "et.feather").tobytes() == arrays["train"]["et"].tobytes()


@pytest.mark.parametrize(
    "sizes", [{"train": 2, "valid": 2, "test": 3}, {"train": 40, "valid": 2, "test": 9}]
)
def test_any_number_of_events(tmp_path, sizes):
    path, arrays = electron_file(tmp_path, sizes=sizes)
    out = unpack_all(path, "electrons", ["et", "y"], tmp_path / "out")
    assert out["valid", "et"].shape == (sizes["valid"], 31, 31, 1)


def test_unknown_configured_key_is_named(tmp_path):
    path, _ = electron_file(tmp_path)
    with pytest.raises(io.DataError, match="unknown key.*'images'"):
        io.unpack_key(path, "electrons", ["et", "images"], "train", "et", tmp_path / "o", 0)


def _electron_error(tmp_path, change, key, split="train", keys=ELECTRON_KEYS):
    path, _ = electron_file(tmp_path, change=change)
    out_dir = tmp_path / "out"
    with pytest.raises(io.DataError) as error:
        io.unpack_key(path, "electrons", keys, split, key, out_dir / f"{key}.feather", seed=0)
    message = str(error.value)
    assert str(path) in message
    assert_no_output(out_dir)
    return message


def test_missing_key(tmp_path):
    message = _electron_error(tmp_path, lambda split, a: a.pop("ht"), key="et")
    assert "key 'ht'" in message and "missing" in message


def test_missing_split(tmp_path):
    def drop(split, arrays):
        if split == "valid":
            arrays.pop("hl")

    message = _electron_error(tmp_path, drop, key="et")
    assert "key 'hl'" in message and "split 'valid'" in message and "missing" in message


def test_key_that_is_not_a_group(tmp_path):
    path, _ = electron_file(tmp_path)
    with h5py.File(path, "a") as h5:
        del h5["mass"]
        h5["mass"] = np.zeros((3, 1))
    with pytest.raises(io.DataError, match="key 'mass'.*is a dataset"):
        io.unpack_key(path, "electrons", ELECTRON_KEYS, "train", "et", tmp_path / "o", 0)


def test_wrong_shape(tmp_path):
    def squeeze(split, arrays):
        if split == "test":
            arrays["et"] = arrays["et"][..., 0]

    message = _electron_error(tmp_path, squeeze, key="hl")
    assert "key 'et'" in message and "split 'test'" in message
    assert "wrong shape" in message and "(N, 31, 31, 1)" in message


def test_n_mismatch_across_keys(tmp_path):
    def shorten(split, arrays):
        if split == "valid":
            arrays["mass"] = arrays["mass"][:-1]

    message = _electron_error(tmp_path, shorten, key="et")
    assert "key 'mass'" in message and "split 'valid'" in message
    assert "4 events" in message and "5" in message


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_non_finite_pixel_names_the_first_bad_event(tmp_path, bad):
    def spoil(split, arrays):
        if split == "train":
            arrays["ht"][6, 3, 4, 0] = bad
            arrays["ht"][9, 0, 0, 0] = bad

    message = _electron_error(tmp_path, spoil, key="ht")
    assert "key 'ht'" in message and "split 'train'" in message
    assert "non-finite" in message and "event 6" in message and str(bad) in message


def test_non_finite_is_found_in_a_later_chunk(tmp_path, monkeypatch):
    monkeypatch.setattr(unpack, "CHUNK_EVENTS", 4)

    def spoil(split, arrays):
        if split == "train":
            arrays["hl"][9, 2] = np.nan

    message = _electron_error(tmp_path, spoil, key="hl")
    assert "event 9" in message


def test_label_outside_0_1(tmp_path):
    def spoil(split, arrays):
        if split == "test":
            arrays["y"][2] = 2.0

    message = _electron_error(tmp_path, spoil, key="y", split="test")
    assert "key 'y'" in message and "split 'test'" in message and "event 2" in message
    assert "must be 0 or 1" in message


def test_one_class_split(tmp_path):
    def spoil(split, arrays):
        if split == "valid":
            arrays["y"][:] = 1.0

    message = _electron_error(tmp_path, spoil, key="y", split="valid")
    assert "key 'y'" in message and "split 'valid'" in message and "one class" in message


def test_missing_file_is_named(tmp_path):
    with pytest.raises(io.DataError, match="nothing.h5.*not found"):
        io.unpack_key(
            tmp_path / "nothing.h5", "electrons", ["et"], "train", "et", tmp_path / "o", 0
        )


# ---------------------------------------------------------------------------------------------
# Muons
# ---------------------------------------------------------------------------------------------


MUON_SIZES = {"train": (9, 6), "valid": (3, 4), "test": (5, 2)}


def muon_file(tmp_path, sizes=MUON_SIZES, channel=False, pt_2d=False, pt=True, change=None):
    arrays = {
        split: muon_arrays(*n, split, channel=channel, pt_2d=pt_2d) for split, n in sizes.items()
    }
    for split in arrays:
        if not pt:
            arrays[split].pop("pt_signal")
            arrays[split].pop("pt_bg")
        if change is not None:
            change(split, arrays[split])
    path = tmp_path / "muons.h5"
    write_published(path, arrays)
    return path


@pytest.mark.parametrize("channel,pt_2d", [(False, False), (True, True)])
def test_muons_merge_and_shuffle_identically_for_every_key(tmp_path, monkeypatch, channel, pt_2d):
    monkeypatch.setattr(unpack, "CHUNK_EVENTS", 4)  # several chunks per split
    path = muon_file(tmp_path, channel=channel, pt_2d=pt_2d)
    out = unpack_all(path, "muons", MUON_KEYS, tmp_path / "out")
    for split, (n_signal, n_bg) in MUON_SIZES.items():
        images, iso = out[split, "images"], out[split, "iso"]
        weight, y, pt = out[split, "weight"], out[split, "y"], out[split, "pt"]
        n = n_signal + n_bg
        assert images.shape == (n, 32, 32, 1) and iso.shape == (n, 3) and pt.shape == (n, 1)
        assert weight.shape == (n,) and weight.dtype == np.float64 and y.dtype == np.int8
        event_id = images[:, 16, 16, 0]
        # every key of an output row comes from the same published event
        np.testing.assert_array_equal(iso[:, 0], event_id * 0.5)
        np.testing.assert_array_equal(iso[:, 2], event_id * 1.5)
        np.testing.assert_array_equal(weight, (event_id * 0.25).astype(np.float32))
        np.testing.assert_array_equal(pt[:, 0], event_id + 0.5)
        np.testing.assert_array_equal(y, (event_id < 1000).astype(np.int8))
        assert y.sum() == n_signal
        # signal rows then background rows, reordered by the seeded permutation of the split
        published = muon_arrays(n_signal, n_bg, split)
        ids = np.concatenate([published[f"images_{c}"][:, 16, 16] for c in ("signal", "bg")])
        np.testing.assert_array_equal(event_id, ids[io.shuffle_permutation(n, 7, split)])


def test_muon_shuffle_depends_on_seed_and_split_only():
    a = io.shuffle_permutation(50, seed=3, split="train")
    np.testing.assert_array_equal(a, io.shuffle_permutation(50, seed=3, split="train"))
    assert not np.array_equal(a, io.shuffle_permutation(50, seed=3, split="valid"))
    assert not np.array_equal(a, io.shuffle_permutation(50, seed=4, split="train"))
    assert sorted(a) == list(range(50))


def test_muons_without_pt(tmp_path):
    path = muon_file(tmp_path, pt=False)
    out = unpack_all(path, "muons", ["images", "iso", "y"], tmp_path / "out")
    assert ("train", "pt") not in out and out["train", "weight"].shape == (15,)
    with pytest.raises(io.DataError, match="key 'pt' \\(group 'pt_signal'\\): missing"):
        io.unpack_key(path, "muons", MUON_KEYS, "train", "y", tmp_path / "o.feather", 0)


def test_muon_one_class_split(tmp_path):
    path = muon_file(tmp_path, sizes={"train": (9, 6), "valid": (3, 0), "test": (5, 2)})
    with pytest.raises(io.DataError) as error:
        io.unpack_key(path, "muons", MUON_KEYS, "valid", "y", tmp_path / "o" / "y.feather", 0)
    message = str(error.value)
    assert str(path) in message and "key 'y'" in message and "split 'valid'" in message
    assert "one class" in message
    assert_no_output(tmp_path / "o")


def test_muon_n_mismatch_between_signal_groups(tmp_path):
    def shorten(split, arrays):
        if split == "test":
            arrays["iso_signal"] = arrays["iso_signal"][:-1]

    path = muon_file(tmp_path, change=shorten)
    with pytest.raises(io.DataError, match="key 'iso', split 'test'.*'iso_signal/test' holds 4"):
        io.unpack_key(path, "muons", MUON_KEYS, "train", "images", tmp_path / "o.feather", 0)


def test_muon_nan_names_the_published_group_and_row(tmp_path):
    def spoil(split, arrays):
        if split == "train":
            arrays["images_bg"][4, 0, 0] = np.nan

    path = muon_file(tmp_path, change=spoil)
    with pytest.raises(io.DataError) as error:
        io.unpack_key(path, "muons", MUON_KEYS, "train", "images", tmp_path / "o" / "i.feather", 0)
    message = str(error.value)
    assert "key 'images', split 'train'" in message and "'images_bg/train' row 4" in message
    assert_no_output(tmp_path / "o")


def test_table_round_trip_and_missing_column(tmp_path):
    import pandas as pd

    table = pd.DataFrame({"y": np.array([0, 1, 1], dtype=np.int8), "score": [0.1, 0.9, 0.4]})
    io.write_table(table, tmp_path / "p.feather")
    pd.testing.assert_frame_equal(io.read_table(tmp_path / "p.feather"), table)
    pd.testing.assert_frame_equal(
        io.read_table(tmp_path / "p.feather", ["score"]), table[["score"]]
    )
    with pytest.raises(io.DataError, match="p.feather.*'weight'"):
        io.read_table(tmp_path / "p.feather", ["y", "weight"])


# ---------------------------------------------------------------------------------------------
# Faults found by probing (issue 11): negative pixels, corrupt chunks, stale temporaries,
# the key whose length disagrees
# ---------------------------------------------------------------------------------------------


def test_negative_pixel_names_file_key_split_and_row(tmp_path):
    def spoil(split, arrays):
        if split == "valid":
            arrays["et"][3, 10, 12, 0] = -100.0

    message = _electron_error(tmp_path, spoil, key="et", split="valid")
    assert "key 'et'" in message and "split 'valid'" in message
    assert "negative value (-100.0)" in message and "'et/valid' row 3" in message


def test_negative_muon_pixel_names_the_published_group_and_row(tmp_path):
    def spoil(split, arrays):
        if split == "test":
            arrays["images_signal"][2, 5, 5] = -1.5

    path = muon_file(tmp_path, change=spoil)
    with pytest.raises(io.DataError) as error:
        io.unpack_key(path, "muons", MUON_KEYS, "test", "images", tmp_path / "o" / "i.feather", 0)
    message = str(error.value)
    assert "key 'images', split 'test'" in message and "'images_signal/test' row 2" in message
    assert "negative value (-1.5)" in message
    assert_no_output(tmp_path / "o")


def test_negative_values_of_non_pixel_keys_are_kept(tmp_path):
    path, arrays = electron_file(tmp_path)  # hl is standard normal: about half negative
    assert (arrays["train"]["hl"] < 0).any()
    io.unpack_key(path, "electrons", ELECTRON_KEYS, "train", "hl", tmp_path / "hl.feather", 0)
    np.testing.assert_array_equal(io.read_array(tmp_path / "hl.feather"), arrays["train"]["hl"])


def test_corrupt_chunk_is_a_data_error_naming_file_and_key(tmp_path):
    path, _ = electron_file(tmp_path)
    with h5py.File(path, "a") as h5:
        del h5["ht/train"]
        values = np.random.default_rng(3).exponential(size=(11, 32, 32, 1)).astype(np.float32)
        h5.create_dataset("ht/train", data=values, chunks=(4, 32, 32, 1), compression="gzip")
        chunk = h5["ht/train"].id.get_chunk_info(1)
    with open(path, "r+b") as handle:  # overwrite the second compressed chunk with garbage
        handle.seek(chunk.byte_offset)
        handle.write(b"\xff" * chunk.size)
    out_dir = tmp_path / "out"
    with pytest.raises(io.DataError) as error:
        io.unpack_key(path, "electrons", ELECTRON_KEYS, "train", "ht", out_dir / "ht.feather", 0)
    message = str(error.value)
    assert str(path) in message and "key 'ht', split 'train'" in message
    assert "cannot read events" in message
    assert_no_output(out_dir)


def test_stale_temporaries_of_an_output_are_removed_when_it_is_written(tmp_path):
    out = tmp_path / "feather" / "train" / "et.feather"
    out.parent.mkdir(parents=True)
    stale = out.parent / ".et.feather.999999999.tmp"  # left by a SIGKILLed unpack
    stale.write_bytes(b"x" * 100)
    neighbour = out.parent / ".ht.feather.999999999.tmp"  # another output's: not ours to touch
    neighbour.write_bytes(b"y")
    unrelated = out.parent / ".et.feather.notes.tmp"
    unrelated.write_bytes(b"z")
    path, arrays = electron_file(tmp_path)
    io.unpack_key(path, "electrons", ELECTRON_KEYS, "train", "et", out, 0)
    assert not stale.exists() and neighbour.exists() and unrelated.exists()
    assert io.read_array(out).tobytes() == arrays["train"]["et"].tobytes()


def test_stale_temporaries_are_removed_even_when_the_unpack_fails(tmp_path):
    out = tmp_path / "out" / "et.feather"
    out.parent.mkdir()
    stale = out.parent / ".et.feather.12345.tmp"
    stale.write_bytes(b"x")
    with pytest.raises(io.DataError):
        io.unpack_key(tmp_path / "nothing.h5", "electrons", ["et"], "train", "et", out, 0)
    assert not stale.exists()


def test_every_atomic_writer_removes_stale_temporaries(tmp_path):
    stale = [tmp_path / f".{name}.4242.tmp" for name in ("a.json", "b.feather", "c.txt")]
    for path in stale:
        path.write_text("old")
    io.write_json(tmp_path / "a.json", {"x": 1})
    io.write_array(tmp_path / "b.feather", np.arange(3))
    io.write_text(tmp_path / "c.txt", "new")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.json", "b.feather", "c.txt"]


@pytest.mark.parametrize("odd", ["et", "hl", "y"])
def test_the_key_whose_length_disagrees_with_the_majority_is_named(tmp_path, odd):
    def lengthen(split, arrays):
        if split == "test":
            arrays[odd] = np.concatenate([arrays[odd], arrays[odd][:2]])

    message = _electron_error(tmp_path, lengthen, key="mass", split="test")
    assert f"key '{odd}', split 'test'" in message
    assert f"'{odd}/test' holds 9 events" in message and "hold 7" in message
    others = [key for key in ELECTRON_KEYS if key != odd]
    assert f"the other keys ({', '.join(sorted(others))})" in message


def test_two_keys_of_different_lengths_are_both_named(tmp_path):
    def shorten(split, arrays):
        if split == "train":
            arrays["y"] = arrays["y"][:-1]

    message = _electron_error(tmp_path, shorten, key="et", keys=["et", "y"])
    assert "'et/train' holds 11" in message and "'y/train' holds 10" in message
