"""Published HDF5 files of the lepton kinds (electrons, muons) read, checked and unpacked into
Feather arrays (docs/architecture.md "Keys after unpacking").

:data:`LAYOUTS` holds the published layout of each kind (``hepml.io.electrons``,
``hepml.io.muons``).  Keys in the file that are not asked for (``efpe``, ``efph``,
``et_mass``, ``ee_mass``, ...) are ignored.

Every unpacked value is checked against its physical bounds (docs/reference.md "Physical
bounds": :class:`~hepml.io.layouts.Bound`, :func:`~hepml.io.layouts.physical_limits`, in raw
units: :func:`stored_units`), every chunk against its Fletcher32 checksum where the file
carries one (:func:`checksum_mismatch`), and a split without events is refused.
"""

from __future__ import annotations

import logging
import math
import os
import sys
import time
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
from tqdm import tqdm

from hepml.io.electrons import ELECTRONS
from hepml.io.feather import CHUNK_EVENTS, FeatherArrayWriter
from hepml.io.files import DataError, remove_stale_temporaries
from hepml.io.layouts import (
    BEAM,
    CANDIDATE,
    Bound,
    KeyLayout,
    PublishedLayout,
    physical_limits,
    shuffle_permutation,
)
from hepml.io.muons import MUONS
from hepml.settings import DEFAULT_ECM_GEV, SPLITS

log = logging.getLogger(__name__)


LAYOUTS = {layout.kind: layout for layout in (ELECTRONS, MUONS)}


def layout_for(kind: str) -> PublishedLayout:
    """The published layout of a dataset kind ('electrons' or 'muons')."""
    try:
        return LAYOUTS[kind]
    except KeyError:
        raise DataError(f"unknown dataset kind {kind!r}; known: {sorted(LAYOUTS)}") from None


def unpacked_keys(kind: str, keys: Iterable[str]) -> list[str]:
    """The keys written for a dataset: the configured keys plus ``weight``, in config order."""
    layout = layout_for(kind)
    result = list(dict.fromkeys([*keys, "weight"]))
    unknown = [key for key in result if key not in layout.keys]
    if unknown:
        raise DataError(
            f"unknown key(s) {unknown} for kind {kind} (allowed: {', '.join(layout.keys)}); "
            "the workflow checks datasets.<name>.keys at start-up (hepml.plan.check_datasets)"
        )
    return result


@dataclass(frozen=True)
class PublishedSummary:
    """What :func:`check_published` learnt from a file's metadata.

    sizes: per split, the number of events of each class position.
    shapes: per unpacked key read from the file, its per-event shape as published.
    dtypes: per unpacked key read from the file, its published dtype.
    """

    sizes: dict[str, tuple[int, ...]]
    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, np.dtype]


def _shape_matches(shape: tuple[int, ...], accepted: tuple[tuple[int | None, ...], ...]) -> bool:
    return any(
        len(shape) == len(pattern)
        and all(want is None or want == got for want, got in zip(pattern, shape, strict=True))
        for pattern in accepted
    )


def _describe_shapes(accepted: tuple[tuple[int | None, ...], ...]) -> str:
    """'(N, 31, 31, 1)'-style text for accepted per-event shapes (n = any length)."""
    return " or ".join(
        "(" + ", ".join(["N", *("n" if size is None else str(size) for size in pattern)]) + ")"
        for pattern in accepted
    )


def _open_h5(path: Path) -> h5py.File:
    try:
        return h5py.File(path, "r")
    except FileNotFoundError:
        raise DataError(f"{path}: published file not found") from None
    except OSError as error:
        raise DataError(f"{path}: cannot open as an HDF5 file ({error})") from None


