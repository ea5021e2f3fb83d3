"""The one data-access function: the arrays of one split for one feature set.

Files (docs/architecture.md "Files on disk"): ``results/{dataset}/feather/{split}/{key}.feather``
written by unpack_h5 (one array per file, read zero-copy by ``feather.read_array``), and for EFP
feature sets the split's EFP table ``results/{dataset}/efp/{split}/index.json``
(``hepml.io.efp_store``; only the requested columns are read). A tabular dataset's
``features.feather`` is a table of named float32 columns (``hepml.io.tabular``, written by
unpack_table): a feature set's ``columns`` are read from it as one (N, len(columns)) input
(whole, or on demand in blocks of rows: ``tabular.TableRows``).
A rule declares exactly the files its script reads and hands them here: the key of an array
file is its file name.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepml.io import feather
from hepml.io.efp_store import EFPTable
from hepml.io.files import DataError
from hepml.io.tabular import TableRows, read_features
from hepml.settings import TABULAR_INPUT

LABEL = "y"
WEIGHT = "weight"
EFP_INPUT = "efps"  # model input holding a feature set's EFP columns, (N, n_efps) float64


def input_names(inputs: Sequence[str], efps: Sequence[str] = ()) -> list[str]:
    """Model input names of a feature set: its keys, then ``efps`` when it has EFP columns."""
    return [*inputs, EFP_INPUT] if efps else list(inputs)


def split_files(feather_dir: str | Path, split: str, keys: Sequence[str]) -> list[Path]:
    """``{feather_dir}/{split}/{key}.feather`` for each key and y, weight (tests, CLI)."""
    keys = list(dict.fromkeys([*keys, LABEL, WEIGHT]))
    return [Path(feather_dir) / split / f"{key}.feather" for key in keys]


def load_split(
    files: Sequence[str | Path],
    inputs: Sequence[str],
    efps: Sequence[str] = (),
    efp_table: str | Path | None = None,
    on_demand: bool = False,
    columns: Sequence[str] = (),
) -> dict[str, np.ndarray]:
    """Arrays of one split: each key of ``inputs``, ``y`` (N,), ``weight`` (N,) and, when
    ``efps`` is not empty, ``efps`` (N, len(efps)) float64 in the order given.

    on_demand: image inputs (three or more dimensions) come as ``feather.ArrayRows``, read a batch
    of rows at a time (training and scoring stream them), and a tabular ``features`` input as
    ``tabular.TableRows`` (its columns read a block of rows at a time); the rest as arrays.

    files: the split's Feather array files, ``{key}.feather`` (at least inputs, y, weight);
    efp_table: the split's EFP index.json when ``efps`` is not empty.
    columns: a tabular feature set's columns: the input ``features`` is then the
    (N, len(columns)) float32 array of these columns of ``features.feather``, in this order
    (all its columns when empty); a missing column raises DataError naming the file.
    Image keys keep their unpacked shape, e.g. et (N, 31, 31, 1) ECal ET in GeV. Arrays are
    read-only views of the memory-mapped files. Raises DataError naming the file and key when
    a file is missing, lengths differ, labels are not 0/1 or weights are not finite.
    """
    by_key: dict[str, Path] = {}
    for path in map(Path, files):
        if path.suffix != ".feather":
            raise DataError(f"{path}: expected a Feather array file named {{key}}.feather")
        by_key[path.stem] = path
    arrays: dict[str, np.ndarray] = {}
    paths: dict[str, Path] = {}
    for key in dict.fromkeys([*inputs, LABEL, WEIGHT]):
        if key not in by_key:
            raise DataError(
                f"key {key!r} is needed but no {key}.feather is among the files given "
                f"({sorted(by_key)})"
            )
        path = by_key[key]
        if not path.exists():
            raise DataError(f"{path}: missing; key {key!r} is needed")
        if key == TABULAR_INPUT:
            reader = TableRows if on_demand else read_features
            arrays[key] = reader(path, list(columns) or None)
            paths[key] = path
            continue
        arrays[key] = feather.read_array(path)
        if on_demand and arrays[key].ndim >= 3:
            arrays[key] = feather.ArrayRows(path)
        paths[key] = path
    if efps:
        if efp_table is None:
            raise DataError(f"EFP columns {list(efps)[:3]}... requested but no EFP table given")
        arrays[EFP_INPUT] = EFPTable(efp_table).read(list(efps))
        paths[EFP_INPUT] = Path(efp_table)
    n = arrays[LABEL].shape[0]
    for key, array in arrays.items():
        if array.shape[0] != n:
            raise DataError(
                f"{paths[key]}: key {key!r} has {array.shape[0]} events, expected {n} "
                f"(as in {paths[LABEL]})"
            )
    y = arrays[LABEL]
    if y.ndim != 1 or not np.isin(y, (0, 1)).all():
        raise DataError(f"{paths[LABEL]}: key 'y' must be (N,) of 0/1, got {y.shape} {y.dtype}")
    weight = arrays[WEIGHT]
    if weight.ndim != 1 or not np.isfinite(weight).all():
        raise DataError(f"{paths[WEIGHT]}: key 'weight' must be (N,) finite, got {weight.shape}")
    return arrays


@dataclass(frozen=True)
class SplitInput:
    """The declared input files of one split for a feature set: array files, EFP table."""

    files: tuple[str, ...]
    efp_table: str | None = None

    def load(
        self,
        inputs: Sequence[str],
        efps: Sequence[str] = (),
        on_demand: bool = False,
        columns: Sequence[str] = (),
    ) -> dict[str, np.ndarray]:
        """``load_split`` of these files."""
        return load_split(self.files, inputs, efps, self.efp_table, on_demand, columns)
