"""Tables of events (kind ``tabular``, docs/tabular.md): reading, checking, splitting, writing.

A dataset of kind tabular is one file of events, one row per event: a label column (1 =
signal, 0 = background), an optional per-event weight column and named feature columns. The
format is chosen by the file's suffix:

=====================  =========================================================
suffix                 read with
=====================  =========================================================
.csv, .csv.gz, .csv.*  pyarrow.csv.open_csv (streaming, compressed files too)
.parquet, .pq          pyarrow.parquet.ParquetFile.iter_batches
.feather, .arrow       pyarrow.feather (memory-mapped), batch by batch
.h5, .hdf5             h5py, as hepml.io.jets reads pandas files: nothing unpickled
=====================  =========================================================

The default layout (:class:`TableSpec` defaults) is the UCI HIGGS file of Baldi, Sadowski &
Whiteson, Nature Commun. 5, 4308 (2014): no header, column 0 the label, then 21 low-level and
7 high-level features; its last 500,000 rows are the test set.

:func:`unpack_table` streams the file once, block by block, and writes the workflow's layout
(docs/architecture.md "Files on disk") for each split: ``features.feather`` (an Arrow table,
one float32 column per configured feature, named as in ``table.columns``), ``y.feather``
(int8) and ``weight.feather`` (float64, ones when the file has no weight column), the last two
in the Feather array layout of :func:`hepml.io.write_array`. Memory is bounded by the block
size plus the test rows (held back until the end of the file shows where they start).

Bad input raises :class:`hepml.io.DataError` naming the file, the column (its config key and
position or name), the row (0-based data row; for CSV also the line of the file) and what was
expected: a missing column, a non-numeric or empty cell, a label other than 0/1, a non-finite
feature or weight, too few rows for the split. Nothing is left behind: every output is
written under a temporary name and renamed only once the whole file has been read.
"""

from __future__ import annotations

import logging
import os
import re
import threading
import time
from collections import deque
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pyarrow as pa

from hepml.io.feather import write_array
from hepml.io.files import DataError, remove_stale_temporaries
from hepml.settings import SPLITS, reject_unknown_keys

log = logging.getLogger(__name__)

FEATURES = "features"
LABEL = "y"
WEIGHT = "weight"
KEYS = (FEATURES, LABEL, WEIGHT)  # hepml.plan.KIND_KEYS["tabular"]
CSV_BLOCK_BYTES = 16 << 20  # bytes of CSV text parsed at a time (about 20,000 UCI rows)
BLOCK_ROWS = 65536  # rows per block for the columnar formats
PARQUET_BUFFER_BYTES = 1 << 20  # read buffer of a Parquet column stream
TABLE_BLOCK_ROWS = 1 << 18  # rows of features.feather TableRows reads at a time (29 MB at 28)
_PROGRESS_SECONDS = 30.0

# The UCI HIGGS layout (archive.ics.uci.edu/ml/datasets/HIGGS): the 28 features in file order,
# columns 1-28 (21 low-level, then 7 high-level); docs/tabular.md.
# (hepml.plan.HIGGS_FEATURES holds the same names for the DAG's checks; tests/test_tabular.py)
HIGGS_FEATURES = (
    "lepton_pT",
    "lepton_eta",
    "lepton_phi",
    "missing_energy_magnitude",
    "missing_energy_phi",
    *(f"jet{j}_{v}" for j in range(1, 5) for v in ("pt", "eta", "phi", "btag")),
    *("m_jj", "m_jjj", "m_lv", "m_jlv", "m_bb", "m_wbb", "m_wwbb"),
)
HIGGS_COLUMNS = {name: i + 1 for i, name in enumerate(HIGGS_FEATURES)}
HIGGS_TEST_ROWS = 500_000


