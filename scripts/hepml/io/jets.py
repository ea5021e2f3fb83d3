"""The published layout of the top-tagging benchmark: pandas HDF5 files, key ``table``.

The Top Quark Tagging Reference Dataset (arXiv:1902.09914 sec. 2; Zenodo record 2603256) is
three files, ``train.h5`` (1.2 M jets), ``val.h5`` (400 k) and ``test.h5`` (400 k).  Each holds
one pandas DataFrame under the key ``table``, one row per jet, 806 columns in this order:

* ``E_i, PX_i, PY_i, PZ_i`` for i = 0 ... 199: the four-momenta (GeV, detector frame) of the
  leading 200 constituents, pT ordered (hardest first), zero-padded for jets with fewer;
* ``truthE, truthPX, truthPY, truthPZ``: the parton-level top (zero for QCD jets);
* ``ttv``: 0, 1, 2 for the split the jet belongs to (redundant with the file);
* ``is_signal_new``: 1 for a top jet, 0 for a QCD jet.

How the files are stored: pandas' ``format="table"`` (a PyTables table).  The readers in
the wild open them with ``pandas.read_hdf(path, "table", start=..., stop=...)`` and, bypassing
pandas, with h5py as the table ``/table/table`` whose ``values_block_0`` holds the 804 momentum
and truth columns and ``values_block_1`` the two integer columns [ttv, is_signal_new]: the
structure pandas writes for this frame.

Reading never goes through pandas or PyTables: PyTables unpickles every attribute of a node it
opens that ends with the pickle STOP byte, and pandas keeps its table metadata (column names,
data columns, ...) as such pickles, so ``pd.HDFStore`` on a crafted file runs the file's code
before a row is read.  Here the files are read with h5py, in row blocks, and nothing is
unpickled: every attribute of the file that looks pickled is parsed opcode by opcode
(:func:`pickletools.genops`, which never imports or calls) and one with an opcode that would
import or call anything refuses the file (:class:`UnsafeMetadataError`); the column names of a
table's values blocks (``values_block_<i>_kind``, pickled lists of strings) are evaluated from
those plain-data opcodes (:func:`plain_pickle`), those of the "fixed" format come from its
string arrays ``block<i>_items``.  Columns are found by name, so any column order of either
pandas format is read.  A compression filter h5py lacks (PyTables' blosc, bzip2, lzo) is
refused by name.  The writer still writes with pandas (writing unpickles nothing):
``format="table"``, momenta in single precision (the precision is not documented; the example
row of the data set's card is float32-exact).

The rules import this module (the split files, the rejection efficiencies), so h5py and pandas
are imported inside the functions that need them.  pandas' HDF5 writer needs PyTables
(``tables``), imported by pandas on first use; the readers need only h5py.
"""

from __future__ import annotations

import os
import pickletools
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

N_CONSTITUENTS = 200
KEY = "table"
MOMENTUM_PREFIXES = ("E", "PX", "PY", "PZ")
TRUTH_COLUMNS = ("truthE", "truthPX", "truthPY", "truthPZ")
TTV_COLUMN = "ttv"
LABEL_COLUMN = "is_signal_new"
# The benchmark's file of each of the workflow's splits, and its ttv column there.
SPLIT_FILES = {"train": "train.h5", "valid": "val.h5", "test": "test.h5"}
SPLIT_TTV = {"train": 0, "valid": 1, "test": 2}
DEFAULT_BLOCK_ROWS = 50_000
# The signal efficiencies of the benchmark's background rejections 1/eps_B (arXiv:1902.09914
# Table 1 quotes 30 %; the top-tagging table adds 50 %): what top_tagging_table reports.
REJECTION_EFFICIENCIES = (0.3, 0.5)


class BenchmarkFormatError(ValueError):
    """A file that does not hold the benchmark layout; the message names file, key and row."""


def constituent_columns(n_constituents: int = N_CONSTITUENTS) -> list[str]:
    """``E_0, PX_0, PY_0, PZ_0, E_1, ...``: the constituent columns in the published order."""
    return [f"{prefix}_{i}" for i in range(n_constituents) for prefix in MOMENTUM_PREFIXES]


def benchmark_columns() -> list[str]:
    """All 806 columns of a published file, in order."""
    return [*constituent_columns(), *TRUTH_COLUMNS, TTV_COLUMN, LABEL_COLUMN]


