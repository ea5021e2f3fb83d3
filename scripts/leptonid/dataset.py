"""The one data-access function: the arrays of one split for one feature set.

Files (docs/architecture.md "Files on disk"): ``{feather_dir}/{split}/{key}.feather`` written by
unpack_h5 (one array per file, read zero-copy by ``io.read_array``), and for EFP feature sets
``{efp_dir}/{split}.feather`` (one float64 column per EFP, canonical names).
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pyarrow as pa
from pyarrow import feather

from leptonid import io
from leptonid.io import DataError

LABEL = "y"
WEIGHT = "weight"
EFP_INPUT = "efps"  # model input holding a feature set's EFP columns, (N, n_efps) float64


def input_names(inputs: Sequence[str], efps: Sequence[str] = ()) -> list[str]:
    """Model input names of a feature set: its keys, then ``efps`` when it has EFP columns."""
    return [*inputs, EFP_INPUT] if efps else list(inputs)


def load_split(
    feather_dir: str | Path,
    split: str,
    inputs: Sequence[str],
    efps: Sequence[str] = (),
    efp_dir: str | Path | None = None,
) -> dict[str, np.ndarray]:
    """Arrays of one split: each key of ``inputs``, ``y`` (N,), ``weight`` (N,) and, when
    ``efps`` is not empty, ``efps`` (N, len(efps)) float64 in the order given.

    Image keys keep their unpacked shape, e.g. et (N, 31, 31, 1) ECal ET in GeV. Arrays are
    read-only views of the memory-mapped files. Raises DataError naming the file and key when
    a file is missing, lengths differ, labels are not 0/1 or weights are not finite.
    """
    feather_dir = Path(feather_dir)
    arrays: dict[str, np.ndarray] = {}
    paths: dict[str, Path] = {}
    for key in [*inputs, LABEL, WEIGHT]:
        path = feather_dir / split / f"{key}.feather"
        if not path.exists():
            raise DataError(f"{path}: missing; key {key!r} of split {split!r} is needed")
        arrays[key] = io.read_array(path)
        paths[key] = path
    if efps:
        if efp_dir is None:
            raise DataError(f"split {split!r}: EFP columns requested but no efp_dir given")
        path = Path(efp_dir) / f"{split}.feather"
        arrays[EFP_INPUT] = _read_efp_columns(path, efps)
        paths[EFP_INPUT] = path
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


def _read_efp_columns(path: Path, names: Sequence[str]) -> np.ndarray:
    """(N, len(names)) float64 from the EFP table at ``path``; DataError names missing ones."""
    if not path.exists():
        raise DataError(f"{path}: missing; EFP columns {list(names)[:3]}... are needed")
    with pa.memory_map(str(path), "r") as source:
        present = set(pa.ipc.open_file(source).schema.names)
    missing = [name for name in names if name not in present]
    if missing:
        raise DataError(f"{path}: EFP column(s) {missing} not found ({len(present)} present)")
    table = feather.read_table(path, columns=list(names), memory_map=True)
    return np.column_stack([table.column(name).to_numpy() for name in names]).astype(np.float64)
