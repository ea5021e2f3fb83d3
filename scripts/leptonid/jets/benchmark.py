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
the wild open them with ``pandas.read_hdf(path, "table", start=..., stop=...)``, with
``HDFStore.select("table", columns=["is_signal_new"])`` (a fixed-format store refuses a
column selection) and, bypassing pandas, with h5py as the table ``/table/table`` whose
``values_block_0`` holds the 804 momentum and truth columns and ``values_block_1`` the two
integer columns [ttv, is_signal_new]: the structure pandas writes for this frame.  Both
pandas formats are read here, in row blocks through ``HDFStore.select(key, start=, stop=)``,
which both support; the writer writes ``format="table"``, momenta in single precision
(the precision is not documented; the example row of the data set's card is float32-exact).

Only this module of :mod:`leptonid.jets` touches files.  pandas' HDF5 support needs PyTables
(``tables``), imported by pandas on first use.
"""

from __future__ import annotations

import os
from collections.abc import Iterator
from dataclasses import dataclass
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


def _open_store(path: str | os.PathLike, key: str):
    """An open read-only HDFStore holding key, and the number of rows under it."""
    import pandas as pd

    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"{path}: no such benchmark file")
    try:
        store = pd.HDFStore(path, mode="r")
    except Exception as error:  # PyTables' HDF5ExtError and friends: not an HDF5 file
        raise BenchmarkFormatError(f"{path}: not a pandas HDF5 file ({error})") from error
    try:
        if f"/{key.strip('/')}" not in store.keys():
            found = sorted(k for k in store.keys() if k != "/")
            raise BenchmarkFormatError(
                f"{_where(path, key)}: no such key; the file holds {found} "
                f"(the benchmark layout stores its jets under {KEY!r})"
            )
        storer = store.get_storer(key)
        rows = storer.nrows if storer.format_type == "table" else storer.shape[0]
        return store, int(rows)
    except BaseException:
        store.close()
        raise


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
    store, rows = _open_store(path, key)
    store.close()
    return rows


def read_blocks(
    path: str | os.PathLike,
    block_rows: int = DEFAULT_BLOCK_ROWS,
    key: str = KEY,
    start: int = 0,
    stop: int | None = None,
    dtype=np.float32,
) -> Iterator[JetBlock]:
    """The jets of rows [start, stop) of one file, block_rows at a time (:class:`JetBlock`).

    Reads either pandas format ("table", as published, or "fixed") through
    ``HDFStore.select(key, start=, stop=)``.  Every block is checked: the constituent and label
    columns exist, values are finite, energies non-negative, labels 0 or 1; a failure raises
    :class:`BenchmarkFormatError` naming the file, the key, the row and the column.
    dtype: of the returned constituents (the published values are single precision).
    """
    if block_rows < 1:
        raise ValueError(f"block_rows: expected >= 1, got {block_rows}")
    path = Path(path)
    store, rows = _open_store(path, key)
    try:
        _check_columns(path, key, store.select(key, start=0, stop=0).columns)
        stop = rows if stop is None else min(int(stop), rows)
        names = constituent_columns()
        for first in range(int(start), stop, block_rows):
            last = min(first + block_rows, stop)
            frame = store.select(key, start=first, stop=last)
            values = frame[names].to_numpy(dtype=np.float64)
            labels = frame[LABEL_COLUMN].to_numpy(dtype=np.float64)
            _validate(path, key, first, values, labels)
            yield JetBlock(
                constituents=values.reshape(len(frame), N_CONSTITUENTS, 4).astype(dtype),
                labels=labels.astype(np.int8),
                start=first,
            )
    finally:
        store.close()


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