@dataclass(frozen=True)
class TableSpec:
    """How to read a table (``datasets.<name>.table``; defaults: the UCI HIGGS layout).

    header: whether the first row names the columns (without one, columns are positions).
    label, weight: the label column (1 = signal) and an optional weight column, by position
    (int) or name (str). columns: feature name -> position or file column name, in the order
    the features are written. test_rows: the last rows are the test split (UCI); None: a
    seeded split, ``test_fraction`` of the rows to test. valid_fraction: the fraction of the
    training rows carved out, seeded, for validation. valid_rows (with test_rows): instead,
    the valid_rows rows just before the test rows are the validation split (the authors'
    code, github.com/uci-igb/higgs-susy physics.py: rows 10,000,000-10,500,000 of HIGGS).
    """

    columns: Mapping[str, int | str] = field(default_factory=lambda: dict(HIGGS_COLUMNS))
    header: bool = False
    label: int | str = 0
    weight: int | str | None = None
    test_rows: int | None = HIGGS_TEST_ROWS
    valid_fraction: float = 0.1
    test_fraction: float = 0.2
    valid_rows: int | None = None

    @classmethod
    def from_config(cls, values: Mapping | None, where: str = "table") -> TableSpec:
        values = dict(values or {})
        reject_unknown_keys(values, [f.name for f in cls.__dataclass_fields__.values()], where)
        if "columns" in values:  # a mapping, or [name, ref] pairs (order kept through params)
            columns = values["columns"]
            values["columns"] = dict(columns.items() if isinstance(columns, Mapping) else columns)
        spec = cls(**values)
        for name in ("valid_fraction", "test_fraction"):
            if not 0.0 <= float(getattr(spec, name)) < 1.0:
                raise DataError(f"{where}.{name}: {getattr(spec, name)}, expected in [0, 1)")
        if not spec.columns:
            raise DataError(f"{where}.columns: no feature columns")
        if spec.valid_rows is not None and spec.test_rows is None:
            raise DataError(f"{where}.valid_rows needs test_rows (rows counted from the end)")
        return spec

    def references(self) -> dict[str, int | str]:
        """Config key -> column reference of every column read: label, weight, features."""
        refs: dict[str, int | str] = {"label": self.label}
        if self.weight is not None:
            refs["weight"] = self.weight
        refs.update({f"columns.{name}": ref for name, ref in self.columns.items()})
        return refs


@dataclass
class Block:
    """Consecutive rows of a table: features (n, k) float32, y (n,) int8, weight (n,)."""

    start: int
    features: np.ndarray
    y: np.ndarray
    weight: np.ndarray

    def __len__(self) -> int:
        return len(self.y)

    def take(self, index) -> Block:
        return Block(self.start, self.features[index], self.y[index], self.weight[index])


def table_format(path: str | os.PathLike) -> str:
    """csv, parquet, feather or hdf5, from the file name's suffixes."""
    suffixes = [s.lower() for s in Path(path).suffixes]
    if ".csv" in suffixes:
        return "csv"
    last = suffixes[-1] if suffixes else ""
    formats = {".parquet": "parquet", ".pq": "parquet", ".feather": "feather", ".arrow": "feather"}
    formats.update({".h5": "hdf5", ".hdf5": "hdf5"})
    if last not in formats:
        raise DataError(
            f"{path}: unknown table format {last or '(no suffix)'!r}; expected .csv, .csv.gz, "
            ".parquet, .feather or .h5 (a pandas DataFrame, format 'table' or 'fixed')"
        )
    return formats[last]


def _resolve(path, names: list[str], spec: TableSpec, where: str) -> dict[str, str]:
    """Config key -> the file's column name, for every column read; a missing one raises."""
    resolved = {}
    for key, ref in spec.references().items():
        if isinstance(ref, bool) or not isinstance(ref, (int, str)):
            raise DataError(f"{where}.{key}: {ref!r}, expected a column position or name")
        if isinstance(ref, int):
            if not 0 <= ref < len(names):
                raise DataError(
                    f"{path}: column {ref} ({where}.{key}) does not exist: the file has "
                    f"{len(names)} columns (positions 0-{len(names) - 1})"
                )
            resolved[key] = names[ref]
        elif ref not in names or (not spec.header and spec_is_csv(path)):
            shown = names if len(names) <= 40 else [*names[:40], "..."]
            hint = " (table.header is false: give positions)" if not spec.header else ""
            raise DataError(
                f"{path}: column {ref!r} ({where}.{key}) not found; the file's columns are "
                f"{shown}{hint}"
            )
        else:
            resolved[key] = ref
    return resolved