def check_published(h5: h5py.File, kind: str, keys: Iterable[str]) -> PublishedSummary:
    """Check a published file's structure from its metadata alone (no event is read).

    Every key must be a group with ``train``, ``valid`` and ``test`` datasets of the published
    per-event shape, and within a split every key must hold the same number of events (per
    class position for muons).  Raises :class:`DataError` naming the file, key and split; for
    unequal numbers of events, the key whose number disagrees with the majority of the keys.
    """
    layout = layout_for(kind)
    path = h5.filename
    shapes: dict[str, tuple[int, ...]] = {}
    dtypes: dict[str, np.dtype] = {}
    # per split and class position: (key, dataset name, number of events) of every key read
    sizes: dict[str, list[list[tuple[str, str, int]]]] = {
        split: [[] for _ in layout.classes] for split in SPLITS
    }
    for key in unpacked_keys(kind, keys):
        spec = layout.keys[key]
        for position, group_name in enumerate(spec.groups):
            where = f"{path}: key '{key}'" + (
                f" (group '{group_name}')" if group_name != key else ""
            )
            if group_name not in h5:
                raise DataError(
                    f"{where}: missing; expected a group '{group_name}' with datasets "
                    f"{'/'.join(SPLITS)} (keys in the file: {sorted(h5.keys())})"
                )
            group = h5[group_name]
            if not isinstance(group, h5py.Group):
                raise DataError(
                    f"{where}: is a dataset, expected a group with datasets {'/'.join(SPLITS)}"
                )
            for split in SPLITS:
                if split not in group or not isinstance(group[split], h5py.Dataset):
                    raise DataError(
                        f"{where}, split '{split}': missing; expected dataset "
                        f"'{group_name}/{split}' (found: {sorted(group.keys())})"
                    )
                dataset = group[split]
                event_shape = tuple(dataset.shape[1:])
                if dataset.ndim == 0 or not _shape_matches(event_shape, spec.shapes):
                    raise DataError(
                        f"{where}, split '{split}': wrong shape {dataset.shape}; expected "
                        f"{_describe_shapes(spec.shapes)}"
                    )
                if dataset.dtype.kind not in "biuf":
                    raise DataError(
                        f"{where}, split '{split}': dtype {dataset.dtype} is not numeric"
                    )
                if shapes.setdefault(key, event_shape) != event_shape:
                    raise DataError(
                        f"{where}, split '{split}': per-event shape {event_shape} differs from "
                        f"{shapes[key]} elsewhere in the same key"
                    )
                dtypes.setdefault(key, dataset.dtype)
                sizes[split][position].append((key, f"{group_name}/{split}", int(dataset.shape[0])))
    result = {}
    for split, positions in sizes.items():
        if any(not entries for entries in positions):
            raise DataError(
                f"{path}: no configured key is read from the file, so the number of events "
                f"in split '{split}' is unknown (keys: {list(keys)})"
            )
        result[split] = tuple(_common_size(path, split, entries) for entries in positions)
    return PublishedSummary(sizes=result, shapes=shapes, dtypes=dtypes)


def _common_size(path: str, split: str, entries: list[tuple[str, str, int]]) -> int:
    """The number of events shared by all (key, dataset, n) entries of one split and class
    position; DataError naming the key(s) that disagree with the majority otherwise."""
    counts = Counter(n for _, _, n in entries)
    if len(counts) == 1:
        return entries[0][2]
    (majority, votes), (_, runner_up) = counts.most_common(2)
    held = ", ".join(f"'{name}' holds {n}" for _, name, n in entries)
    if votes == runner_up:  # no majority (e.g. two keys): name them all
        raise DataError(
            f"{path}: split '{split}': the keys disagree on the number of events ({held}); "
            "every key of a split must have the same number of events"
        )
    odd = [(key, name, n) for key, name, n in entries if n != majority]
    others = sorted({key for key, _, n in entries if n == majority})
    raise DataError(
        f"{path}: key '{odd[0][0]}', split '{split}': '{odd[0][1]}' holds {odd[0][2]} events "
        f"but the other keys ({', '.join(others)}) hold {majority}"
        + (f"; also differing: {', '.join(key for key, _, _ in odd[1:])}" if odd[1:] else "")
        + "; every key of a split must have the same number of events"
    )


def published_summary(h5_path: str | os.PathLike, kind: str, keys: Iterable[str]):
    """:func:`check_published` on a file given by path."""
    with _open_h5(Path(h5_path)) as h5:
        return check_published(h5, kind, keys)


def stored_units(group: h5py.Group, layout: PublishedLayout) -> tuple | None:
    """(offset, scale) such that raw = stored * scale + offset for one published group, from
    the group's ``transform`` attribute (:func:`hepml.io.publish.scale_published`: 'copy',
    'divide' by ``divisor``, 'standardise' with ``mean`` and ``std``).  A group without the
    attribute holds raw values, unless the file's name is one of the layout's
    ``scaled_names`` (the authors' scaled electron data.h5): then, as for a transform not
    known here, the scale is unknown and None is returned."""
    transform = group.attrs.get("transform")
    if isinstance(transform, bytes):
        transform = transform.decode()
    if transform == "copy" or (
        transform is None and Path(group.file.filename).name not in layout.scaled_names
    ):
        return 0.0, 1.0
    if transform == "divide":
        return 0.0, float(group.attrs["divisor"])
    if transform == "standardise":
        return np.asarray(group.attrs["mean"], np.float64), np.asarray(
            group.attrs["std"], np.float64
        )
    return None


