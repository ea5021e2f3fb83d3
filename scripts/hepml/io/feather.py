"""Feather (Arrow IPC) files: the array codec, :class:`ArrayRows` and Feather tables.

Feather array files (docs/architecture.md, "Feather array layout")
------------------------------------------------------------------
One Arrow table with a single column ``values``: a plain column for (N,) arrays, a
``FixedSizeList<dtype>[d1*d2*...]`` column (C order) for (N, d1, d2, ...) arrays; the schema
metadata ``shape`` (JSON list without N) and ``dtype`` (numpy name) restore the array.  Bool
arrays are stored as uint8.  The file is written uncompressed as ONE record batch, so that
:func:`read_array` can memory-map it and return a single zero-copy numpy view (the body of
several record batches is not contiguous, so it could not be one array).  The batch body is
still streamed chunk by chunk (:class:`FeatherArrayWriter`): memory does not grow with N.
Only pyarrow's public API is used: its IPC file writer lays out the file around a body of
zeros that is never allocated (:class:`_SparseFile` turns zero blocks into holes), its
message reader gives the body's offset (:func:`_single_body`), and marked first and last rows
confirm it before the rows are written there, so a pyarrow that lays out the body otherwise
fails loudly instead of misplacing rows.  :class:`ArrayRows` finds the rows the same way and
reads them with positioned reads.
"""

from __future__ import annotations

import io as _pyio
import json
import logging
import math
import os
from collections.abc import Iterable
from pathlib import Path

import numpy as np
import pyarrow as pa
from pyarrow import feather as pa_feather

from hepml.io.files import DataError, _temporary_name

log = logging.getLogger(__name__)

CHUNK_EVENTS = 4096  # events read, checked and written at a time: memory is O(chunk), not O(N)


def _storage_dtype(dtype: np.dtype) -> np.dtype:
    dtype = np.dtype(dtype)
    if dtype.kind == "b":
        return np.dtype(np.uint8)
    if dtype.kind not in "iuf":
        raise TypeError(f"cannot store dtype {dtype} in a Feather array (numeric or bool only)")
    return dtype.newbyteorder("=")


def _arrow_column(values: np.ndarray, width: int, one_dimensional: bool) -> pa.Array:
    """Zero-copy Arrow column over the flat storage ``values``: plain or fixed-size lists."""
    flat = pa.Array.from_buffers(
        pa.from_numpy_dtype(values.dtype), values.size, [None, pa.py_buffer(values)]
    )
    return flat if one_dimensional else pa.FixedSizeListArray.from_arrays(flat, width)


# Arrow IPC file format (https://arrow.apache.org/docs/format/Columnar.html#ipc-file-format): the
# magic padded to 8 bytes, then the IPC stream (schema message, record batch messages), footer.
_IPC_FILE_MAGIC = b"ARROW1\x00\x00"
# The first and last rows of a skeleton's body are filled with this byte: finding them where
# pyarrow's message reader says the body is confirms the offset before any row is written.
_SENTINEL = 0xA5


class _SparseFile(_pyio.RawIOBase):
    """Writable file that leaves a hole for every block of zero bytes it is asked to write.

    A hole reads back as zeros, so the file's content is exactly what was written, whoever
    wrote it and however it was split into calls; the body of a skeleton (a lazily allocated
    ``np.zeros`` never touched) costs neither memory (reading untouched pages maps the kernel's
    zero page) nor disk.
    """

    BLOCK = 1 << 20

    def __init__(self, file):
        self.file = file

    def writable(self):
        return True

    def write(self, data):
        view = memoryview(data).cast("B")
        for start in range(0, len(view), self.BLOCK):
            block = view[start : start + self.BLOCK]
            if len(block) == self.BLOCK and not np.frombuffer(block, np.uint8).any():
                self.file.seek(len(block), os.SEEK_CUR)
            else:
                self.file.write(block)
        return len(view)

    def tell(self):
        return self.file.tell()

    def flush(self):
        self.file.flush()


