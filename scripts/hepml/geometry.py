"""Calorimeter image geometry: the one place that defines pixel sizes, orientation and centres.

Published arrays are read as (N, phi, eta, 1): rows run in phi, columns in eta
(docs/reference.md, "Image geometry"). The authors' image maker wrote phi *descending* down the
rows and eta ascending along a row; ``phi_descending`` records that choice so that it can be
flipped in one place if a file turns out to be written the other way.

Coordinates are pixel CENTRES relative to the image centre (the candidate), in units of
eta and radians of phi.  (The authors' EFP code used ``linspace`` between the edges, which
stretches the grid by about 3 %; this module does not.)
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class ImageGeometry:
    """A rectangular calorimeter image.

    n_phi, n_eta: pixels along rows (phi) and columns (eta).
    d_eta, d_phi: pixel size in eta and in phi (radians).
    phi_descending: True when row 0 holds the largest phi (the published convention).
    """

    name: str
    n_phi: int
    n_eta: int
    d_eta: float
    d_phi: float
    phi_descending: bool = True

    @property
    def shape(self) -> tuple[int, int]:
        """Image shape (n_phi, n_eta), as stored without the channel axis."""
        return (self.n_phi, self.n_eta)

    @property
    def centre(self) -> tuple[float, float]:
        """Fractional (row, column) index of the image centre: 15.0 for 31 pixels, 15.5 for 32."""
        return ((self.n_phi - 1) / 2.0, (self.n_eta - 1) / 2.0)

    @property
    def centre_pixel(self) -> tuple[int, int]:
        """Integer (row, column) of the central pixel (for odd sizes the true centre)."""
        return (self.n_phi // 2, self.n_eta // 2)

    def eta_centres(self) -> np.ndarray:
        """(n_eta,) eta of each column centre, ascending, relative to the image centre."""
        return (np.arange(self.n_eta) - self.centre[1]) * self.d_eta

    def phi_centres(self) -> np.ndarray:
        """(n_phi,) phi of each row centre relative to the image centre (descending: published)."""
        offsets = (np.arange(self.n_phi) - self.centre[0]) * self.d_phi
        return -offsets if self.phi_descending else offsets

    def pixel_coordinates(self) -> tuple[np.ndarray, np.ndarray]:
        """(eta, phi) arrays of shape (n_phi, n_eta): the centre of every pixel."""
        eta, phi = np.meshgrid(self.eta_centres(), self.phi_centres(), indexing="xy")
        return eta, phi

    def delta_r(self) -> np.ndarray:
        """(n_phi, n_eta) distance Delta R of each pixel centre from the image centre."""
        eta, phi = self.pixel_coordinates()
        return np.hypot(eta, phi)

    def index_of(self, eta: np.ndarray, phi: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Pixel (row, column) containing the point (eta, phi); may fall outside the image."""
        col = np.floor(np.asarray(eta) / self.d_eta + self.centre[1] + 0.5).astype(int)
        sign = -1.0 if self.phi_descending else 1.0
        row = np.floor(sign * np.asarray(phi) / self.d_phi + self.centre[0] + 0.5).astype(int)
        return row, col


# Electron paper (docs/reference.md 1, "Image geometry").
ECAL = ImageGeometry("ecal", n_phi=31, n_eta=31, d_eta=0.025, d_phi=math.pi / 126)
HCAL_CELL_ETA = 0.1
HCAL_CELL_PHI = math.pi / 31
HCAL_UPSAMPLE = 4  # each 0.1 x pi/31 HCal cell becomes 4 x 4 pixels holding 1/16 of its value
HCAL = ImageGeometry(
    "hcal",
    n_phi=32,
    n_eta=32,
    d_eta=HCAL_CELL_ETA / HCAL_UPSAMPLE,
    d_phi=HCAL_CELL_PHI / HCAL_UPSAMPLE,
)
# Muon paper (docs/reference.md 2): 32 x 32 pixels of 0.025, a 0.8 x 0.8 window on the muon.
MUON = ImageGeometry("muon", n_phi=32, n_eta=32, d_eta=0.025, d_phi=0.025)

# Top tagging (docs/jets.md): 40 x 40 pixels of 0.029 in eta' by 0.035 rad in phi' around the
# jet's pT centroid after rotation and flipping (hepml.jets.preprocess), rows phi' ascending.
JET = ImageGeometry("jet", n_phi=40, n_eta=40, d_eta=0.029, d_phi=0.035, phi_descending=False)

GEOMETRIES = {"et": ECAL, "ee": ECAL, "ht": HCAL, "he": HCAL, "images": MUON, "jet": JET}
# Keys whose per-event arrays are (particles, features) lists, not images: the jet
# constituents (pT / pT_jet, Delta eta, Delta phi), zero-padded (hepml.jets.preprocess).
PARTICLE_KEYS = ("constituents",)


def geometry_for(key: str) -> ImageGeometry:
    """The geometry of an image key ('et', 'ee', 'ht', 'he', 'images', 'jet'); KeyError
    names the key."""
    try:
        return GEOMETRIES[key]
    except KeyError:
        raise KeyError(f"no image geometry for key {key!r}; known: {sorted(GEOMETRIES)}") from None