@dataclass(frozen=True)
class JetBlock:
    """Consecutive jets of one file.

    constituents: (n, 200, 4) [E, px, py, pz] in GeV, pT ordered, zero-padded;
    labels: (n,) int8, 1 = top; start: row of the first jet in the file.
    """

    constituents: np.ndarray
    labels: np.ndarray
    start: int

    def __len__(self) -> int:
        return len(self.labels)


def _where(path: Path, key: str) -> str:
    return f"{path} (key {key!r})"


# ------------------------------------------------------------------------------ pickled metadata
# PyTables stores an attribute it cannot keep as a native HDF5 type as a pickle (protocol 0, so
# the bytes end with the STOP opcode "."), and pandas keeps its table metadata that way: the
# column names of each values block (``values_block_0_kind``), ``non_index_axes``,
# ``data_columns``... Opening a node through PyTables unpickles every attribute of it that ends
# with "." (tables.attributeset.AttributeSet.__getattr__), so a file can run code the moment
# ``pd.HDFStore`` lists its keys.  Here nothing is ever unpickled: an attribute that looks
# pickled (it ends with "." or starts with the PROTO opcode 0x80) is parsed opcode by opcode by
# pickletools.genops, which only reads bytes, and a pickle of plain data (lists, tuples, dicts,
# strings, numbers, None, booleans) is evaluated by the small stack machine below.  An opcode
# that imports or calls (GLOBAL, STACK_GLOBAL, REDUCE, BUILD, INST, OBJ, NEWOBJ, PERSID, EXT...)
# anywhere in the file refuses the file (UnsafeMetadataError).
_PLAIN_OPCODES = frozenset(
    {
        "PROTO", "FRAME", "STOP", "MARK", "POP", "POP_MARK", "DUP",
        "NONE", "NEWTRUE", "NEWFALSE",
        "INT", "BININT", "BININT1", "BININT2", "LONG", "LONG1", "LONG4", "FLOAT", "BINFLOAT",
        "STRING", "BINSTRING", "SHORT_BINSTRING", "UNICODE", "BINUNICODE", "SHORT_BINUNICODE",
        "BINUNICODE8", "BINBYTES", "SHORT_BINBYTES", "BINBYTES8",
        "EMPTY_LIST", "LIST", "APPEND", "APPENDS",
        "EMPTY_TUPLE", "TUPLE", "TUPLE1", "TUPLE2", "TUPLE3",
        "EMPTY_DICT", "DICT", "SETITEM", "SETITEMS",
        "PUT", "BINPUT", "LONG_BINPUT", "MEMOIZE", "GET", "BINGET", "LONG_BINGET",
    }
)  # fmt: skip


class UnsafeMetadataError(BenchmarkFormatError):
    """An attribute holds a pickle that would import or call code when unpickled (as pandas and
    PyTables do on opening the file): the file is refused, and nothing of it was unpickled."""


def _attribute_bytes(value) -> bytes | None:
    """The raw bytes of a string attribute (h5py returns them undecoded), else None."""
    if isinstance(value, bytes | np.bytes_):
        return bytes(value)
    if isinstance(value, str):
        return value.encode("utf-8", "surrogateescape")
    return None


def _looks_pickled(raw: bytes) -> bool:
    """What PyTables would try to unpickle (it ends with STOP), or a binary pickle (PROTO)."""
    return raw.endswith(b".") or raw.startswith(b"\x80")


def _code_opcode(raw: bytes) -> str | None:
    """The first opcode of ``raw`` read as a pickle that is not plain data ("GLOBAL 'posix
    system' at byte 0"), or None: plain data, or not a pickle at all (the parse stops at the
    first byte that is no opcode, where pickle.loads would stop too)."""
    try:
        for opcode, argument, position in pickletools.genops(raw):
            if opcode.name not in _PLAIN_OPCODES:
                shown = "" if argument is None else f" {argument!r}"
                return f"{opcode.name}{shown} at byte {position}"
    except Exception:  # noqa: BLE001 (genops' errors on text that is no pickle vary)
        return None
    return None


