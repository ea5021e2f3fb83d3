"""Streaming writer of HDF5 files in the published layout (docs/reference.md 1 and 2,
"Published data").

Every top-level key is a group holding three datasets ``train``, ``valid`` and ``test`` (read as
``f["et/train"]``).  Events are assigned to splits by their index in the stream: the first
64 % go to train, the next 16 % to valid, the last 20 % to test (:func:`split_sizes`), so a
simulator can hand over its events chunk by chunk and memory stays bounded by the chunk size.
Files are written under a temporary name and renamed only when complete: a failure leaves no
partial output.  Datasets are stored LZF-compressed (the images are mostly zeros) with a
Fletcher32 checksum per chunk (HDF5 verifies it on every read, so a chunk altered on disk is a
read error, which ``hepml.io.unpack_key`` names, instead of silently wrong values) and
without timestamps, so the same events give bit-identical files.

:func:`scale_published` writes the scaled companion file (``data.h5``) from the raw one
(``unscaled_data.h5``) and records the transform of every key in the attributes of its group.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Iterable, Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

from hepml.settings import SPLITS

log = logging.getLogger(__name__)

SPLIT_FRACTIONS = (0.64, 0.16, 0.20)
_ROWS_PER_H5_CHUNK = 256


def split_sizes(n_events: int) -> dict[str, int]:
    """Events per split: round(0.64 n) train, round(0.16 n) valid, the rest (~20 %) test."""
    if n_events < 0:
        raise ValueError(f"n_events must be >= 0, got {n_events}")
    n_train = int(round(SPLIT_FRACTIONS[0] * n_events))
    n_valid = int(round(SPLIT_FRACTIONS[1] * n_events))
    return {"train": n_train, "valid": n_valid, "test": n_events - n_train - n_valid}


def _temporary(path: Path) -> Path:
    return path.with_name(f".{path.name}.partial")


def _create_group(parent: h5py.Group, name: str) -> h5py.Group:
    """A group without modification times (h5py's create_group records them), so that the
    same content gives the same bytes."""
    gcpl = h5py.h5p.create(h5py.h5p.GROUP_CREATE)
    gcpl.set_obj_track_times(False)
    return h5py.Group(h5py.h5g.create(parent.id, name.encode(), gcpl=gcpl))


class PublishedWriter:
    """Context manager writing one published HDF5 file from chunks of events.

    path: final file name.  layout: key -> (per-event shape, dtype), e.g.
    ``{"et": ((31, 31, 1), "float32"), "y": ((), "int8")}``.  n_events: events per key in all
    (an int for every key, or a mapping key -> int for layouts whose keys hold different
    numbers of events, like the muon file's signal and background groups).
    attrs: attributes of the file's root (e.g. the provenance of a statistic fitted on the
    data, such as the generated muons' pT weights); :func:`scale_published` copies them.
    Each key's rows fill train, then valid, then test, in the order they are appended.
    """

    def __init__(
        self,
        path: str | os.PathLike,
        layout: Mapping[str, tuple[tuple[int, ...], str]],
        n_events: int | Mapping[str, int],
        compression: str | None = "lzf",
        attrs: Mapping[str, object] | None = None,
    ):
        self.path = Path(path)
        self.attrs = dict(attrs or {})
        self.layout = {
            key: (tuple(shape), np.dtype(dtype)) for key, (shape, dtype) in layout.items()
        }
        totals = n_events if isinstance(n_events, Mapping) else dict.fromkeys(layout, n_events)
        missing = sorted(set(layout) - set(totals))
        if missing:
            raise ValueError(f"{self.path}: no n_events for keys {missing}")
        self.sizes = {key: split_sizes(int(totals[key])) for key in layout}
        self.written = dict.fromkeys(layout, 0)
        self.compression = compression
        self._file: h5py.File | None = None

    def __enter__(self) -> PublishedWriter:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._file = h5py.File(_temporary(self.path), "w")
        self._file.attrs.update(self.attrs)
        for key, (shape, dtype) in self.layout.items():
            group = _create_group(self._file, key)
            for split in SPLITS:
                n = self.sizes[key][split]
                chunks = (max(1, min(_ROWS_PER_H5_CHUNK, n)), *shape) if n else None
                group.create_dataset(
                    split,
                    shape=(n, *shape),
                    dtype=dtype,
                    chunks=chunks,
                    compression=self.compression if n else None,
                    fletcher32=bool(n),
                    track_times=False,
                )
        return self

    def append(self, chunk: Mapping[str, np.ndarray]) -> None:
        """Append the next events of every key present in chunk (arrays (n, *shape))."""
        if self._file is None:
            raise RuntimeError(f"{self.path}: append() outside the 'with' block")
        for key, values in chunk.items():
            if key not in self.layout:
                raise ValueError(
                    f"{self.path}: key {key!r} is not in the layout {list(self.layout)}"
                )
            shape, dtype = self.layout[key]
            values = np.asarray(values)
            if values.shape[1:] != shape:
                raise ValueError(
                    f"{self.path}, key {key!r}: expected per-event shape {shape}, "
                    f"got {values.shape[1:]}"
                )
            total = sum(self.sizes[key].values())
            if self.written[key] + len(values) > total:
                raise ValueError(
                    f"{self.path}, key {key!r}: more than the declared {total} events appended"
                )
            start = self.written[key]
            offset = 0
            for split in SPLITS:
                n = self.sizes[key][split]
                lo, hi = max(start, offset), min(start + len(values), offset + n)
                if lo < hi:
                    self._file[key][split][lo - offset : hi - offset] = values[
                        lo - start : hi - start
                    ].astype(dtype, copy=False)
                offset += n
            self.written[key] += len(values)

    def __exit__(self, exc_type, exc, tb) -> None:
        file, self._file = self._file, None
        file.close()
        temporary = _temporary(self.path)
        if exc_type is None:
            short = {
                key: (n, sum(self.sizes[key].values()))
                for key, n in self.written.items()
                if n != sum(self.sizes[key].values())
            }
            if short:
                temporary.unlink(missing_ok=True)
                raise ValueError(f"{self.path}: incomplete, (written, declared) events: {short}")
            os.replace(temporary, self.path)
        else:
            temporary.unlink(missing_ok=True)


def write_published(
    chunks: Iterable[Mapping[str, np.ndarray]],
    path: str | os.PathLike,
    layout: Mapping[str, tuple[tuple[int, ...], str]],
    n_events: int | Mapping[str, int],
) -> None:
    """Stream chunks of events into a published file (see :class:`PublishedWriter`)."""
    with PublishedWriter(path, layout, n_events) as writer:
        for chunk in chunks:
            writer.append(chunk)


def _train_moments(group: h5py.Group, chunk_size: int) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation (ddof 0) of group['train'], float64, two passes."""
    data = group["train"]
    n = data.shape[0]
    if n == 0:
        raise ValueError(f"{group.file.filename}: {group.name}/train is empty, cannot standardise")
    total = np.zeros(data.shape[1:])
    for start in range(0, n, chunk_size):
        total += data[start : start + chunk_size].astype(np.float64).sum(axis=0)
    mean = total / n
    squares = np.zeros(data.shape[1:])
    for start in range(0, n, chunk_size):
        squares += ((data[start : start + chunk_size].astype(np.float64) - mean) ** 2).sum(axis=0)
    return mean, np.sqrt(squares / n)


def scale_published(
    source: str | os.PathLike,
    target: str | os.PathLike,
    divide: Mapping[str, float],
    standardise: Sequence[str],
    chunk_size: int = 10_000,
) -> None:
    """Write target (data.h5) as a documented transform of source (unscaled_data.h5).

    Keys in ``divide``: x / divisor (e.g. images in GeV divided by a fixed energy).  Keys in
    ``standardise``: (x - mean) / std per column, mean and std (ddof 0) of the source's train
    split only; a column with std 0 is divided by 1.  Other keys are copied unchanged.  Each
    target group records its transform in attributes: ``transform`` ('divide', 'standardise'
    or 'copy') and ``divisor`` or ``mean``/``std``.  Same keys, shapes and dtypes as source;
    the root attributes of source are copied.
    """
    source, target = Path(source), Path(target)
    overlap = sorted(set(divide) & set(standardise))
    if overlap:
        raise ValueError(f"keys both divided and standardised: {overlap}")
    temporary = _temporary(target)
    try:
        with h5py.File(source, "r") as src, h5py.File(temporary, "w") as dst:
            missing = sorted((set(divide) | set(standardise)) - set(src))
            if missing:
                raise ValueError(f"{source}: keys to scale {missing} are not in the file")
            dst.attrs.update(src.attrs)
            for key in src:
                group = _create_group(dst, key)
                if key in divide:
                    offset, scale = 0.0, float(divide[key])
                    if not scale > 0:
                        raise ValueError(f"{key}: divisor must be > 0, got {scale}")
                    group.attrs["transform"] = "divide"
                    group.attrs["divisor"] = scale
                elif key in standardise:
                    offset, scale = _train_moments(src[key], chunk_size)
                    scale = np.where(scale > 0, scale, 1.0)
                    group.attrs["transform"] = "standardise"
                    group.attrs["mean"] = offset
                    group.attrs["std"] = scale
                else:
                    offset, scale = None, None
                    group.attrs["transform"] = "copy"
                for split in SPLITS:
                    data = src[key][split]
                    out = group.create_dataset(
                        split,
                        shape=data.shape,
                        dtype=data.dtype,
                        chunks=data.chunks,
                        compression=data.compression,
                        fletcher32=data.fletcher32,
                        track_times=False,
                    )
                    for start in range(0, data.shape[0], chunk_size):
                        values = data[start : start + chunk_size]
                        if scale is not None:
                            values = (values.astype(np.float64) - offset) / scale
                        out[start : start + len(values)] = values.astype(data.dtype, copy=False)
        os.replace(temporary, target)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise
    log.info(
        "wrote %s from %s (divide %s, standardise %s)",
        target,
        source,
        dict(divide),
        list(standardise),
    )
