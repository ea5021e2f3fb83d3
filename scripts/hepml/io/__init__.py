"""The only module that touches files: published HDF5 files, Feather arrays, downloads, JSON.

Published layouts (docs/reference.md sections 1 and 2, "Published data")
-------------------------------------------------------------------
Every top-level key of a published ``data.h5`` / ``unscaled_data.h5`` is a group holding the
datasets ``train``, ``valid`` and ``test`` (read as ``f["et/train"]``).  :data:`LAYOUTS` holds one
table per dataset kind that maps each *unpacked* key (the names downstream rules use,
docs/architecture.md) to the published group(s) it comes from:

==========  ========  ===============================  ======================  ====================
kind        key       published group(s)               per-event shape (file)  written as
==========  ========  ===============================  ======================  ====================
electrons   et, ee    et, ee                           (31, 31, 1)             as published
electrons   ht, he    ht, he                           (32, 32, 1)             as published
electrons   hl        hl                               (7,)                    as published
electrons   mass      mass                             (1,)                    as published
electrons   y         y (1 = electron, 0 = jet)        ()                      int8
electrons   weight    none: the file has no weights    -                       float64 ones
muons       images    images_signal, images_bg         (32, 32) or (32, 32, 1) (32, 32, 1)
muons       iso       iso_signal, iso_bg               (n_cones,)              as published
muons       weight    weights_signal, weights_bg       ()                      float64
muons       pt        pt_signal, pt_bg (optional)      () or (1,)              (1,)
muons       y         none: 1 for signal, 0 for bg     -                       int8
==========  ========  ===============================  ======================  ====================

Electron files keep signal and background in the same arrays, in file order.  Muon files
store them separately: each unpacked muon key is the signal rows followed by the background
rows, shuffled by :func:`shuffle_permutation` (seeded from the config seed and the split name,
so it is the same permutation for every key of a split).  Keys in the file that are not
asked for (``efpe``, ``efph``, ``et_mass``, ``ee_mass``, ...) are ignored.

Every unpacked value is checked against its physical bounds (docs/reference.md "Physical
bounds": :class:`Bound`, :func:`physical_limits`, in raw units: :func:`stored_units`), every
chunk against its Fletcher32 checksum where the file carries one (:func:`checksum_mismatch`),
and a split without events is refused.

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

import hashlib
import http.client
import io as _pyio
import json
import logging
import math
import os
import sys
import time
import urllib.error
import urllib.request
import zlib
from collections import Counter
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path

import h5py
import numpy as np
import pyarrow as pa
from pyarrow import feather as pa_feather
from tqdm import tqdm

from hepml.geometry import ECAL, HCAL, MUON
from hepml.logs import TERMINAL
from hepml.settings import DEFAULT_ECM_GEV, SPLITS

log = logging.getLogger(__name__)

CHUNK_EVENTS = 4096  # events read, checked and written at a time: memory is O(chunk), not O(N)
DOWNLOAD_CHUNK_BYTES = 1 << 20


class DataError(ValueError):
    """A published or unpacked file does not have the expected layout or content."""


class DownloadError(RuntimeError):
    """A download failed or its content does not match a pinned digest (sha256 or md5)."""


# ----------------------------------------------------------------------------------------------
# Published layouts
# ----------------------------------------------------------------------------------------------


# Symbolic upper bounds, resolved from sqrt(s) by :func:`physical_limits`.
BEAM = "beam"
CANDIDATE = "candidate"


@dataclass(frozen=True)
class Bound:
    """A physical range of a key's raw values (docs/reference.md "Physical bounds").

    what: the quantity, named in errors ('pixel', 'image sum', 'R_had', ...).
    low, high: the range (None: open on that side); ``high`` may be :data:`BEAM` (sqrt(s)/2)
        or :data:`CANDIDATE` (the most energy one object inside an image window can carry).
    column: the one column of a (N, d) key it applies to; None: every value of the event.
    total: the bound is on the sum of the event's values (an image's energy).
    positive: values must exceed ``low`` (weights), not only reach it.
    """

    what: str
    low: float | None = None
    high: float | str | None = None
    column: int | None = None
    total: bool = False
    positive: bool = False


@dataclass(frozen=True)
class KeyLayout:
    """Where one unpacked key comes from in a published file.

    groups: the published group for each class position of the layout (one for electrons;
        signal then background for muons); empty for keys built without reading the file.
    shapes: accepted per-event shapes in the file (without N); ``None`` matches any length.
    out_shape: per-event shape written; None keeps the published one.
    constants: for built keys, the value of every event of each class position.
    dtype: numpy dtype written; None keeps the published one (in native byte order), except
        that integer or bool values of a non-label key are cast to float32 (logged).
    label: the key is a class label: values must be 0 or 1 and both classes present.
    image: the values are pixel energies (E or ET): never negative, whatever the file's scale,
        and the unpack log reports the share of all-zero images.
    bounds: the physical ranges of the raw values (in GeV where they are energies).
    """

    groups: tuple[str, ...] = ()
    shapes: tuple[tuple[int | None, ...], ...] = ((),)
    out_shape: tuple[int, ...] | None = None
    constants: tuple[float, ...] = ()
    dtype: str | None = None
    label: bool = False
    image: bool = False
    bounds: tuple[Bound, ...] = ()


@dataclass(frozen=True)
class PublishedLayout:
    """One dataset kind: its class positions and the table of its unpacked keys."""

    kind: str
    classes: tuple[str, ...]
    keys: dict[str, KeyLayout]
    shuffle: bool  # merge the class positions with a seeded permutation (muons)
    # published file names whose values are scaled by a transform the file does not record
    # (the authors' electron data.h5): without a group attribute ``transform`` (written by
    # hepml.publish), only the scale-free checks apply there (docs/reference.md
    # "Physical bounds")
    scaled_names: tuple[str, ...] = ()


_ECAL_IMAGE = (*ECAL.shape, 1)
_HCAL_IMAGE = (*HCAL.shape, 1)

# docs/reference.md "Physical bounds": a cell holds at most one beam's energy, an image (one
# candidate, its window's deposits) at most CANDIDATE; ET <= E, so both hold for ET images.
_IMAGE_BOUNDS = (
    Bound("pixel", low=0.0, high=BEAM),
    Bound("image sum", high=CANDIDATE, total=True),
)
# The 7 HL features (docs/reference.md "The 7 high-level features", in file order): ratios of
# non-negative sums, RMS widths inside their windows, isolation sums of ECal energy.
_HL_BOUNDS = (
    Bound("R_had", low=0.0, column=0),
    # an RMS of eta positions inside a 3-cell window is at most half its width, whatever
    # point of a cell its eta stands for (published values reach 0.025, one cell)
    Bound("w_eta2", low=0.0, high=1.5 * ECAL.d_eta, column=1),
    Bound("R_phi", low=0.0, column=2),
    Bound("R_eta", low=0.0, column=3),
    Bound("sigma_eta_eta", low=0.0, high=2.0, column=4),  # RMS distance within +-2 cells
    Bound("iso_03", low=0.0, high=CANDIDATE, column=5),
    Bound("iso_04", low=0.0, high=CANDIDATE, column=6),
)

ELECTRONS = PublishedLayout(
    kind="electrons",
    classes=("all",),
    keys={
        "et": KeyLayout(groups=("et",), shapes=(_ECAL_IMAGE,), image=True, bounds=_IMAGE_BOUNDS),
        "ee": KeyLayout(groups=("ee",), shapes=(_ECAL_IMAGE,), image=True, bounds=_IMAGE_BOUNDS),
        "ht": KeyLayout(groups=("ht",), shapes=(_HCAL_IMAGE,), image=True, bounds=_IMAGE_BOUNDS),
        "he": KeyLayout(groups=("he",), shapes=(_HCAL_IMAGE,), image=True, bounds=_IMAGE_BOUNDS),
        "hl": KeyLayout(groups=("hl",), shapes=((7,),), bounds=_HL_BOUNDS),
        "mass": KeyLayout(
            groups=("mass",), shapes=((1,),), bounds=(Bound("mass", low=0.0, high=CANDIDATE),)
        ),
        "y": KeyLayout(groups=("y",), shapes=((),), dtype="int8", label=True),
        # docs/reference.md 1: the published electron data carries no per-event weights.
        "weight": KeyLayout(constants=(1.0,), dtype="float64"),
    },
    shuffle=False,
    scaled_names=("data.h5",),
)

MUONS = PublishedLayout(
    kind="muons",
    classes=("signal", "background"),
    keys={
        "images": KeyLayout(
            groups=("images_signal", "images_bg"),
            shapes=(MUON.shape, (*MUON.shape, 1)),
            out_shape=(*MUON.shape, 1),
            image=True,
            bounds=_IMAGE_BOUNDS,
        ),
        "iso": KeyLayout(
            groups=("iso_signal", "iso_bg"),
            shapes=((None,),),
            bounds=(Bound("isolation", low=0.0),),  # cone ET sums (over the muon pT)
        ),
        "weight": KeyLayout(
            groups=("weights_signal", "weights_bg"),
            shapes=((),),
            dtype="float64",
            # pT reweighting: 0 where the signal has no events at that pT, never negative
            bounds=(Bound("weight", low=0.0),),
        ),
        "pt": KeyLayout(
            groups=("pt_signal", "pt_bg"),
            shapes=((), (1,)),
            out_shape=(1,),
            bounds=(Bound("muon pT", low=0.0, high=BEAM, positive=True),),
        ),
        # docs/reference.md 2: signal and background are stored apart; the workflow builds labels.
        "y": KeyLayout(constants=(1, 0), dtype="int8", label=True),
    },
    shuffle=True,
)

LAYOUTS = {layout.kind: layout for layout in (ELECTRONS, MUONS)}


def _half_diagonal(geometry) -> float:
    """Half the diagonal of an image window in Delta R (eta x phi)."""
    return math.hypot(geometry.n_eta * geometry.d_eta, geometry.n_phi * geometry.d_phi) / 2


# The widest lepton image window's half-diagonal in Delta R (the HCal image's, about 0.57): no
# deposit of an image is further from its centre, in angle as well (docs/reference.md).
_WINDOW_HALF_DIAGONAL = max(_half_diagonal(geometry) for geometry in (ECAL, HCAL, MUON))


def physical_limits(ecm_gev: float, half_angle: float = _WINDOW_HALF_DIAGONAL) -> dict:
    """The symbolic upper bounds in GeV for collisions at sqrt(s) = ``ecm_gev``
    (docs/reference.md "Physical bounds"): :data:`BEAM` = sqrt(s)/2, and :data:`CANDIDATE` =
    sqrt(s) / (1 + cos half_angle), the most energy a set of particles within ``half_angle``
    of one direction can carry (the rest of the event must balance its momentum); about
    1.09 sqrt(s)/2 for the lepton image windows."""
    if not (math.isfinite(ecm_gev) and ecm_gev > 0):
        raise DataError(f"sqrt(s) must be a positive number of GeV, got {ecm_gev!r}")
    return {BEAM: ecm_gev / 2, CANDIDATE: ecm_gev / (1 + math.cos(half_angle))}


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
    the group's ``transform`` attribute (:func:`hepml.publish.scale_published`: 'copy',
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


def shuffle_permutation(n: int, seed: int, split: str) -> np.ndarray:
    """(n,) int64 permutation merging a split's signal and background rows (muons).

    Seeded from the config seed and the split name (CRC-32 of the name, stable across
    processes), so every key of a split is reordered identically.
    """
    rng = np.random.default_rng([int(seed), zlib.crc32(split.encode())])
    return rng.permutation(n).astype(np.int64)


# ----------------------------------------------------------------------------------------------
# Feather arrays
# ----------------------------------------------------------------------------------------------


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


def _temporary_name(path: Path) -> Path:
    """A hidden name beside ``path`` for writing it: renamed to ``path`` once complete.

    Temporaries of ``path`` left by other processes (a killed job) are removed first: Snakemake
    runs one job per output, so no other process is writing ``path`` now.
    """
    remove_stale_temporaries(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the hidden ``.{name}.{pid}.tmp`` files of ``path`` written by any process but
    this one (left by a SIGKILLed or preempted job); returns the removed paths."""
    path = Path(path)
    prefix, own = f".{path.name}.", f".{path.name}.{os.getpid()}.tmp"
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except FileNotFoundError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")) or name == own:
            continue
        if not name[len(prefix) : -len(".tmp")].isdigit() or not entry.is_file():
            continue
        Path(entry.path).unlink(missing_ok=True)
        log.info("removed %s, a temporary left by an earlier (killed) job", entry.path)
        removed.append(Path(entry.path))
    return removed


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


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file via a temporary name, so that a failed job leaves no partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, content) -> None:
    """Write a JSON document (indented, keys in given order) via a temporary name."""
    write_text(path, json.dumps(content, indent=2) + "\n")


