"""Jet constituents to network inputs: kinematics, 40 x 40 jet images, particle-flow inputs.

Pure numpy, vectorised over jets.  Input everywhere: constituents (n, m, 4) [E, px, py, pz]
in GeV, detector frame (z along the beam), zero rows for padding (the benchmark layout,
:mod:`hepml.io.jets`, m = 200).  A row is a constituent when its pT > 0.

Jet images (:func:`jet_images`), the preprocessing of the image-based taggers of the benchmark
(arXiv:1902.09914, the CNN entry: Kasieczka, Plehn, Russell, Schell, "Deep-learning top
taggers or the end of QCD?", arXiv:1701.08784, 40 x 40 pixels) as the community tutorial code
implements it (the ``constit2img`` preprocessing of the top-tagging tutorials,
e.g. the ML4HEP-Zakopane2022 school, ``data/preprocess.py``):

1. eta, phi of every constituent; phi taken relative to the hardest constituent and wrapped
   into [-pi, pi), so jets across phi = +-pi stay in one piece;
2. centring: the pT-weighted centroid (eta_c, phi_c) moves to (0, 0);
3. rotation: the principal axis of the pT-weighted (eta, phi) distribution (the eigenvector
   of the largest eigenvalue of the pT-weighted second-moment matrix) becomes vertical,
   i.e. parallel to the phi' axis;
4. flipping: eta' -> -eta' when the pT in eta' > 0 exceeds that in eta' < 0, and
   phi' -> -phi' when the pT in phi' < 0 exceeds that in phi' > 0, so the harder half of
   the jet (in summed pT) always lies at eta' < 0 and at phi' > 0 (the tutorial's
   convention: the hardest quadrant is eta' < 0, phi' > 0);
5. pixelation: 40 x 40 pixels of 0.029 in eta' by 0.035 rad in phi' (the tutorial's grid,
   ``xpixels = arange(-2.6, 2.6, 0.029)``, ``ypixels = arange(-pi, pi, 0.035)``, cropped to
   the central 40 x 40), so the image spans eta' in [-0.58, 0.58] and phi' in
   [-0.70, 0.70]; a pixel holds the summed pT of its constituents (the tutorial's
   intensity); constituents outside are dropped;
6. normalisation: every image sums to 1 (an image with no pT inside stays zero).

The image array is (n, 40, 40) with rows phi' ascending and columns eta' ascending
(``image[:, row, column]``, the tutorial's ``z[n, phi, eta]``).  With an even number of
pixels the centroid lies on the corner shared by rows 19, 20 and columns 19, 20 (0-based);
a constituent exactly at the centroid falls into pixel (20, 20).  Differences from the
tutorial code: pixels are laid symmetrically about the centroid (the tutorial's crop of an
absolute grid puts it 0.16 pixel off in eta' and 0.26 in phi'), two constituents in one
pixel add up (the tutorial keeps the last), and a constituent is assigned to the pixel
containing it rather than to the nearest grid point.

Particle-flow inputs (:func:`particle_inputs`): (n, m, 3) [pT / jet pT, eta - eta_jet,
phi - phi_jet] with the jet axis the direction of the summed four-momentum, phi differences
wrapped into [-pi, pi), padding rows zero: the per-particle inputs of energy- and
particle-flow networks (Komiske, Metodiev, Thaler, arXiv:1810.05165, the EFN and PFN entries
of arXiv:1902.09914; they use (z, y, phi) relative to the jet, pseudorapidity here, the
benchmark's constituents being massless).
"""

from __future__ import annotations

import numpy as np

IMAGE_PIXELS = 40
PIXEL_ETA = 0.029  # tutorial grid, eta' step
PIXEL_PHI = 0.035  # tutorial grid, phi' step (radians)
HALF_ETA = IMAGE_PIXELS * PIXEL_ETA / 2  # 0.58
HALF_PHI = IMAGE_PIXELS * PIXEL_PHI / 2  # 0.70


def wrap_phi(phi: np.ndarray) -> np.ndarray:
    """Angles folded into [-pi, pi)."""
    return np.mod(np.asarray(phi) + np.pi, 2 * np.pi) - np.pi


def kinematics(constituents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pT, eta, phi), each (n, m): transverse momentum (GeV), pseudorapidity, azimuth.

    Padding rows (pT = 0) get eta = phi = 0.
    """
    c = np.asarray(constituents, dtype=np.float64)
    px, py, pz = c[..., 1], c[..., 2], c[..., 3]
    pt = np.hypot(px, py)
    real = pt > 0
    eta = np.zeros_like(pt)
    eta[real] = np.arcsinh(pz[real] / pt[real])
    phi = np.where(real, np.arctan2(py, px), 0.0)
    return pt, eta, phi


def rapidity_phi(four: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(y, phi) of four-vectors (..., 4) [E, px, py, pz]: y = asinh(pz / mT) with
    mT^2 = pT^2 + max(m^2, 0), robust for massless vectors rounded to single precision."""
    e, px, py, pz = np.moveaxis(np.asarray(four, dtype=np.float64), -1, 0)
    pt2 = px**2 + py**2
    m2 = np.maximum(e**2 - pt2 - pz**2, 0.0)
    with np.errstate(divide="ignore", invalid="ignore"):
        y = np.arcsinh(pz / np.sqrt(pt2 + m2))
    return y, np.arctan2(py, px)