def _refuse_code_in_attributes(h5, path: Path) -> None:
    """Raise UnsafeMetadataError if any attribute of the file would run code when unpickled."""

    def check(name: str, node) -> None:
        for attribute in node.attrs:
            try:
                raw = _attribute_bytes(node.attrs[attribute])
            except (OSError, TypeError, ValueError):  # a type h5py cannot read: not a string
                continue
            if raw is None or not _looks_pickled(raw):
                continue
            found = _code_opcode(raw)
            if found is not None:
                raise UnsafeMetadataError(
                    f"{path}: attribute {attribute!r} of /{name.lstrip('/')} is a pickle that "
                    f"would import or call code when unpickled ({found}); the file is refused "
                    "unread (nothing was unpickled). Expected plain-data metadata as pandas "
                    "writes it; get the file again from its source and check its digest"
                )

    check("/", h5)
    h5.visititems(check)


def plain_pickle(raw: bytes, where: str):
    """The value of a pickle of plain data, evaluated without unpickling.

    Lists, tuples, dicts, str, bytes, int, float, bool and None (every pandas table attribute
    this module reads is such a list), from :func:`pickletools.genops`, which parses and never
    imports or calls.  Any other opcode raises :class:`UnsafeMetadataError`, a malformed pickle
    :class:`BenchmarkFormatError`; both name ``where``.
    """
    stack: list = []
    marks: list[int] = []
    memo: dict = {}

    def since_mark() -> list:
        items = stack[marks[-1] :]
        del stack[marks.pop() :]
        return items

    try:
        for opcode, argument, position in pickletools.genops(raw):
            name = opcode.name
            if name not in _PLAIN_OPCODES:
                raise UnsafeMetadataError(
                    f"{where}: a pickle that would import or call code ({name} {argument!r} at "
                    f"byte {position}); refused without unpickling"
                )
            if name in ("PROTO", "FRAME"):
                continue
            if name == "STOP":
                return stack.pop()
            if name == "MARK":
                marks.append(len(stack))
            elif name == "POP":
                if marks and marks[-1] == len(stack):
                    marks.pop()
                else:
                    stack.pop()
            elif name == "POP_MARK":
                since_mark()
            elif name == "DUP":
                stack.append(stack[-1])
            elif name in ("NONE", "NEWTRUE", "NEWFALSE"):
                stack.append({"NONE": None, "NEWTRUE": True, "NEWFALSE": False}[name])
            elif name == "EMPTY_LIST":
                stack.append([])
            elif name == "LIST":
                stack.append(since_mark())
            elif name == "APPEND":
                value = stack.pop()
                stack[-1].append(value)
            elif name == "APPENDS":
                items = since_mark()
                stack[-1].extend(items)
            elif name == "EMPTY_TUPLE":
                stack.append(())
            elif name == "TUPLE":
                stack.append(tuple(since_mark()))
            elif name in ("TUPLE1", "TUPLE2", "TUPLE3"):
                size = int(name[-1])
                items = tuple(stack[-size:])
                del stack[-size:]
                stack.append(items)
            elif name == "EMPTY_DICT":
                stack.append({})
            elif name == "DICT":
                items = since_mark()
                stack.append(dict(zip(items[0::2], items[1::2], strict=True)))
            elif name == "SETITEM":
                value, key = stack.pop(), stack.pop()
                stack[-1][key] = value
            elif name == "SETITEMS":
                items = since_mark()
                stack[-1].update(zip(items[0::2], items[1::2], strict=True))
            elif name in ("PUT", "BINPUT", "LONG_BINPUT"):
                memo[argument] = stack[-1]
            elif name == "MEMOIZE":
                memo[len(memo)] = stack[-1]
            elif name in ("GET", "BINGET", "LONG_BINGET"):
                stack.append(memo[argument])
            else:  # a number, a string or bytes: genops has decoded it
                stack.append(argument)
    except UnsafeMetadataError:
        raise
    except Exception as error:  # noqa: BLE001 (a malformed pickle: any parse or stack error)
        raise BenchmarkFormatError(
            f"{where}: not a readable pickle of plain data ({error})"
        ) from error
    raise BenchmarkFormatError(f"{where}: not a readable pickle of plain data (no STOP)")


