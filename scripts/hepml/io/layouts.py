"""How a published HDF5 layout is described: one :class:`PublishedLayout` per dataset kind
(``hepml.io.electrons``, ``hepml.io.muons``), a :class:`KeyLayout` per unpacked key, and the
physical bounds of its values (docs/reference.md "Physical bounds": :class:`Bound`,
:func:`physical_limits`); the seeded merge of signal and background rows
(:func:`shuffle_permutation`).
"""

from __future__ import annotations

import math
import zlib
from dataclasses import dataclass

import numpy as np

from hepml.geometry import ECAL, HCAL, MUON
from hepml.io.files import DataError

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
    # hepml.io.publish), only the scale-free checks apply there (docs/reference.md
    # "Physical bounds")
    scaled_names: tuple[str, ...] = ()


# docs/reference.md "Physical bounds": a cell holds at most one beam's energy, an image (one
# candidate, its window's deposits) at most CANDIDATE; ET <= E, so both hold for ET images.
IMAGE_BOUNDS = (
    Bound("pixel", low=0.0, high=BEAM),
    Bound("image sum", high=CANDIDATE, total=True),
)


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


def shuffle_permutation(n: int, seed: int, split: str) -> np.ndarray:
    """(n,) int64 permutation merging a split's signal and background rows (muons).

    Seeded from the config seed and the split name (CRC-32 of the name, stable across
    processes), so every key of a split is reordered identically.
    """
    rng = np.random.default_rng([int(seed), zlib.crc32(split.encode())])
    return rng.permutation(n).astype(np.int64)