def _single_body(path: Path) -> tuple[int, int] | None:
    """File offset and size of the body of the only record batch of an Arrow IPC file, or None
    when it holds another number of batches.

    Public pyarrow API only: ``pa.ipc.MessageReader`` reads the stream after the file magic
    from a memory map (zero-copy, the body is not read) and the stream position after the
    batch message is the end of its body.
    """
    with pa.memory_map(str(path), "r") as source:
        if pa.ipc.open_file(source).num_record_batches != 1:
            return None
        source.seek(0)
        if source.read(len(_IPC_FILE_MAGIC)) != _IPC_FILE_MAGIC:
            return None
        reader = pa.ipc.MessageReader.open_stream(source)
        message = reader.read_next_message()
        while message.type != "record batch":  # the schema (and any dictionary) first
            message = reader.read_next_message()
        size = message.body.size
        return source.tell() - size, size


class FeatherArrayWriter:
    """Write an (n, *shape) array into a Feather file chunk by chunk, in constant memory.

    Use as a context manager and call :meth:`write` with consecutive row blocks.  The file is
    first laid out by pyarrow as one record batch whose body is a hole (no data is written or
    held in memory), then the rows are written into the body at their offsets.  Everything goes
    to a temporary name in the same directory, renamed to ``path`` only when all n rows were
    written without error; on any error the temporary file is removed.
    """

    def __init__(self, path: str | os.PathLike, n: int, shape: tuple[int, ...], dtype):
        self.path = Path(path)
        self.n = int(n)
        self.shape = tuple(int(size) for size in shape)
        self.dtype = np.dtype(dtype).newbyteorder("=")
        self.storage = _storage_dtype(self.dtype)
        self.row_bytes = math.prod(self.shape) * self.storage.itemsize
        self.written = 0
        self._tmp: Path | None = None
        self._file = None
        self._offset = 0

    def __enter__(self) -> FeatherArrayWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._tmp = _temporary_name(self.path)
        try:
            self._offset = self._write_skeleton()
            self._file = open(self._tmp, "r+b")  # closed in __exit__
        except BaseException:
            self._tmp.unlink(missing_ok=True)
            raise
        return self

    def _write_skeleton(self) -> int:
        """Lay the file out with pyarrow's IPC file writer, its body a hole; the body's offset.

        The body is a lazily allocated ``np.zeros`` (its untouched pages cost no memory) whose
        first and last rows hold :data:`_SENTINEL`; :class:`_SparseFile` leaves holes for its
        zeros, so only the metadata, the two marked rows and the footer reach the disk.
        """
        width = math.prod(self.shape)
        body = np.zeros(self.n * width, dtype=self.storage)
        marks = body.view(np.uint8)
        if marks.size:
            marks[: self.row_bytes] = _SENTINEL
            marks[-self.row_bytes :] = _SENTINEL
        column = _arrow_column(body, width, one_dimensional=not self.shape)
        metadata = {"shape": json.dumps(list(self.shape)), "dtype": self.dtype.name}
        schema = pa.schema([pa.field("values", column.type, nullable=False)], metadata=metadata)
        batch = pa.record_batch([column], schema=schema)
        options = pa.ipc.IpcWriteOptions(compression=None)
        with open(self._tmp, "wb") as raw:
            sink = pa.PythonFile(_SparseFile(raw), mode="w")
            with pa.ipc.new_file(sink, schema, options=options) as writer:
                writer.write_batch(batch)
            raw.truncate()
        return self._body_offset() if marks.size else 0

    def _body_offset(self) -> int:
        """Where row 0 goes: the body's offset by pyarrow's message reader (:func:`_single_body`),
        confirmed by finding the marked first and last rows there."""
        found = _single_body(self._tmp)
        data_bytes = self.n * self.row_bytes
        marked = bytes([_SENTINEL]) * self.row_bytes
        if found is not None and found[1] >= data_bytes:
            last_row = found[0] + data_bytes - self.row_bytes
            with open(self._tmp, "rb") as file:
                first = os.pread(file.fileno(), self.row_bytes, found[0])
                last = os.pread(file.fileno(), self.row_bytes, last_row)
            if first == last == marked:
                return found[0]
        raise RuntimeError(
            f"{self.path}: pyarrow {pa.__version__} did not lay out the Feather body as the rows "
            f"in C order where its message reader puts it (found {found}); the rows cannot be "
            "streamed into it: a change of pyarrow, please report it"
        )

    def write(self, rows: np.ndarray) -> None:
        """Append rows: (k, *shape) of the writer's dtype."""
        rows = np.asarray(rows)
        if rows.dtype.newbyteorder("=") != self.dtype:
            raise TypeError(f"{self.path}: rows of dtype {rows.dtype}, writer expects {self.dtype}")
        if rows.shape[1:] != self.shape:
            raise ValueError(
                f"{self.path}: rows of shape {rows.shape}, expected (k, *{self.shape})"
            )
        if self.written + len(rows) > self.n:
            raise ValueError(f"{self.path}: more than the announced {self.n} rows written")
        data = np.ascontiguousarray(rows, dtype=self.dtype).view(self.storage)
        self._file.seek(self._offset + self.written * self.row_bytes)
        self._file.write(memoryview(data).cast("B"))
        self.written += len(rows)

    def __exit__(self, exc_type, exc, traceback) -> None:
        try:
            self._file.close()
            if exc_type is None and self.written != self.n:
                raise ValueError(
                    f"{self.path}: {self.written} rows written, {self.n} announced; not saved"
                )
            if exc_type is None:
                os.replace(self._tmp, self.path)
        finally:
            if self._tmp is not None and self._tmp.exists():
                self._tmp.unlink()