def spec_is_csv(path) -> bool:
    return table_format(path) == "csv"


def _csv_names(path, spec: TableSpec) -> list[str]:
    """The CSV file's column names (f0, f1, ... without a header), from its first block."""
    from pyarrow import csv

    options = csv.ReadOptions(autogenerate_column_names=not spec.header, block_size=1 << 16)
    return list(csv.open_csv(str(path), read_options=options).schema.names)


def _bad_csv_cell(path, spec: TableSpec, column: str) -> tuple[int, str] | None:
    """(row, text) of the first cell of a CSV column that is not a number (slow path, run
    only after a conversion error)."""
    import pandas as pd
    from pyarrow import csv

    reader = csv.open_csv(
        str(path),
        read_options=csv.ReadOptions(
            autogenerate_column_names=not spec.header, block_size=CSV_BLOCK_BYTES
        ),
        convert_options=csv.ConvertOptions(
            include_columns=[column], column_types={column: pa.string()}
        ),
    )
    row = 0
    for batch in reader:
        text = batch.column(0).to_pandas()
        numbers = pd.to_numeric(text, errors="coerce")
        bad = numbers.isna() & text.notna() & (text.str.strip().str.lower() != "nan")
        bad |= text.isna() | (text.str.strip() == "")
        if bad.any():
            index = int(np.argmax(bad.to_numpy()))
            return row + index, text.iloc[index]
        row += batch.num_rows
    return None


def _csv_batches(
    path, spec: TableSpec, columns: list[str], where_of: dict, names: list[str]
) -> Iterator:
    """The CSV's wanted columns (float64) in batches; a cell that is not a number raises
    DataError naming its column and row (pyarrow's "column #i" is the file's i-th column)."""
    from pyarrow import csv

    options = csv.ReadOptions(autogenerate_column_names=not spec.header, block_size=CSV_BLOCK_BYTES)
    convert = csv.ConvertOptions(
        include_columns=columns, column_types={name: pa.float64() for name in columns}
    )
    try:
        reader = csv.open_csv(str(path), read_options=options, convert_options=convert)
        while True:
            try:
                batch = reader.read_next_batch()
            except StopIteration:
                return
            yield batch
    except pa.ArrowInvalid as error:
        message = str(error)
        match = re.search(r"column #(\d+)", message)
        column = names[int(match.group(1))] if match and int(match.group(1)) < len(names) else None
        if column not in where_of:
            raise DataError(f"{path}: cannot parse as CSV ({message})") from None
        found = _bad_csv_cell(path, spec, column)
        cell = (
            f"row {found[0]} (line {found[0] + 1 + spec.header}): {found[1]!r}"
            if found
            else message
        )
        raise DataError(f"{path}: column {where_of[column]}, {cell}: expected a number") from None


def _arrow_batches(path, fmt: str, columns: list[str]) -> Iterator:
    if fmt == "parquet":
        import pyarrow.parquet as pq

        # pre_buffer off: pyarrow's pre-buffering kept every column chunk read so far (480 MB
        # of Arrow memory after 2.7M rows of 29 float32 columns, 2.1 GB peak RSS unpacking
        # 11M rows; buffered reads stay at 98 MB, docs/tabular.md "Memory at the paper's size")
        parquet = pq.ParquetFile(str(path), pre_buffer=False, buffer_size=PARQUET_BUFFER_BYTES)
        yield from parquet.iter_batches(batch_size=BLOCK_ROWS, columns=columns)
    elif fmt == "feather":
        from pyarrow import feather

        table = feather.read_table(str(path), columns=columns, memory_map=True)
        yield from table.to_batches(max_chunksize=BLOCK_ROWS)
    else:  # hdf5: a pandas DataFrame read through h5py, nothing unpickled (hepml.io.jets)
        from hepml.io import jets

        try:
            h5, key, layout = jets.open_frame(path)
            with h5:
                for first in range(0, layout.rows, BLOCK_ROWS):
                    last = min(first + BLOCK_ROWS, layout.rows)
                    values = jets.read_frame_rows(h5, path, key, layout, columns, first, last)
                    yield pa.RecordBatch.from_arrays(
                        [pa.array(values[:, i]) for i in range(len(columns))], names=columns
                    )
        except jets.BenchmarkFormatError as error:
            raise DataError(str(error)) from None