def _progress(n: int, description: str) -> Iterator[tuple[int, int]]:
    """(start, stop) event ranges; a bar on a terminal, a log line every 10 % otherwise."""
    bar = tqdm(total=n, desc=description, unit="ev", disable=not sys.stderr.isatty())
    next_report = 0.1
    for start in range(0, n, CHUNK_EVENTS if n else 1):
        stop = min(start + CHUNK_EVENTS, n)
        yield start, stop
        bar.update(stop - start)
        if stop / n >= next_report:
            log.info("%s: %d / %d events (%.0f %%)", description, stop, n, 100 * stop / n)
            while next_report <= stop / n:
                next_report += 0.1
    bar.close()


def _gather(sources, offsets: np.ndarray, index: np.ndarray) -> np.ndarray:
    """Rows ``index`` (sorted, global over the concatenated class positions) of the sources.

    sources: per class position an h5py dataset or a numpy scalar (a built constant).
    """
    parts = []
    for position, source in enumerate(sources):
        lo, hi = np.searchsorted(index, offsets[position : position + 2])
        local = index[lo:hi] - offsets[position]
        if local.size == 0:
            continue
        if not isinstance(source, h5py.Dataset):
            parts.append(np.full(local.size, source))
        elif local[-1] - local[0] + 1 == local.size:  # contiguous: one slice
            parts.append(source[int(local[0]) : int(local[-1]) + 1])
        else:  # h5py fancy indexing needs increasing indices: they are sorted
            parts.append(source[local])
    return parts[0] if len(parts) == 1 else np.concatenate(parts)


def _raw_values(
    rows: np.ndarray, positions: np.ndarray, units: list[tuple]
) -> tuple[np.ndarray, np.ndarray | float]:
    """The rows as raw values, (n, values) (float64 unless stored raw), and the rounding slack
    of each value.

    positions: the class position of each row; units: (offset, scale) per class position
    (:func:`stored_units`).  Stored floats carry a relative error of their precision, so a raw
    value may miss a bound by 4 eps (|raw| + |offset|): that is the slack, 0 for integers.
    """
    flat = rows.reshape(len(rows), -1)
    eps = 4 * np.finfo(flat.dtype).eps if flat.dtype.kind == "f" else 0.0
    if all(np.all(offset == 0) and np.all(scale == 1) for offset, scale in units):
        return flat, eps * np.abs(flat) if eps else 0.0  # raw as stored: no copy
    raw = flat.astype(np.float64)
    offset_of = np.zeros_like(raw)
    for position, (offset, scale) in enumerate(units):
        mine = positions == position
        raw[mine] = raw[mine] * scale + offset
        offset_of[mine] = np.abs(offset)
    return raw, eps * (np.abs(raw) + offset_of)


def _number(value: float) -> str:
    """A value in an error message: 7 significant digits, '-100.0', '1.198577e+30'."""
    return str(float(f"{value:.7g}"))


def _outside(bound: Bound, raw: np.ndarray, slack, limits: dict) -> tuple[int, str] | None:
    """(event, description) of the first event whose raw values break ``bound``, or None."""
    values, slack = raw, np.broadcast_to(slack, raw.shape)
    if bound.column is not None:
        values, slack = values[:, bound.column], slack[:, bound.column]
    if bound.total:
        values, slack = values.sum(axis=1, dtype=np.float64), slack.sum(axis=1, dtype=np.float64)
    values, slack = values.reshape(len(raw), -1), slack.reshape(len(raw), -1)
    found = []
    if bound.low is not None:
        low = values + slack <= bound.low if bound.positive else values + slack < bound.low
        if low.any():
            event = int(np.argmax(low.any(axis=1)))
            value = float(values[event][low[event]][0])
            if bound.low == 0 and value < 0:
                text = f"negative value ({_number(value)}); {bound.what} must be >= 0"
            else:
                sign = ">" if bound.positive else ">="
                text = f"{bound.what} {_number(value)}; must be {sign} {bound.low:g}"
            found.append((event, text))
    if bound.high is not None:
        high = limits[bound.high] if isinstance(bound.high, str) else bound.high
        above = values - slack > high
        if above.any():
            event = int(np.argmax(above.any(axis=1)))
            value = float(values[event][above[event]][0])
            name = {BEAM: " (sqrt(s)/2)", CANDIDATE: " (one candidate's energy)"}.get(
                bound.high, ""
            )
            found.append((event, f"{bound.what} {_number(value)} above the bound {high:.7g}{name}"))
    return min(found, key=lambda problem: problem[0]) if found else None