# ------------------------------------------------------------------------------ the two layouts
@dataclass(frozen=True)
class _Layout:
    """Where each column of a pandas DataFrame lies in the file, read through h5py.

    format "table": ``sources`` are fields of the compound dataset ``/key/table`` (2-D views
    (rows, width)); "fixed": the datasets ``/key/block<i>_values``.  columns: name ->
    (source, position in it); rows: number of rows.
    """

    format: str
    rows: int
    columns: dict
    columns_first: dict  # fixed format: source -> stored as (columns, rows)


def _string_list(values, where: str) -> list[str]:
    if not isinstance(values, list | tuple):
        raise BenchmarkFormatError(f"{where}: expected a list of column names, got {values!r}")
    return [v.decode("utf-8") if isinstance(v, bytes) else str(v) for v in values]


def _table_layout(group, where: str) -> _Layout:
    """pandas format="table": the compound dataset ``table``, column names from the plain-data
    pickles ``values_block_<i>_kind`` (data columns are fields named after their column)."""
    table = group.get("table")
    if table is None or not hasattr(table, "dtype") or table.dtype.names is None:
        raise BenchmarkFormatError(
            f"{where}: expected the PyTables table {group.name}/table of pandas' format='table'"
        )
    columns = {}
    for field in table.dtype.names:
        if field == "index":
            continue
        width = int(np.prod(table.dtype[field].shape, dtype=np.int64))
        if field.startswith("values_block_"):
            attribute = f"{field}_kind"
            if attribute not in table.attrs:
                raise BenchmarkFormatError(
                    f"{where}: {table.name} has no attribute {attribute!r}: the names of the "
                    f"columns in {field} are unknown"
                )
            raw = _attribute_bytes(table.attrs[attribute])
            names = _string_list(
                plain_pickle(raw or b"", f"{where}: attribute {attribute!r} of {table.name}"),
                f"{where}: attribute {attribute!r}",
            )
        else:
            names = [field]
        if len(names) != width:
            raise BenchmarkFormatError(
                f"{where}: field {field} of {table.name} holds {width} column(s) but its "
                f"names list {len(names)}"
            )
        for position, name in enumerate(names):
            columns[name] = (field, position)
    return _Layout("table", int(table.shape[0]), columns, {})


def _fixed_layout(group, where: str) -> _Layout:
    """pandas format="fixed": blocks ``block<i>_values`` named by the string arrays
    ``block<i>_items`` (no pickle involved)."""
    import h5py

    try:
        blocks = int(group.attrs["nblocks"])
        rows = int(group["axis1"].shape[0])
    except (KeyError, TypeError, ValueError) as error:
        raise BenchmarkFormatError(
            f"{where}: not a pandas fixed-format frame (nblocks, axis1: {error})"
        ) from error
    columns, columns_first = {}, {}
    for i in range(blocks):
        items, values = group.get(f"block{i}_items"), group.get(f"block{i}_values")
        if not isinstance(items, h5py.Dataset) or not isinstance(values, h5py.Dataset):
            raise BenchmarkFormatError(f"{where}: block{i}_items or block{i}_values missing")
        names = [n.decode("utf-8") if isinstance(n, bytes) else str(n) for n in items[()]]
        source = values.name.rsplit("/", 1)[-1]
        flipped = bool(values.attrs.get("transposed", 0))
        expected = (rows, len(names)) if flipped else (len(names), rows)
        if values.dtype.kind in "biuf" and values.shape != expected:
            raise BenchmarkFormatError(
                f"{where}: {values.name} has shape {values.shape}, expected {expected}"
            )
        columns_first[source] = not flipped
        for position, name in enumerate(names):
            columns[name] = (source, position)
    return _Layout("fixed", rows, columns, columns_first)


def _in_frame_order(group, layout: _Layout, table: bool, where: str) -> _Layout:
    """The layout with its columns in the DataFrame's order (its positions), which the storage
    groups by dtype: from the plain-data pickle ``non_index_axes`` (format "table") or the
    string array ``axis0`` (format "fixed"); left as stored when neither is there."""
    order = None
    if table and "non_index_axes" in group.attrs:
        axes = plain_pickle(
            _attribute_bytes(group.attrs["non_index_axes"]) or b"",
            f"{where}: attribute 'non_index_axes'",
        )
        order = next((names for axis, names in axes if axis == 1), None)
    elif not table and "axis0" in group:
        order = group["axis0"][()]
    if order is None:
        return layout
    names = [n for n in _string_list(list(order), where) if n in layout.columns]
    names += [n for n in layout.columns if n not in names]
    return replace(layout, columns={name: layout.columns[name] for name in names})