def _file_names(path, fmt: str, spec: TableSpec) -> list[str]:
    try:
        if fmt == "csv":
            return _csv_names(path, spec)
        if fmt == "parquet":
            import pyarrow.parquet as pq

            return list(pq.read_schema(str(path)).names)
        if fmt == "feather":
            return list(pa.ipc.open_file(pa.memory_map(str(path), "r")).schema.names)
        from hepml.io import jets

        try:
            h5, _, layout = jets.open_frame(path)
        except jets.BenchmarkFormatError as error:
            raise DataError(str(error)) from None
        h5.close()
        return list(layout.columns)
    except FileNotFoundError:
        raise DataError(f"{path}: table file not found") from None
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{path}: cannot read as {fmt} ({error})") from None


def _numeric(path, batch, name: str, where: str, start: int) -> np.ndarray:
    column = batch.column(name)
    if not (pa.types.is_integer(column.type) or pa.types.is_floating(column.type)):
        if not pa.types.is_boolean(column.type):
            raise DataError(f"{path}: column {where} holds {column.type} values, expected numbers")
    if column.null_count:
        row = int(np.argmax(column.is_null().to_numpy(zero_copy_only=False)))
        raise DataError(
            f"{path}: column {where}, row {start + row}: empty or NaN cell, expected a number"
        )
    return column.to_numpy(zero_copy_only=False).astype(np.float64, copy=False)


def _first_bad(path, values: np.ndarray, where: str, start: int, expected: str) -> None:
    bad = ~np.isfinite(values)
    if bad.any():
        row = int(np.argmax(bad))
        raise DataError(f"{path}: column {where}, row {start + row}: {values[row]!r}, {expected}")


def read_blocks(path: str | os.PathLike, spec: TableSpec, where: str = "table") -> Iterator[Block]:
    """The table's rows in blocks, checked (module docstring); ``where`` prefixes config keys
    in messages (e.g. ``datasets.higgs.table``)."""
    fmt = table_format(path)
    names = _file_names(path, fmt, spec)
    resolved = _resolve(path, names, spec, where)
    wanted = list(dict.fromkeys(resolved.values()))
    where_of = {}
    for key, name in resolved.items():
        ref = spec.references()[key]
        where_of.setdefault(name, f"{ref!r} ({where}.{key})")
    batches = (
        _csv_batches(path, spec, wanted, where_of, names)
        if fmt == "csv"
        else _arrow_batches(path, fmt, wanted)
    )
    feature_keys = [key for key in resolved if key.startswith("columns.")]
    start = 0
    for batch in batches:
        n = batch.num_rows
        if n == 0:
            continue
        label_name = resolved["label"]
        label = _numeric(path, batch, label_name, where_of[label_name], start)
        bad = ~np.isin(label, (0.0, 1.0))
        if bad.any():
            row = int(np.argmax(bad))
            raise DataError(
                f"{path}: column {where_of[label_name]}, row {start + row}: label "
                f"{label[row]!r}, expected 0 or 1 (1 = signal)"
            )
        features = np.empty((n, len(feature_keys)), dtype=np.float32)
        for j, key in enumerate(feature_keys):
            name = resolved[key]
            values = _numeric(path, batch, name, where_of[name], start)
            _first_bad(path, values, where_of[name], start, "expected a finite number")
            with np.errstate(over="ignore"):
                features[:, j] = values
            _first_bad(path, features[:, j], where_of[name], start, "outside the float32 range")
        if "weight" in resolved:
            weight = _numeric(path, batch, resolved["weight"], where_of[resolved["weight"]], start)
            _first_bad(
                path, weight, where_of[resolved["weight"]], start, "expected a finite weight"
            )
        else:
            weight = np.ones(n, dtype=np.float64)
        yield Block(start, features, label.astype(np.int8), weight)
        start += n