def jet_four_momentum(constituents: np.ndarray) -> np.ndarray:
    """(n, 4) [E, px, py, pz] of the jets: the sum of their constituents (E-scheme)."""
    return np.asarray(constituents, dtype=np.float64).sum(axis=1)


def jet_kinematics(constituents: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(pT, eta, phi), each (n,), of the summed four-momenta; eta = phi = 0 for pT = 0."""
    return tuple(a[:, 0] for a in kinematics(jet_four_momentum(constituents)[:, None, :]))


def _centred_coordinates(constituents: np.ndarray):
    """pT (n, m) and the centred (eta, phi) of steps 1-2 of the module docstring."""
    pt, eta, phi = kinematics(constituents)
    hardest = np.argmax(pt, axis=1)
    rows = np.arange(len(pt))
    dphi = wrap_phi(phi - phi[rows, hardest][:, None])
    total = pt.sum(axis=1)
    safe = np.where(total > 0, total, 1.0)
    eta_c = (pt * eta).sum(axis=1) / safe
    phi_c = (pt * dphi).sum(axis=1) / safe
    x = np.where(pt > 0, eta - eta_c[:, None], 0.0)
    y = np.where(pt > 0, wrap_phi(dphi - phi_c[:, None]), 0.0)
    return pt, x, y


def principal_angle(pt: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n,) angle (radians, from the x axis) of the principal axis of the pT-weighted,
    centred (x, y) distribution: the major eigenvector of [[<x x>, <x y>], [<x y>, <y y>]]."""
    xx = (pt * x * x).sum(axis=1)
    yy = (pt * y * y).sum(axis=1)
    xy = (pt * x * y).sum(axis=1)
    return 0.5 * np.arctan2(2.0 * xy, xx - yy)


def aligned_coordinates(constituents: np.ndarray):
    """pT, eta', phi' (each (n, m)) after centring, rotation and flipping (steps 1-4)."""
    pt, x, y = _centred_coordinates(constituents)
    turn = np.pi / 2 - principal_angle(pt, x, y)[:, None]  # principal axis -> phi' axis
    cos, sin = np.cos(turn), np.sin(turn)
    x, y = cos * x - sin * y, sin * x + cos * y
    flip_x = (pt * (x > 0)).sum(axis=1) > (pt * (x < 0)).sum(axis=1)
    flip_y = (pt * (y < 0)).sum(axis=1) > (pt * (y > 0)).sum(axis=1)
    x = np.where(flip_x[:, None], -x, x)
    y = np.where(flip_y[:, None], -y, y)
    return pt, x, y


def pixelate(pt: np.ndarray, x: np.ndarray, y: np.ndarray) -> np.ndarray:
    """(n, 40, 40) summed pT per pixel of aligned coordinates (x = eta', y = phi'), rows
    phi' ascending; constituents outside the image are dropped."""
    n = len(pt)
    column = np.floor((x + HALF_ETA) / PIXEL_ETA).astype(np.int64)
    row = np.floor((y + HALF_PHI) / PIXEL_PHI).astype(np.int64)
    inside = (pt > 0) & (column >= 0) & (column < IMAGE_PIXELS) & (row >= 0)
    inside &= row < IMAGE_PIXELS
    jet = np.broadcast_to(np.arange(n)[:, None], pt.shape)
    flat = (jet[inside] * IMAGE_PIXELS + row[inside]) * IMAGE_PIXELS + column[inside]
    counts = np.bincount(flat, weights=pt[inside], minlength=n * IMAGE_PIXELS**2)
    return counts.astype(np.float64).reshape(n, IMAGE_PIXELS, IMAGE_PIXELS)


def jet_images(constituents: np.ndarray, normalise: bool = True) -> np.ndarray:
    """(n, 40, 40) float32 jet images of the benchmark's image taggers (module docstring):
    centred, rotated, flipped, pixel value pT, each image summing to 1 (normalise)."""
    images = pixelate(*aligned_coordinates(constituents))
    if normalise:
        total = images.sum(axis=(1, 2), keepdims=True)
        images = np.divide(images, total, out=np.zeros_like(images), where=total > 0)
    return images.astype(np.float32)


def particle_inputs(constituents: np.ndarray) -> np.ndarray:
    """(n, m, 3) [pT / jet pT, eta - eta_jet, phi - phi_jet] (module docstring); padding
    rows stay zero."""
    pt, eta, phi = kinematics(constituents)
    jet_pt, jet_eta, jet_phi = jet_kinematics(constituents)
    real = pt > 0
    safe = np.where(jet_pt > 0, jet_pt, 1.0)[:, None]
    out = np.zeros((*pt.shape, 3))
    out[..., 0] = np.where(real, pt / safe, 0.0)
    out[..., 1] = np.where(real, eta - jet_eta[:, None], 0.0)
    out[..., 2] = np.where(real, wrap_phi(phi - jet_phi[:, None]), 0.0)
    return out