def _check_filters(dataset, where: str) -> None:
    """Refuse a dataset compressed with a filter this HDF5 library cannot decode (PyTables'
    blosc, bzip2 or lzo: h5py brings only gzip/zlib, szip, lzf, shuffle and fletcher32)."""
    from h5py import h5z

    plist = dataset.id.get_create_plist()
    for i in range(plist.get_nfilters()):
        code, _, _, name = plist.get_filter(i)
        if not h5z.filter_avail(code):
            raise BenchmarkFormatError(
                f"{where}: {dataset.name} is compressed with the HDF5 filter "
                f"{name.decode(errors='replace')!r} (id {code}), which this HDF5 library cannot "
                "decode; expected zlib (gzip) or no compression, what h5py reads without "
                "plugins"
            )


def _frame_keys(h5) -> list[str]:
    """The keys of the pandas objects in a file (groups carrying ``pandas_type``)."""
    import h5py

    found = []

    def visit(name: str, node) -> None:
        if isinstance(node, h5py.Group) and "pandas_type" in node.attrs:
            found.append(f"/{name}")

    h5.visititems(visit)
    return sorted(found)


def _open(path: str | os.PathLike, key: str):
    """The open h5py file and the :class:`_Layout` of the frame under key.

    Every attribute of the file is checked first (:func:`_refuse_code_in_attributes`); no
    pandas, no PyTables, nothing unpickled."""
    import h5py

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such benchmark file")
    try:
        h5 = h5py.File(path, "r")
    except OSError as error:  # not an HDF5 file
        raise BenchmarkFormatError(f"{path}: not a pandas HDF5 file ({error})") from error
    try:
        _refuse_code_in_attributes(h5, path)
        where = _where(path, key)
        group = h5.get(key.strip("/"))
        if not isinstance(group, h5py.Group) or "pandas_type" not in group.attrs:
            raise BenchmarkFormatError(
                f"{where}: no such key; the file holds {_frame_keys(h5)} "
                f"(the benchmark layout stores its jets under {KEY!r})"
            )
        kind = _attribute_bytes(group.attrs["pandas_type"])
        if kind in (b"frame_table", b"frame"):
            table = kind == b"frame_table"
            layout = _table_layout(group, where) if table else _fixed_layout(group, where)
            layout = _in_frame_order(group, layout, table, where)
            for source in {source for source, _ in layout.columns.values()}:
                _check_filters(group["table"] if table else group[source], where)
            return h5, layout
        raise BenchmarkFormatError(
            f"{where}: pandas_type {kind!r}: expected a DataFrame (frame_table or frame)"
        )
    except BaseException:
        h5.close()
        raise


def open_frame(path: str | os.PathLike, key: str | None = None):
    """Any pandas DataFrame in an HDF5 file, opened as the benchmark files are: through h5py,
    every attribute checked first, nothing unpickled (:func:`_open`). key None: the file's
    only frame (a file with none or several raises). Returns (open h5py file, key, layout);
    the caller closes the file and reads rows with :func:`read_frame_rows`."""
    if key is None:
        import h5py

        path = Path(path)
        if not path.is_file():
            raise FileNotFoundError(f"{path}: no such file")
        try:
            with h5py.File(path, "r") as h5:
                keys = _frame_keys(h5)  # attribute names only: nothing decoded
        except OSError as error:
            raise BenchmarkFormatError(f"{path}: not a pandas HDF5 file ({error})") from error
        if len(keys) != 1:
            raise BenchmarkFormatError(f"{path}: expected one pandas frame, found keys {keys}")
        key = keys[0]
    h5, layout = _open(path, key)
    return h5, key, layout


def read_frame_rows(h5, path, key: str, layout, names, first: int, last: int) -> np.ndarray:
    """Columns ``names`` of rows [first, last) of a frame of :func:`open_frame`, as float64."""
    missing = [name for name in names if name not in layout.columns]
    if missing:
        raise BenchmarkFormatError(f"{_where(Path(path), key)}: missing column(s) {missing}")
    return _read_rows(h5, Path(path), key, layout, names, first, last)