def write_array(path: str | os.PathLike, array: np.ndarray) -> None:
    """Write an (N, ...) numeric or bool array to a Feather file (layout in the module doc)."""
    array = np.asarray(array)
    if array.ndim == 0:
        raise ValueError(f"{path}: cannot store a 0-d array; expected (N, ...)")
    with FeatherArrayWriter(path, len(array), array.shape[1:], array.dtype) as writer:
        for start in range(0, len(array), CHUNK_EVENTS):
            writer.write(array[start : start + CHUNK_EVENTS])


def write_array_chunks(path: str | os.PathLike, n: int, chunks: Iterable[np.ndarray]) -> None:
    """Write n rows arriving as consecutive (k, ...) blocks; shape and dtype from the first."""
    iterator = iter(chunks)
    first = next(iterator, None)
    if first is None:
        raise ValueError(f"{path}: no rows to write (expected {n})")
    first = np.asarray(first)
    with FeatherArrayWriter(path, n, first.shape[1:], first.dtype) as writer:
        writer.write(first)
        for chunk in iterator:
            writer.write(chunk)


def read_array(path: str | os.PathLike) -> np.ndarray:
    """The array stored by :func:`write_array` or the unpacking, with its shape and dtype.

    A file written as one uncompressed record batch (as this module writes them) is
    memory-mapped and returned as a read-only zero-copy view; anything else Arrow can read
    with the same schema is returned as a copy.
    """
    path = Path(path)
    try:
        source = pa.memory_map(str(path), "r")
        reader = pa.ipc.open_file(source)
    except FileNotFoundError:
        raise DataError(f"{path}: Feather file not found") from None
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{path}: not a Feather (Arrow IPC) file ({error})") from None
    metadata = reader.schema.metadata or {}
    if reader.schema.names != ["values"] or b"shape" not in metadata or b"dtype" not in metadata:
        raise DataError(
            f"{path}: expected one column 'values' with schema metadata 'shape' and 'dtype' "
            f"(docs/architecture.md), found columns {reader.schema.names} and metadata "
            f"{sorted(key.decode() for key in metadata)}"
        )
    shape = tuple(json.loads(metadata[b"shape"]))
    dtype = np.dtype(metadata[b"dtype"].decode())
    if reader.num_record_batches == 1:
        column = reader.get_batch(0).column(0)
    else:
        column = reader.read_all().column(0).combine_chunks()
    values = column.flatten() if shape else column
    array = values.to_numpy(zero_copy_only=not values.null_count, writable=False)
    if dtype.kind == "b":
        array = array.view(np.bool_)
    return array.reshape((len(column), *shape))