class _SplitWriter:
    """One split's three files, written under temporary names: features as a stream of
    record batches (a Feather table), y and weight gathered and written at the end."""

    def __init__(self, paths: Mapping[str, str | os.PathLike], columns: list[str]):
        self.paths = {key: Path(paths[key]) for key in KEYS}
        for path in self.paths.values():
            path.parent.mkdir(parents=True, exist_ok=True)
            remove_stale_temporaries(path)
        # the hidden temporary names of hepml.io (removed by remove_stale_temporaries when a
        # killed job leaves them)
        self.tmp = {
            key: path.with_name(f".{path.name}.{os.getpid()}.tmp")
            for key, path in self.paths.items()
        }
        self.schema = pa.schema([(name, pa.float32()) for name in columns])
        self.writer = pa.ipc.new_file(str(self.tmp[FEATURES]), self.schema)
        self.y: list[np.ndarray] = []
        self.weight: list[np.ndarray] = []
        self.n = 0

    def write(self, block: Block) -> None:
        if len(block) == 0:
            return
        arrays = [pa.array(block.features[:, j]) for j in range(block.features.shape[1])]
        self.writer.write_batch(pa.record_batch(arrays, schema=self.schema))
        self.y.append(block.y)
        self.weight.append(block.weight)
        self.n += len(block)

    def finish(self) -> None:
        self.writer.close()
        write_array(self.tmp[LABEL], np.concatenate(self.y))
        write_array(self.tmp[WEIGHT], np.concatenate(self.weight))

    def commit(self) -> None:
        for key, path in self.paths.items():
            os.replace(self.tmp[key], path)

    def discard(self) -> None:
        try:
            self.writer.close()
        except (OSError, pa.ArrowException):
            pass
        for tmp in self.tmp.values():
            tmp.unlink(missing_ok=True)


def _assign(block: Block, rng: np.random.Generator, spec: TableSpec, standard_test: bool):
    """Split a block's rows: train/valid (UCI layout, test held apart) or train/valid/test
    (seeded), from one uniform draw per row in file order; all train when valid_rows holds
    the validation rows apart too."""
    if standard_test and spec.valid_rows is not None:
        return {"train": np.ones(len(block), dtype=bool)}
    u = rng.random(len(block))
    if standard_test:
        valid = u < spec.valid_fraction
        return {"train": ~valid, "valid": valid}
    test = u < spec.test_fraction
    valid = ~test & (u < spec.test_fraction + (1 - spec.test_fraction) * spec.valid_fraction)
    return {"train": ~(test | valid), "valid": valid, "test": test}


def unpack_table(
    path: str | os.PathLike,
    spec: TableSpec,
    outputs: Mapping[str, Mapping[str, str | os.PathLike]],
    seed: int,
    where: str = "table",
) -> dict[str, int]:
    """Read the table once, in blocks, and write every split's features, y and weight
    (outputs: split -> key -> path); returns the rows per split.

    Split (docs/tabular.md "Split"): with ``test_rows`` the last test_rows rows are the test
    split (the UCI convention) and each earlier row goes to valid with probability
    valid_fraction (or, with ``valid_rows``, the valid_rows rows before them are valid);
    without, each row goes to test with probability test_fraction, and each
    other row to valid with probability valid_fraction. The draws come from
    ``np.random.default_rng(seed)``, one per row in file order, so the split does not depend
    on the block size.
    """
    rng = np.random.default_rng(seed)
    columns = list(spec.columns)
    standard_test = spec.test_rows is not None
    held = (spec.test_rows or 0) + (spec.valid_rows or 0)  # rows kept back to the end
    writers: dict[str, _SplitWriter] = {}
    pending: deque[Block] = deque()
    pending_rows = 0
    started = last = time.perf_counter()
    n = 0

    def emit(block: Block) -> None:
        for split, mask in _assign(block, rng, spec, standard_test).items():
            writers[split].write(block.take(mask))

    try:
        for split in SPLITS:
            writers[split] = _SplitWriter(outputs[split], columns)
        for block in read_blocks(path, spec, where):
            n += len(block)
            if not standard_test:
                emit(block)
            else:
                pending.append(block)
                pending_rows += len(block)
                while pending and pending_rows - len(pending[0]) >= held:
                    pending_rows -= len(pending[0])
                    emit(pending.popleft())
            now = time.perf_counter()
            if now - last > _PROGRESS_SECONDS:
                last = now
                log.info("%s: %d rows read, %.0f s", path, n, now - started)
        if standard_test:
            if n <= held:
                raise DataError(
                    f"{path}: {n} rows, but {where}.test_rows is {spec.test_rows} (and "
                    f"valid_rows {spec.valid_rows}): expected more rows than the rows held "
                    "apart at the end, so that some remain to train on"
                )
            rest = Block(
                pending[0].start,
                np.concatenate([b.features for b in pending]),
                np.concatenate([b.y for b in pending]),
                np.concatenate([b.weight for b in pending]),
            )
            cut, test_cut = pending_rows - held, pending_rows - spec.test_rows
            emit(rest.take(slice(0, cut)))
            writers["valid"].write(rest.take(slice(cut, test_cut)))  # empty without valid_rows
            writers["test"].write(rest.take(slice(test_cut, None)))
        sizes = {split: writer.n for split, writer in writers.items()}
        for split, size in sizes.items():
            if size == 0:
                raise DataError(
                    f"{path}: {n} rows leave the {split} split empty ({where}: test_rows "
                    f"{spec.test_rows}, valid_fraction {spec.valid_fraction}, test_fraction "
                    f"{spec.test_fraction})"
                )
        for writer in writers.values():
            writer.finish()
        for writer in writers.values():
            writer.commit()
    finally:
        for writer in writers.values():
            writer.discard()
    log.info(
        "%s: %d rows -> %s in %.1f s",
        path,
        n,
        ", ".join(f"{split} {size}" for split, size in sizes.items()),
        time.perf_counter() - started,
    )
    return sizes


