"""EFP tables on disk: column blocks, so that reading k EFPs costs k x events, not the grid.

Part of the I/O layer (with ``hepml.io``): the only code that reads or writes EFP tables.

Why this format
---------------
The paper grid has 15,270 EFPs (docs/reference.md "Energy Flow Polynomials"); a split of the
published electron data has up to 137k events, so one split is ~17 GB of float64. Readers need
either a handful of columns on every event (a guided pass trains on 7 HL features + a few
EFPs), every column on a few hundred sampled events (deduplication) or every column once,
streamed (single-EFP AUCs, the guided search's ADO ranking). Arrow IPC (Feather v2) files,
uncompressed, one per block of ``block_columns`` columns, serve all three:

- reading k columns opens only the blocks that hold them and reads only those columns'
  buffers (``IpcReadOptions(included_fields=...)`` on a plain file: measured 3.5 MB read for
  2 of 512 columns x 200k events), so the cost is proportional to k x events;
- no step ever holds more than one block of ``block_rows`` rows x ``block_columns`` columns
  of the grid, plus what it asked for: a writer appends record batches of at most
  ``block_rows`` rows, a streaming reader yields groups of columns whose size is capped by
  ``block_rows x block_columns`` elements;
- the canonical EFP names are the column names; values are float64 exactly as computed;
  nothing is pickled. Parquet was the alternative: its footer grows with columns x row
  groups (15k columns), it encodes and compresses (CPU per read), and it gives nothing an
  uncompressed Arrow file does not for float64 data read back whole.

Layout of one split (``results/{dataset}/efp/{split}/``)::

    chunk0000/                 one compute_efps job: the events [start, stop) of the split
        manifest.json          {"format", "n_rows", "block_columns",
                                "blocks": [{"file", "columns"}]}
        block0000.feather      Arrow IPC file: the block's columns, record batches of at most
                               block_rows rows
        block0001.feather
    chunk0001/ ...
    index.json                 gather_efps: {"format", "n_events", "columns",
                                             "chunks": [{"dir", "start", "stop"}]}

The chunk directories are the data and the index only lists them (no copy of 17 GB): reading a
column concatenates it over the chunks in order.
"""

from __future__ import annotations

import json
import math
import os
import shutil
from collections.abc import Iterator, Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa

from hepml.io.files import DataError, write_json
from hepml.settings import StorageSettings  # noqa: F401 (the readers' and writers' block shape)

CHUNK_FORMAT = "hepml-efp-chunk/1"
INDEX_FORMAT = "hepml-efp-index/1"
MANIFEST = "manifest.json"
INDEX = "index.json"


def _block_file(block: int) -> str:
    return f"block{block:04d}.feather"


def chunk_dir_name(chunk: int) -> str:
    """Name of a chunk's directory inside the split's directory."""
    return f"chunk{chunk:04d}"


class ChunkWriter:
    """Writes one chunk directory: rows appended in order, columns split into blocks.

    The directory is built under a temporary name and renamed when ``close`` succeeds, so a
    failed or killed job leaves no partial chunk (a stale temporary from a killed job is
    removed when the next writer of the same chunk starts).
    """

    def __init__(self, path: str | os.PathLike, names: Sequence[str], block_columns: int):
        self.path = Path(path)
        self.names = list(names)
        if len(set(self.names)) != len(self.names):
            raise ValueError("EFP column names must be unique")
        self.block_columns = int(block_columns)
        self._tmp = self.path.with_name(f".{self.path.name}.tmp")
        shutil.rmtree(self._tmp, ignore_errors=True)
        self._tmp.mkdir(parents=True)
        self._blocks = [
            self.names[start : start + self.block_columns]
            for start in range(0, len(self.names), self.block_columns)
        ]
        self._schemas = [
            pa.schema([(name, pa.float64()) for name in cols]) for cols in self._blocks
        ]
        self._sinks = [
            pa.OSFile(str(self._tmp / _block_file(b)), "wb") for b in range(len(self._blocks))
        ]
        self._writers = [
            pa.ipc.new_file(sink, schema)
            for sink, schema in zip(self._sinks, self._schemas, strict=True)
        ]
        self.n_rows = 0

    def write_rows(self, values: np.ndarray) -> None:
        """Append (rows, n_columns) float64 values, columns in ``names`` order."""
        values = np.asarray(values, dtype=np.float64)
        if values.ndim != 2 or values.shape[1] != len(self.names):
            raise ValueError(f"expected (rows, {len(self.names)}) values, got {values.shape}")
        start = 0
        for writer, schema, columns in zip(self._writers, self._schemas, self._blocks, strict=True):
            stop = start + len(columns)
            arrays = [pa.array(values[:, j]) for j in range(start, stop)]
            writer.write_batch(pa.record_batch(arrays, schema=schema))
            start = stop
        self.n_rows += len(values)

    def close(self) -> None:
        for writer, sink in zip(self._writers, self._sinks, strict=True):
            writer.close()
            sink.close()
        write_json(
            self._tmp / MANIFEST,
            {
                "format": CHUNK_FORMAT,
                "n_rows": self.n_rows,
                "block_columns": self.block_columns,
                "blocks": [
                    {"file": _block_file(b), "columns": cols} for b, cols in enumerate(self._blocks)
                ],
            },
        )
        shutil.rmtree(self.path, ignore_errors=True)
        os.replace(self._tmp, self.path)

    def abort(self) -> None:
        for writer, sink in zip(self._writers, self._sinks, strict=True):
            try:
                writer.close()
            finally:
                sink.close()
        shutil.rmtree(self._tmp, ignore_errors=True)

    def __enter__(self) -> ChunkWriter:
        return self

    def __exit__(self, kind, value, traceback) -> None:
        if kind is None:
            self.close()
        else:
            self.abort()