class ArrayRows:
    """Rows of a Feather array file read on demand, by positioned reads instead of a memory map.

    ``rows[index]`` (sorted or not) and ``rows[start:stop]`` return numpy arrays holding only
    those rows, so a job streaming a split in batches holds one batch, and the pages it read
    stay in the page cache instead of the job's resident memory (a memory map's pages count
    there once touched: a whole epoch would make the job as large as the file).
    shape, dtype, len() as the array :func:`read_array` returns.
    """

    def __init__(self, path: str | os.PathLike):
        self.path = Path(path)
        array = read_array(self.path)  # validates the file and gives shape and dtype
        self.shape, self.dtype = array.shape, array.dtype
        self._row_bytes = int(np.prod(array.shape[1:], dtype=np.int64)) * array.dtype.itemsize
        self._offset = self._data_offset(array)
        self._fd = os.open(self.path, os.O_RDONLY) if self._offset is not None else None
        self._copy = None if self._offset is not None else np.asarray(array)
        if self._offset is None and array.size:
            log.warning(
                "%s: not one uncompressed record batch of rows (docs/architecture.md, Feather "
                "array layout): its rows are read from the whole array, not row by row",
                self.path,
            )
        del array

    def _data_offset(self, array: np.ndarray) -> int | None:
        """File offset of row 0 when the file's one record batch body is the rows, uncompressed
        in C order (as :class:`FeatherArrayWriter` writes it): the body's offset by pyarrow's
        message reader (:func:`_single_body`), confirmed by reading the first and last rows
        there; None otherwise (compressed, several batches, validity bitmaps)."""
        if not array.flags.c_contiguous or array.size == 0:
            return None
        found = _single_body(self.path)
        data_bytes = len(array) * self._row_bytes
        if found is None or not data_bytes <= found[1] < data_bytes + 64:
            return None
        with open(self.path, "rb") as file:
            for row in (0, len(array) - 1):
                at = found[0] + row * self._row_bytes
                if os.pread(file.fileno(), self._row_bytes, at) != array[row].tobytes():
                    return None
        return found[0]

    def __len__(self) -> int:
        return int(self.shape[0])

    @property
    def ndim(self) -> int:
        return len(self.shape)

    def _read(self, start: int, count: int) -> np.ndarray:
        data = os.pread(self._fd, count * self._row_bytes, self._offset + start * self._row_bytes)
        if len(data) != count * self._row_bytes:
            raise DataError(f"{self.path}: short read at row {start} (file truncated?)")
        return np.frombuffer(data, dtype=self.dtype).reshape((count, *self.shape[1:]))

    def __getitem__(self, key) -> np.ndarray:
        if self._copy is not None:
            return self._copy[key]
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                raise ValueError("ArrayRows: slices must have step 1")
            return self._read(start, max(stop - start, 0))
        index = np.asarray(key, dtype=np.int64).ravel()
        if index.size and (index.min() < 0 or index.max() >= len(self)):
            raise IndexError(f"{self.path}: row index out of range 0..{len(self) - 1}")
        order = np.argsort(index, kind="stable")
        ordered = index[order]
        out = np.empty((len(index), *self.shape[1:]), dtype=self.dtype)
        breaks = np.flatnonzero(np.diff(ordered) != 1) + 1
        for run in np.split(np.arange(len(ordered)), breaks):
            if run.size:
                out[order[run]] = self._read(int(ordered[run[0]]), len(run))
        return out

    def __del__(self) -> None:
        if getattr(self, "_fd", None) is not None:
            os.close(self._fd)
            self._fd = None


def write_table(table, path: str | os.PathLike) -> None:
    """Write a table (pandas DataFrame or Arrow Table, e.g. predictions y, score, weight) as
    uncompressed Feather via a temporary name."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    if not isinstance(table, pa.Table):
        table = pa.Table.from_pandas(table, preserve_index=False)
    tmp = _temporary_name(path)
    try:
        pa_feather.write_feather(table, tmp, compression="uncompressed")
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_table(path: str | os.PathLike, columns: Iterable[str] | None = None):
    """A Feather table as a pandas DataFrame (memory-mapped read); DataError names the file
    and any missing column."""
    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: Feather table not found")
    table = pa_feather.read_table(path, memory_map=True)
    columns = list(columns) if columns is not None else None
    missing = [name for name in columns or () if name not in table.column_names]
    if missing:
        raise DataError(f"{path}: column(s) {missing} missing (found {table.column_names})")
    return (table.select(columns) if columns is not None else table).to_pandas()