def _feature_columns(path: Path, names: list[str], columns: list[str] | None) -> list[str]:
    """The columns asked for (all when None); DataError names the file and a missing one."""
    columns = list(names) if columns is None else list(columns)
    missing = [name for name in columns if name not in names]
    if missing:
        raise DataError(f"{path}: feature column(s) {missing} not found (the file has {names})")
    return columns


def read_features(path: str | os.PathLike, columns: list[str] | None = None) -> np.ndarray:
    """(N, len(columns)) float32 of the named columns of a split's ``features.feather`` (all
    columns when None), in the order given; DataError names the file and a missing column.
    The whole split in memory: :class:`TableRows` reads it a block of rows at a time."""
    from pyarrow import feather

    path = Path(path)
    if not path.exists():
        raise DataError(f"{path}: missing; the tabular features are needed")
    try:
        table = feather.read_table(str(path), memory_map=True)
    except (OSError, pa.ArrowException) as error:
        raise DataError(f"{path}: not a Feather table ({error})") from None
    columns = _feature_columns(path, list(table.column_names), columns)
    out = np.empty((table.num_rows, len(columns)), dtype=np.float32)
    for j, name in enumerate(columns):
        out[:, j] = table.column(name).to_numpy()
    return out


class TableRows:
    """Rows of chosen columns of a split's ``features.feather`` read on demand, a block of
    ``block_rows`` consecutive rows at a time (docs/tabular.md "Memory at the paper's size").

    ``rows[index]`` (an int, a slice with step 1, or row numbers in any order) returns float32
    (len(index), len(columns)) rows (an int: (len(columns),)), as ``read_features(...)[index]``
    would. Reads go through the blocks the rows fall in: block b holds rows
    [b * block_rows, (b + 1) * block_rows); it is read column by column from the Arrow record
    batches it overlaps and kept until two newer blocks were read, so a reader that walks the
    rows block by block (the networks' block-shuffled batches, hepml.training.fit.epoch_order;
    LightGBM's sample and its pushed batches) reads each block once. The file is memory-mapped
    only while a block is copied out, so its pages do not stay in the job's resident memory.
    Memory: two blocks, 2 x block_rows x len(columns) x 4 bytes (29 MB each at 28 columns).

    ``rows_read`` counts the rows read from the file, ``largest_read`` the most in one read
    (tests bound them). shape, dtype, ndim, len() as the array :func:`read_features` returns.
    """

    KEEP_BLOCKS = 2

    def __init__(
        self,
        path: str | os.PathLike,
        columns: list[str] | None = None,
        block_rows: int = TABLE_BLOCK_ROWS,
    ):
        self.path = Path(path)
        if not self.path.exists():
            raise DataError(f"{self.path}: missing; the tabular features are needed")
        if block_rows < 1:
            raise ValueError(f"block_rows must be positive, got {block_rows}")
        self.block_rows = int(block_rows)
        try:
            source = pa.memory_map(str(self.path), "r")
            try:
                reader = pa.ipc.open_file(source)
                names = list(reader.schema.names)
                # record batch lengths from their metadata: no column page is touched
                counts = [reader.get_batch(i).num_rows for i in range(reader.num_record_batches)]
            finally:
                source.close()
        except (OSError, pa.ArrowException) as error:
            raise DataError(f"{self.path}: not a Feather table ({error})") from None
        self.columns = _feature_columns(self.path, names, columns)
        self._fields = [names.index(name) for name in self.columns]
        self._starts = np.concatenate([[0], np.cumsum(counts, dtype=np.int64)])
        self.shape = (int(self._starts[-1]), len(self.columns))
        self.dtype = np.dtype(np.float32)
        self._blocks: dict[int, np.ndarray] = {}
        self._lock = threading.Lock()
        self.rows_read = 0
        self.largest_read = 0

    def __len__(self) -> int:
        return self.shape[0]

    @property
    def ndim(self) -> int:
        return 2

    def _read(self, start: int, stop: int) -> np.ndarray:
        """Rows [start, stop) of the columns, copied out of the record batches they overlap."""
        out = np.empty((stop - start, len(self.columns)), dtype=np.float32)
        first = int(np.searchsorted(self._starts, start, side="right")) - 1
        try:
            source = pa.memory_map(str(self.path), "r")
            try:
                reader = pa.ipc.open_file(source)
                batch_index = first
                while batch_index < len(self._starts) - 1 and self._starts[batch_index] < stop:
                    batch = reader.get_batch(batch_index)
                    lo = max(start, int(self._starts[batch_index]))
                    hi = min(stop, int(self._starts[batch_index + 1]))
                    offset = lo - int(self._starts[batch_index])
                    for j, field in enumerate(self._fields):
                        column = batch.column(field).slice(offset, hi - lo)
                        out[lo - start : hi - start, j] = column.to_numpy(zero_copy_only=False)
                    del batch
                    batch_index += 1
                del reader
            finally:
                source.close()
        except (OSError, pa.ArrowException) as error:
            raise DataError(f"{self.path}: cannot read rows {start}-{stop} ({error})") from None
        self.rows_read += stop - start
        self.largest_read = max(self.largest_read, stop - start)
        return out

    def _block(self, block: int) -> np.ndarray:
        with self._lock:
            if block in self._blocks:
                self._blocks[block] = self._blocks.pop(block)  # most recent last
                return self._blocks[block]
            start = block * self.block_rows
            values = self._read(start, min(start + self.block_rows, len(self)))
            self._blocks[block] = values
            while len(self._blocks) > self.KEEP_BLOCKS:
                self._blocks.pop(next(iter(self._blocks)))
            return values

    def __getitem__(self, key) -> np.ndarray:
        if isinstance(key, slice):
            start, stop, step = key.indices(len(self))
            if step != 1:
                raise ValueError("TableRows: slices must have step 1")
            index = np.arange(start, max(stop, start), dtype=np.int64)
        elif np.isscalar(key):
            row = int(key)
            row = row + len(self) if row < 0 else row
            if not 0 <= row < len(self):
                raise IndexError(f"{self.path}: row {key} out of range 0..{len(self) - 1}")
            return self._block(row // self.block_rows)[row % self.block_rows].copy()
        else:
            index = np.asarray(key, dtype=np.int64).ravel()
            if index.size and (index.min() < 0 or index.max() >= len(self)):
                raise IndexError(f"{self.path}: row index out of range 0..{len(self) - 1}")
        out = np.empty((len(index), len(self.columns)), dtype=np.float32)
        blocks = index // self.block_rows
        for block in dict.fromkeys(blocks.tolist()):  # in order of first appearance
            where = np.flatnonzero(blocks == block)
            out[where] = self._block(block)[index[where] - block * self.block_rows]
        return out