def read_manifest(chunk_dir: str | os.PathLike) -> dict:
    """The manifest of a chunk directory; DataError names the file when it is not one."""
    path = Path(chunk_dir) / MANIFEST
    if not path.is_file():
        raise DataError(f"{path}: missing (expected a chunk written by compute_efps)")
    manifest = json.loads(path.read_text())
    if manifest.get("format") != CHUNK_FORMAT:
        raise DataError(f"{path}: format {manifest.get('format')!r}, expected {CHUNK_FORMAT!r}")
    return manifest


def write_index(
    index_path: str | os.PathLike,
    chunk_dirs: Sequence[str | os.PathLike],
    names: Sequence[str],
    n_events: int,
) -> dict:
    """Check the chunks of a split against the grid and the split's length, then write index.json.

    chunk_dirs: in event order; each must sit in the index's directory. names: the canonical
    EFP names of the config's grid, in column order. Raises DataError naming the chunk whose
    columns or row count disagree.
    """
    index_path = Path(index_path)
    names = list(names)
    chunks, start = [], 0
    for chunk_dir in chunk_dirs:
        chunk_dir = Path(chunk_dir)
        if chunk_dir.parent.resolve() != index_path.parent.resolve():
            raise ValueError(f"{chunk_dir}: a chunk must sit next to {index_path}")
        manifest = read_manifest(chunk_dir)
        columns = [name for block in manifest["blocks"] for name in block["columns"]]
        if columns != names:
            raise DataError(
                f"{chunk_dir / MANIFEST}: {len(columns)} columns differ from the EFP grid in the "
                f"config ({len(names)} columns); recompute the chunk"
            )
        stop = start + int(manifest["n_rows"])
        chunks.append({"dir": chunk_dir.name, "start": start, "stop": stop})
        start = stop
    if start != n_events:
        raise DataError(
            f"the chunks of {index_path.parent} hold {start} events but the split holds "
            f"{n_events}: recompute the chunks"
        )
    index = {"format": INDEX_FORMAT, "n_events": int(n_events), "columns": names, "chunks": chunks}
    write_json(index_path, index)
    return index