def _check_columns(path: Path, key: str, columns) -> None:
    present = set(map(str, columns))
    missing = [c for c in [*constituent_columns(), LABEL_COLUMN] if c not in present]
    if missing:
        shown = ", ".join(missing[:5]) + (
            f" and {len(missing) - 5} more" if len(missing) > 5 else ""
        )
        raise BenchmarkFormatError(
            f"{_where(path, key)}: missing column(s) {shown}; expected E_i, PX_i, PY_i, PZ_i "
            f"for i < {N_CONSTITUENTS} and {LABEL_COLUMN!r}"
        )


def _read_rows(
    h5, path: Path, key: str, layout: _Layout, names, first: int, last: int
) -> np.ndarray:
    """Columns ``names`` of rows [first, last) as float64 (n, len(names)); each source (table
    field or fixed block) is read once."""
    wanted: dict[str, list[tuple[int, int]]] = {}
    for out, name in enumerate(names):
        source, position = layout.columns[name]
        wanted.setdefault(source, []).append((out, position))
    group = h5[key.strip("/")]
    for source in wanted:
        stored = group["table"].dtype[source] if layout.format == "table" else group[source].dtype
        if stored.base.kind not in "biuf":
            raise BenchmarkFormatError(
                f"{_where(path, key)}: {source} holds {stored} values, expected numbers"
            )
    if layout.format == "table":
        fields = list(wanted)
        rows = group["table"].fields(fields)[first:last]
        arrays = {f: (rows[f] if len(fields) > 1 else rows) for f in fields}
    else:
        arrays = {
            s: group[s][:, first:last].T if layout.columns_first[s] else group[s][first:last]
            for s in wanted
        }
    result = np.empty((last - first, len(names)), dtype=np.float64)
    for source, pairs in wanted.items():
        array = np.asarray(arrays[source]).reshape(last - first, -1)
        out, positions = (_as_slice(indices) for indices in zip(*pairs, strict=True))
        result[:, out] = array[:, positions]
    return result


def _as_slice(indices) -> slice | list[int]:
    """A run of consecutive indices as a slice (a view, not a gather), else the list."""
    indices = list(indices)
    if indices == list(range(indices[0], indices[0] + len(indices))):
        return slice(indices[0], indices[0] + len(indices))
    return indices


def _validate(path: Path, key: str, start: int, values: np.ndarray, labels: np.ndarray) -> None:
    """Raise BenchmarkFormatError naming the first bad row and column of a block."""
    names = constituent_columns()
    bad = ~np.isfinite(values)
    if bad.any():
        row, column = np.argwhere(bad)[0]
        raise BenchmarkFormatError(
            f"{_where(path, key)}: row {start + row}, column {names[column]}: expected a finite "
            f"value, got {values[row, column]}"
        )
    energies = values[:, 0::4]
    negative = energies < 0
    if negative.any():
        row, i = np.argwhere(negative)[0]
        raise BenchmarkFormatError(
            f"{_where(path, key)}: row {start + row}, column E_{i}: expected a non-negative "
            f"energy, got {energies[row, i]}"
        )
    wrong = ~np.isin(labels, (0, 1))
    if wrong.any():
        row = int(np.flatnonzero(wrong)[0])
        raise BenchmarkFormatError(
            f"{_where(path, key)}: row {start + row}, column {LABEL_COLUMN}: expected a label "
            f"0 (QCD) or 1 (top), got {labels[row]}"
        )


def count_jets(path: str | os.PathLike, key: str = KEY) -> int:
    """Number of jets (rows) under key in a benchmark file."""
    h5, layout = _open(path, key)
    h5.close()
    return layout.rows