def _first_problem(
    rows: np.ndarray, spec: KeyLayout, raw: tuple | None, limits: dict
) -> tuple[int, str] | None:
    """(event, description) of the first event of a chunk with a value no collision gives:
    non-finite, outside one of ``spec.bounds`` (docs/reference.md "Physical bounds") or, for
    labels, other than 0 and 1; None when the chunk is fine.

    raw: (values, slack) of :func:`_raw_values`, or None when the file's scale is unknown:
    then of the bounds only the scale-free one is checked, pixels >= 0.
    """
    problems = []
    if rows.dtype.kind == "f":
        bad = ~np.isfinite(rows.reshape(len(rows), -1)).all(axis=1)
        if bad.any():
            event = int(np.argmax(bad))
            value = rows[event][~np.isfinite(rows[event])].flat[0]
            problems.append((event, f"non-finite value ({value})"))
    for bound in spec.bounds:
        if raw is not None:
            problem = _outside(bound, *raw, limits)
        elif spec.image and bound.low == 0 and not bound.total:  # any scale keeps the sign
            stored = rows.reshape(len(rows), -1)
            problem = _outside(Bound(bound.what, low=0.0), stored, 0.0, limits)
        else:
            problem = None
        if problem is not None:
            problems.append(problem)
    if problems:  # the first bad event; non-finite first when both
        return min(problems, key=lambda problem: problem[0])
    if spec.label:
        bad = (rows != 0) & (rows != 1)
        if bad.any():
            event = int(np.argmax(bad))
            return event, f"label {rows[event]}; labels must be 0 or 1"
    return None


class _ValueSummary:
    """Running min, max, mean (and, for images, the share of all-zero images) of a key's
    values as written: the per-key summary of the unpack log, so that odd data show at once."""

    def __init__(self, image: bool):
        self.image = image
        self.n = self.values = self.empty = 0
        self.total = 0.0
        self.low, self.high = math.inf, -math.inf

    def add(self, rows: np.ndarray) -> None:
        flat = rows.reshape(len(rows), -1)
        if flat.size == 0:
            return
        self.n += len(flat)
        self.values += flat.size
        self.total += float(flat.sum(dtype=np.float64))
        self.low = min(self.low, float(flat.min()))
        self.high = max(self.high, float(flat.max()))
        if self.image:
            self.empty += int((~flat.any(axis=1)).sum())

    def result(self) -> dict:
        result = {
            "min": self.low,
            "max": self.high,
            "mean": self.total / self.values if self.values else math.nan,
        }
        if self.image:
            result["empty_share"] = self.empty / self.n if self.n else math.nan
        return result


def _output_dtype(spec: KeyLayout, in_dtype: np.dtype, where: str) -> np.dtype:
    """The dtype a key is written in: the layout's, else the file's, except that integer or
    bool values of a non-label key (pixel energies, features) become float32, logged."""
    if spec.dtype is None and not spec.label and in_dtype.kind in "biu":
        log.warning("%s: the file stores %s values; cast to float32", where, in_dtype)
        return np.dtype(np.float32)
    return np.dtype(spec.dtype or in_dtype).newbyteorder("=")