class EFPTable:
    """Read access to one split's EFP table (index.json + its chunk directories).

    names: canonical EFP names in column order; n_events: rows.
    """

    def __init__(self, index_path: str | os.PathLike):
        self.index_path = Path(index_path)
        if not self.index_path.is_file():
            raise DataError(f"{self.index_path}: EFP table index not found")
        index = json.loads(self.index_path.read_text())
        if index.get("format") != INDEX_FORMAT:
            raise DataError(
                f"{self.index_path}: format {index.get('format')!r}, expected {INDEX_FORMAT!r}"
            )
        self.names: list[str] = list(index["columns"])
        self.n_events = int(index["n_events"])
        self._position = {name: i for i, name in enumerate(self.names)}
        root = self.index_path.parent
        self._chunks = [
            (root / entry["dir"], int(entry["start"]), int(entry["stop"]))
            for entry in index["chunks"]
        ]
        self._manifests: dict[Path, dict] = {}

    def _blocks_of(self, chunk_dir: Path) -> list[tuple[str, dict[str, int]]]:
        """(file, {column name: field index}) of each block of a chunk."""
        if chunk_dir not in self._manifests:
            manifest = read_manifest(chunk_dir)
            self._manifests[chunk_dir] = [
                (block["file"], {name: i for i, name in enumerate(block["columns"])})
                for block in manifest["blocks"]
            ]
        return self._manifests[chunk_dir]

    def check(self, names: Sequence[str]) -> None:
        """DataError naming the index when any of ``names`` is not a column."""
        missing = [name for name in names if name not in self._position]
        if missing:
            more = " ..." if len(missing) > 5 else ""
            raise DataError(
                f"{self.index_path}: EFP column(s) {missing[:5]}{more} not found "
                f"({len(self.names)} present)"
            )

    def read(self, names: Sequence[str], rows: np.ndarray | None = None) -> np.ndarray:
        """(N, len(names)) float64 in the order given; with ``rows`` (sorted indices) only
        those rows, (len(rows), len(names)). Reads only the blocks holding the names."""
        names = list(names)
        self.check(names)
        n_out = self.n_events if rows is None else len(rows)
        out = np.empty((n_out, len(names)), dtype=np.float64)
        if rows is not None:
            rows = np.asarray(rows, dtype=np.int64)
            if rows.size and (
                np.any(np.diff(rows) < 0) or rows[0] < 0 or rows[-1] >= self.n_events
            ):
                raise ValueError("rows must be sorted indices into the table")
        wanted = {name: j for j, name in enumerate(names)}
        for chunk_dir, start, stop in self._chunks:
            if rows is None:
                local, target = None, slice(start, stop)
            else:
                low, high = np.searchsorted(rows, [start, stop])
                if low == high:
                    continue
                local, target = rows[low:high] - start, slice(low, high)
            for file, fields in self._blocks_of(chunk_dir):
                here = [(name, fields[name]) for name in wanted if name in fields]
                if not here:
                    continue
                values = self._read_block(chunk_dir / file, [index for _, index in here])
                if local is not None:
                    values = values[local]
                if len(values) != (target.stop - target.start):
                    raise DataError(
                        f"{chunk_dir / file}: {len(values)} rows, expected "
                        f"{target.stop - target.start} (index {self.index_path})"
                    )
                for column, (name, _) in enumerate(here):
                    out[target, wanted[name]] = values[:, column]
        return out

    @staticmethod
    def _read_block(path: Path, fields: list[int]) -> np.ndarray:
        """(rows, len(fields)) float64: the given fields of one block file, all its batches.

        Fields are read in ascending order (Arrow's), then put back in the order asked."""
        order = np.argsort(fields)
        sorted_fields = [fields[i] for i in order]
        try:
            with pa.OSFile(str(path), "rb") as source:
                reader = pa.ipc.open_file(
                    source, options=pa.ipc.IpcReadOptions(included_fields=sorted_fields)
                )
                batches = [reader.get_batch(i) for i in range(reader.num_record_batches)]
        except (OSError, pa.ArrowInvalid) as error:
            raise DataError(f"{path}: cannot read EFP block ({error})") from error
        n_rows = sum(batch.num_rows for batch in batches)
        values = np.empty((n_rows, len(fields)), dtype=np.float64)
        row = 0
        for batch in batches:
            for j, column in enumerate(batch.columns):
                values[row : row + batch.num_rows, order[j]] = column.to_numpy(zero_copy_only=False)
            row += batch.num_rows
        return values

    def iter_groups(
        self, names: Sequence[str], max_elements: int
    ) -> Iterator[tuple[list[str], np.ndarray]]:
        """Stream ``names`` in groups of columns, (N, g) float64 each, with N x g <= max_elements
        (at least one column): memory bounded whatever the grid width."""
        names = list(names)
        self.check(names)
        group = max(1, int(max_elements) // max(self.n_events, 1))
        for start in range(0, len(names), group):
            part = names[start : start + group]
            yield part, self.read(part)

    def iter_chunks(self, names: Sequence[str]) -> Iterator[tuple[slice, np.ndarray]]:
        """Stream ``names`` by event range: (rows, (stop - start, len(names)) float64) per
        compute_efps chunk, in event order; memory bounded by one chunk's rows."""
        names = list(names)
        self.check(names)
        for _, start, stop in self._chunks:
            yield slice(start, stop), self.read(names, rows=np.arange(start, stop))

    def n_groups(self, n_names: int, max_elements: int) -> int:
        group = max(1, int(max_elements) // max(self.n_events, 1))
        return math.ceil(n_names / group) if n_names else 0