def read_blocks(
    path: str | os.PathLike,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    key: str = KEY,
    start: int = 0,
    stop: int | None = None,
    dtype=np.float32,
) -> Iterator[JetBlock]:
    """The jets of rows [start, stop) of one file, block_rows at a time (:class:`JetBlock`).

    Reads either pandas format ("table", as published, or "fixed") through h5py, never through
    pandas or PyTables, and unpickles nothing: a file any of whose attributes would import or
    call code when unpickled raises :class:`UnsafeMetadataError` before a row is read (module
    docstring).  Every block is checked: the constituent and label columns exist, values are
    finite, energies non-negative, labels 0 or 1; a failure raises
    :class:`BenchmarkFormatError` naming the file, the key, the row and the column.
    dtype: of the returned constituents (the published values are single precision).
    """
    if block_rows < 1:
        raise ValueError(f"block_rows: expected >= 1, got {block_rows}")
    path = Path(path)
    h5, layout = _open(path, key)
    try:
        _check_columns(path, key, layout.columns)
        stop = layout.rows if stop is None else min(int(stop), layout.rows)
        names = [*constituent_columns(), LABEL_COLUMN]
        for first in range(int(start), stop, block_rows):
            last = min(first + block_rows, stop)
            try:
                table = _read_rows(h5, path, key, layout, names, first, last)
            except OSError as error:  # e.g. a compression filter this HDF5 library lacks
                raise BenchmarkFormatError(
                    f"{_where(path, key)}: rows {first}-{last}: cannot read ({error})"
                ) from error
            values, labels = table[:, :-1], table[:, -1]
            _validate(path, key, first, values, labels)
            yield JetBlock(
                constituents=values.reshape(last - first, N_CONSTITUENTS, 4).astype(dtype),
                labels=labels.astype(np.int8),
                start=first,
            )
    finally:
        h5.close()


def read_benchmark(
    path: str | os.PathLike, key: str = KEY, start: int = 0, stop: int | None = None
) -> JetBlock:
    """Rows [start, stop) of a file as one block (small files and tests; see
    :func:`read_blocks` for the checks)."""
    blocks = list(read_blocks(path, DEFAULT_BLOCK_ROWS, key, start, stop))
    if not blocks:
        empty = np.zeros((0, N_CONSTITUENTS, 4), dtype=np.float32)
        return JetBlock(empty, np.zeros(0, dtype=np.int8), start)
    return JetBlock(
        np.concatenate([b.constituents for b in blocks]),
        np.concatenate([b.labels for b in blocks]),
        blocks[0].start,
    )


def pad_constituents(constituents: np.ndarray) -> np.ndarray:
    """(n, k, 4) -> (n, 200, 4): zero-padded (k < 200) or cut to the first 200 (k > 200)."""
    constituents = np.asarray(constituents, dtype=np.float64)
    if constituents.ndim != 3 or constituents.shape[2] != 4:
        raise ValueError(f"constituents: expected shape (n, k, 4), got {constituents.shape}")
    n, k, _ = constituents.shape
    out = np.zeros((n, N_CONSTITUENTS, 4))
    out[:, : min(k, N_CONSTITUENTS)] = constituents[:, :N_CONSTITUENTS]
    return out


def write_benchmark(
    path: str | os.PathLike,
    constituents: np.ndarray,
    labels: np.ndarray,
    truth: np.ndarray | None = None,
    ttv: int = 0,
    key: str = KEY,
    complevel: int = 0,
) -> None:
    """Write jets in the published layout (pandas ``format="table"``), atomically.

    constituents: (n, k <= 200, 4) [E, px, py, pz] in GeV, pT ordered, zero-padded to 200;
    labels: (n,) 1 = top, 0 = QCD; truth: (n, 4) [E, px, py, pz] of the parton-level top
    (zeros when None); ttv: the value of the (redundant) split column for every row.  Momenta are
    stored in single precision, the label and ttv as 64-bit integers.  The file appears under
    its name only once complete.
    """
    import pandas as pd

    values = pad_constituents(constituents)
    n = len(values)
    labels = np.asarray(labels)
    if labels.shape != (n,) or not np.isin(labels, (0, 1)).all():
        raise ValueError(f"labels: expected ({n},) values 0 or 1, got shape {labels.shape}")
    truth = np.zeros((n, 4)) if truth is None else np.asarray(truth, dtype=np.float64)
    if truth.shape != (n, 4):
        raise ValueError(f"truth: expected shape ({n}, 4), got {truth.shape}")
    table = np.concatenate([values.reshape(n, 4 * N_CONSTITUENTS), truth], axis=1)
    frame = pd.DataFrame(table.astype(np.float32), columns=[*constituent_columns(), *TRUTH_COLUMNS])
    frame[TTV_COLUMN] = np.full(n, int(ttv), dtype=np.int64)
    frame[LABEL_COLUMN] = labels.astype(np.int64)
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        frame.to_hdf(temporary, key=key, mode="w", format="table", complevel=complevel)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