def fletcher32(data: bytes) -> int:
    """HDF5's Fletcher32 checksum of ``data`` (``H5_checksum_fletcher32``, H5checksum.c):
    sums of big-endian 16-bit words (an odd last byte as the high byte of a word), folded
    to 16 bits every 360 words."""
    words = np.frombuffer(data[: len(data) // 2 * 2], dtype=">u2").astype(np.int64)
    if len(data) % 2:
        words = np.append(words, np.int64(data[-1]) << 8)
    sum1 = sum2 = 0
    for start in range(0, len(words), 360):
        block = words[start : start + 360]
        sum2 += len(block) * sum1 + int(np.dot(np.arange(len(block), 0, -1), block))
        sum1 += int(block.sum())
        sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
        sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    sum1 = (sum1 & 0xFFFF) + (sum1 >> 16)
    sum2 = (sum2 & 0xFFFF) + (sum2 >> 16)
    return (sum2 << 16) | sum1


def checksum_mismatch(dataset: h5py.Dataset) -> str | None:
    """Where a dataset's first chunk whose stored Fletcher32 checksum does not match its bytes
    lies ('rows 256..511, chunk at byte 4096'); None when every chunk matches or the dataset
    carries no checksum.  HDF5 verifies the checksum on every read but reports a mismatch only
    as "filter returned failure", the same as a chunk that does not decompress: this names it.
    """
    plist = dataset.id.get_create_plist()
    filters = [plist.get_filter(i)[0] for i in range(plist.get_nfilters())]
    if not filters or filters[-1] != h5py.h5z.FILTER_FLETCHER32:
        return None  # no checksum, or one under a later filter: not readable from raw bytes
    for i in range(dataset.id.get_num_chunks()):
        info = dataset.id.get_chunk_info(i)
        _, raw = dataset.id.read_direct_chunk(info.chunk_offset)
        stored = int.from_bytes(raw[-4:], "little")
        computed = fletcher32(raw[:-4])
        # HDF5 also accepts the checksum with the bytes of each half swapped (old files)
        swapped = ((computed & 0x00FF00FF) << 8) | ((computed >> 8) & 0x00FF00FF)
        if stored not in (computed, swapped):
            first = info.chunk_offset[0]
            last = min(first + dataset.chunks[0], dataset.shape[0]) - 1
            return f"rows {first}..{last}, chunk at byte {info.byte_offset}"
    return None


def _read_failure(error: OSError, sources) -> str:
    """What h5py's read error means: a chunk failing its Fletcher32 checksum is named."""
    for source in sources:
        if isinstance(source, h5py.Dataset):
            where = checksum_mismatch(source)
            if where is not None:
                return (
                    f"Fletcher32 checksum mismatch in '{source.name.lstrip('/')}' {where}: "
                    "its bytes changed after it was written"
                )
    return str(error)


def unpack_key(
    h5_path: str | os.PathLike,
    kind: str,
    keys: Iterable[str],
    split: str,
    key: str,
    out_path: str | os.PathLike,
    seed: int,
    ecm_gev: float | None = None,
) -> dict:
    """Unpack one key of one split of a published file into ``out_path`` (Feather), validated.

    h5_path: published file (layout in the module doc); kind: 'electrons' or 'muons';
    keys: the dataset's configured keys (all are checked to be present, with equal N);
    key: the unpacked key to write; seed: config seed for the muon shuffle; ecm_gev: sqrt(s)
    of the collisions, the scale of the physical bounds (None: the kind's published value,
    :data:`hepml.settings.DEFAULT_ECM_GEV`).
    Streams :data:`CHUNK_EVENTS` events at a time and checks them on the way: the split is
    not empty, every chunk is readable (and matches its Fletcher32 checksum where the file
    carries one), values are finite and inside the key's physical bounds (docs/reference.md
    "Physical bounds", on the raw values: a scaled group's ``transform`` attribute is undone
    first), labels in {0, 1}, both classes present.  Integer or bool values of a non-label key
    are cast to float32 (logged).  Any failure raises :class:`DataError` naming the file, key
    and split (and the event, the value and the bound, for a bad value), and leaves no output
    (the file is written under a temporary name; temporaries of ``out_path`` left by a killed
    earlier job are removed first).
    Returns a summary: n, shape, dtype, bytes, seconds and ``values`` (min, max, mean and, for
    images, the share of all-zero images), which is also logged.
    """
    started = time.perf_counter()
    remove_stale_temporaries(out_path)
    h5_path = Path(h5_path)
    layout = layout_for(kind)
    keys = list(keys)
    if split not in SPLITS:
        raise DataError(f"unknown split {split!r}; expected one of {SPLITS}")
    if key not in unpacked_keys(kind, keys):
        raise DataError(f"key '{key}' is not among the unpacked keys {unpacked_keys(kind, keys)}")
    spec = layout.keys[key]
    with _open_h5(h5_path) as h5:
        summary = check_published(h5, kind, keys)
        sizes = summary.sizes[split]
        offsets = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        n = int(offsets[-1])
        where = f"{h5_path}: key '{key}', split '{split}'"
        if n == 0:
            groups = ", ".join(f"'{group}/{split}'" for group in spec.groups) or "every key"
            raise DataError(
                f"{where}: empty split: {groups} holds 0 events; every split needs events of "
                "both classes (train fits, valid chooses, test reports)"
            )
        if spec.label and spec.constants and min(sizes) == 0:
            counts = ", ".join(f"{c} {s}" for c, s in zip(layout.classes, sizes, strict=True))
            raise DataError(f"{where}: only one class present ({counts}); both are needed")
        if spec.groups:
            sources = [h5[f"{group}/{split}"] for group in spec.groups]
            in_shape = summary.shapes[key]
            in_dtype = summary.dtypes[key]
        else:
            sources = [np.asarray(value, dtype=spec.dtype) for value in spec.constants]
            in_shape, in_dtype = (), np.dtype(spec.dtype)
        out_shape = spec.out_shape if spec.out_shape is not None else in_shape
        out_dtype = _output_dtype(spec, in_dtype, where)
        units = [stored_units(h5[group], layout) for group in spec.groups]
        if any(unit is None for unit in units) and spec.bounds:
            log.warning(
                "%s: the file's scale is not recorded (no 'transform' attribute), so only "
                "finite values%s are checked, not the physical bounds",
                where,
                " and pixels >= 0" if spec.image else "",
            )
        limits = physical_limits(float(ecm_gev or DEFAULT_ECM_GEV[kind]))
        order = shuffle_permutation(n, seed, split) if layout.shuffle else None
        counts = np.zeros(2, dtype=np.int64)
        values = _ValueSummary(spec.image)

        def origin(index: np.ndarray, event: int) -> str:
            """Where unpacked event ``index[event]`` comes from in the file."""
            position = int(np.searchsorted(offsets, index[event], side="right") - 1)
            group = spec.groups[position] if spec.groups else layout.classes[position]
            return f"'{group}/{split}' row {int(index[event] - offsets[position])}"

        with FeatherArrayWriter(out_path, n, out_shape, out_dtype) as writer:
            for start, stop in _progress(n, f"unpack {kind} {split}/{key}"):
                try:
                    if order is None:  # file order: contiguous reads
                        index = np.arange(start, stop)
                        rows = _gather(sources, offsets, index)
                    else:  # read this chunk's rows in increasing order, then put them in place
                        index = order[start:stop]
                        sort = np.argsort(index)
                        block = _gather(sources, offsets, index[sort])
                        rows = np.empty_like(block)
                        rows[sort] = block
                except OSError as error:  # h5py: a corrupt or truncated chunk
                    raise DataError(
                        f"{where}: cannot read events {start}..{stop - 1} from the file "
                        f"({_read_failure(error, sources)}); the file is damaged: fetch or "
                        "simulate it again"
                    ) from None
                raw = None
                if spec.bounds and all(unit is not None for unit in units):
                    positions = np.searchsorted(offsets, index, side="right") - 1
                    raw = _raw_values(rows, positions, units)
                problem = _first_problem(rows, spec, raw, limits)
                if problem is not None:
                    event, what = problem
                    raise DataError(
                        f"{where}: {what} at event {start + event} ({origin(index, event)}); "
                        "the first bad event of the split in unpacked order"
                    )
                if spec.label:
                    counts += np.bincount(rows.astype(np.int64), minlength=2)
                rows = rows.reshape(len(rows), *out_shape).astype(out_dtype, copy=False)
                values.add(rows)
                writer.write(rows)
            if spec.label and counts.min() == 0:
                raise DataError(
                    f"{where}: only one class present ({counts[1]} with label 1, "
                    f"{counts[0]} with label 0); every split needs both"
                )
    seconds = time.perf_counter() - started
    result = {
        "file": str(h5_path),
        "key": key,
        "split": split,
        "n": n,
        "shape": [n, *out_shape],
        "dtype": out_dtype.name,
        "bytes": n * math.prod(out_shape) * out_dtype.itemsize,
        "seconds": round(seconds, 3),
        "values": values.result(),
    }
    log.info("unpacked %s", result)
    return result