def read_json(path: str | os.PathLike):
    """A JSON document."""
    return json.loads(Path(path).read_text())


def read_text(path: str | os.PathLike) -> str:
    """A text file (a markdown table, a log)."""
    return Path(path).read_text()


def read_csv(path: str | os.PathLike):
    """A CSV table (written by ``write_text(path, table.to_csv(index=False))``) as a pandas
    DataFrame."""
    import pandas as pd

    return pd.read_csv(path)


def write_figure(figure, path: str | os.PathLike, dpi: int = 110) -> None:
    """Save a matplotlib figure via a temporary name, so that a failed job leaves no partial
    file: the one writer of every figure of the workflow.

    The format is the suffix of ``path`` (PNG at ``dpi``, or SVG with text kept as text and a
    fixed hash salt, so the same figure gives the same bytes and the report can search its
    legend). A figure made with pyplot is closed once written: pyplot keeps every open figure
    alive (and warns past 20) until it is closed.
    """
    import matplotlib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    try:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "hepml"}):
            figure.savefig(tmp, dpi=dpi, format=path.suffix.lstrip("."))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(figure)


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Numeric arrays by name as an uncompressed ``.npz`` via a temporary name (no objects:
    ``read_npz`` refuses pickled content)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, **{name: np.asarray(values) for name, values in arrays.items()})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` file written by ``write_npz``; DataError names a missing file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found")
    with np.load(path, allow_pickle=False) as content:
        return {name: content[name] for name in content.files}


# ----------------------------------------------------------------------------------------------
# Unpacking
# ----------------------------------------------------------------------------------------------


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


# ----------------------------------------------------------------------------------------------
# Downloads
# ----------------------------------------------------------------------------------------------


def sha256_of(path: str | os.PathLike) -> str:
    """Hex sha256 digest of a file, read in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as handle:
        for block in iter(lambda: handle.read(DOWNLOAD_CHUNK_BYTES), b""):
            digest.update(block)
    return digest.hexdigest()


def download_file(
    url: str,
    dest: str | os.PathLike,
    sha256: str | None = None,
    pin_key: str = "the config",
    timeout: float = 60.0,
    md5: str | None = None,
) -> str:
    """Download ``url`` to ``dest``, checking its pinned digests; returns the sha256 digest.

    sha256, md5: the pinned hex digests (either, both, or None).  md5 is what Zenodo publishes
    for its files (the top-tagging benchmark's record, config/jets.yaml); a second file with a
    given md5 cannot be made (only pairs of colliding files can), so a published md5 pins the
    file.  Each pinned digest is checked.  With neither pinned the download is trusted as is: a
    warning says so with both digests and the config key (``pin_key``, the sha256 entry) to
    pin, in the log and on the terminal (``hepml.logs.TERMINAL``).  No network, a failed
    transfer or a digest mismatch raise :class:`DownloadError` naming the URL, the file and the
    digests; nothing is left at ``dest`` (the transfer goes to a temporary name first).
    """
    dest = Path(dest)
    dest.parent.mkdir(parents=True, exist_ok=True)
    expected = sha256.lower() if sha256 else None
    expected_md5 = md5.lower() if md5 else None
    pinned = " and ".join(
        f"{name} {value}" for name, value in (("sha256", expected), ("md5", expected_md5)) if value
    )
    tmp = _temporary_name(dest)
    try:
        digest = hashlib.sha256()
        digest_md5 = hashlib.md5(usedforsecurity=False)
        with open(tmp, "wb") as out:
            try:
                with urllib.request.urlopen(url, timeout=timeout) as response:
                    total = int(response.headers.get("Content-Length") or 0) or None
                    bar = tqdm(
                        total=total,
                        desc=dest.name,
                        unit="B",
                        unit_scale=True,
                        disable=not sys.stderr.isatty(),
                    )
                    done, next_report = 0, 0
                    while block := response.read(DOWNLOAD_CHUNK_BYTES):
                        out.write(block)
                        digest.update(block)
                        digest_md5.update(block)
                        done += len(block)
                        bar.update(len(block))
                        if done >= next_report:
                            log.info("%s: %.1f MB received", url, done / 1e6)
                            next_report = done + (total or 1 << 30) // 10
                    bar.close()
            except (urllib.error.URLError, http.client.HTTPException, OSError) as error:
                reason = getattr(error, "reason", error)
                raise DownloadError(
                    f"cannot download {url} to {dest} (expected {pinned or 'sha256: not pinned'}"
                    f"): {reason}. Without network, put the published file in a directory and "
                    "set the dataset's source: path (and path: that directory)"
                ) from error
        actual, actual_md5 = digest.hexdigest(), digest_md5.hexdigest()
        if expected is None and expected_md5 is None:
            log.warning(
                "no digest pinned for %s (%s): the download is trusted as is (sha256 %s, md5 %s); "
                "to pin it, set %s: %s",
                dest,
                url,
                actual,
                actual_md5,
                pin_key,
                actual,
                extra=TERMINAL,
            )
        for name, wanted, got, key in (
            ("sha256", expected, actual, pin_key),
            ("md5", expected_md5, actual_md5, pin_key.replace(".sha256[", ".md5[")),
        ):
            if wanted is not None and got != wanted:
                raise DownloadError(
                    f"{name} mismatch for {url} -> {dest}: expected {wanted} ({key}), "
                    f"got {got}; the file was not kept"
                )
        os.replace(tmp, dest)
        log.info(
            "downloaded %s -> %s (%d bytes, sha256 %s, md5 %s%s)",
            url,
            dest,
            dest.stat().st_size,
            actual,
            actual_md5,
            f"; checked against the pinned {pinned}" if pinned else "",
        )
        return actual
    finally:
        tmp.unlink(missing_ok=True)
