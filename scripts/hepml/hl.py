"""The 7 high-level (HL) electron features and the invariant mass of the calorimeter deposits.

Definitions follow docs/reference.md section 1, "The 7 high-level features", in file order:

==  ==============  ==========================================================================
 0  R_had           sum of HCal image ET / sum of ECal image ET
 1  w_eta2          energy-weighted RMS of eta over a 3 (eta) x 5 (phi) ECal window
 2  R_phi           E(3 eta x 3 phi) / E(3 eta x 7 phi)
 3  R_eta           E(3 eta x 7 phi) / E(7 eta x 7 phi)
 4  sigma_eta_eta   sqrt(sum w (i_eta - i_c)^2 / sum w) over 5 x 5 cells, w = |ln E|, zero skipped
 5  iso_03          sum of ECal cell energy with Delta R < 0.3 of the centre
 6  iso_04          the same with Delta R < 0.4 (corners clipped by the image edge)
==  ==============  ==========================================================================

R_had uses the ET images; the six others use the ECal energy image ``ee`` (E = ET cosh eta),
as the authors did.  Every window is centred on the image centre (pixel 15 of 0..30) and
oriented by :data:`hepml.geometry.ECAL`: arrays are (N, phi, eta), so an "a eta x b phi"
window spans ``b`` rows and ``a`` columns.

Zero denominators (an empty window or image) give 0 for every feature, never NaN or inf:
R_had = 0 when the ECal image is empty, R_phi = R_eta = 0 when their denominator window is
empty, w_eta2 = 0 when its window is empty, sigma_eta_eta = 0 when the 5 x 5 window has no
non-zero cell or every weight |ln E| is 0 (all cells at exactly 1 GeV).

`recompute_hl` and `compare_hl` check a file's own hl against these definitions (rule
recompute_hl, ``hepml.steps.data``).
"""

from __future__ import annotations

from collections.abc import Iterator

import numpy as np

from hepml.geometry import ECAL, HCAL, ImageGeometry

HL_NAMES = ("R_had", "w_eta2", "R_phi", "R_eta", "sigma_eta_eta", "iso_03", "iso_04")
ISOLATION_RADII = (0.3, 0.4)


def _as_images(images: np.ndarray, geometry: ImageGeometry, name: str) -> np.ndarray:
    """(N, n_phi, n_eta) float64 view of images given with or without the trailing channel axis."""
    array = np.asarray(images, dtype=np.float64)
    if array.ndim == 4 and array.shape[-1] == 1:
        array = array[..., 0]
    if array.ndim != 3 or array.shape[1:] != geometry.shape:
        raise ValueError(
            f"{name}: expected shape (N, {geometry.n_phi}, {geometry.n_eta}[, 1]), "
            f"got {np.shape(images)}"
        )
    return array


def _window(images: np.ndarray, n_eta: int, n_phi: int) -> np.ndarray:
    """(N, n_phi, n_eta) block of ECal images centred on the central pixel (odd sizes only)."""
    row, col = ECAL.centre_pixel
    half_phi, half_eta = n_phi // 2, n_eta // 2
    return images[:, row - half_phi : row + half_phi + 1, col - half_eta : col + half_eta + 1]


def _ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0."""
    safe = np.where(denominator > 0, denominator, 1.0)
    return np.where(denominator > 0, numerator / safe, 0.0)


def window_sum(images: np.ndarray, n_eta: int, n_phi: int) -> np.ndarray:
    """(N,) sum over an n_eta x n_phi window at the image centre of (N, 31, 31[, 1]) ECal images."""
    return _window(_as_images(images, ECAL, "images"), n_eta, n_phi).sum(axis=(1, 2))


def compute_hl(et: np.ndarray, ht: np.ndarray, ee: np.ndarray) -> np.ndarray:
    """The 7 HL features, in file order (:data:`HL_NAMES`).

    et: (N, 31, 31[, 1]) ECal ET image in GeV; ht: (N, 32, 32[, 1]) HCal ET image in GeV;
    ee: (N, 31, 31[, 1]) ECal energy image in GeV.  Returns (N, 7) float64: R_had, R_phi,
    R_eta dimensionless, w_eta2 in units of eta, sigma_eta_eta in ECal cells, iso_03 and
    iso_04 in GeV.  Zero denominators give 0 (module docstring).
    """
    et = _as_images(et, ECAL, "et")
    ht = _as_images(ht, HCAL, "ht")
    ee = _as_images(ee, ECAL, "ee")
    if not len(et) == len(ht) == len(ee):
        raise ValueError(f"et, ht, ee: different numbers of events {len(et)}, {len(ht)}, {len(ee)}")

    r_had = _ratio(ht.sum(axis=(1, 2)), et.sum(axis=(1, 2)))

    # w_eta2: energy-weighted RMS of eta over 3 eta x 5 phi, eta of the column centres.
    block = _window(ee, n_eta=3, n_phi=5)
    col = ECAL.centre_pixel[1]
    eta = ECAL.eta_centres()[col - 1 : col + 2]
    total = block.sum(axis=(1, 2))
    mean = _ratio(np.einsum("npe,e->n", block, eta), total)
    mean_sq = _ratio(np.einsum("npe,e->n", block, eta**2), total)
    w_eta2 = np.sqrt(np.clip(mean_sq - mean**2, 0.0, None))

    e_3x3 = _window(ee, n_eta=3, n_phi=3).sum(axis=(1, 2))
    e_3x7 = _window(ee, n_eta=3, n_phi=7).sum(axis=(1, 2))
    e_7x7 = _window(ee, n_eta=7, n_phi=7).sum(axis=(1, 2))
    r_phi = _ratio(e_3x3, e_3x7)
    r_eta = _ratio(e_3x7, e_7x7)

    # sigma_eta_eta: weights |ln E| on the non-zero cells of the 5 x 5 window, distance from the
    # central column in cell units.
    block = _window(ee, n_eta=5, n_phi=5)
    positive = block > 0
    weights = np.where(positive, np.abs(np.log(np.where(positive, block, 1.0))), 0.0)
    d_col = np.arange(-2, 3, dtype=np.float64)
    sigma_eta_eta = np.sqrt(
        _ratio(np.einsum("npe,e->n", weights, d_col**2), weights.sum(axis=(1, 2)))
    )

    delta_r = ECAL.delta_r()
    iso = [
        np.einsum("npe,pe->n", ee, (delta_r < radius).astype(np.float64))
        for radius in ISOLATION_RADII
    ]

    return np.stack([r_had, w_eta2, r_phi, r_eta, sigma_eta_eta, iso[0], iso[1]], axis=1)


def invariant_mass(et: np.ndarray, ht: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Invariant mass of all calorimeter deposits (the ``mass`` key, "M_jet"), in GeV.

    Every non-zero ECal and HCal pixel is treated as a massless particle at its pixel centre
    (:mod:`hepml.geometry`), with transverse momentum equal to its ET, pseudorapidity
    ``eta + (pixel eta offset)`` and azimuth the pixel phi offset (the candidate's own phi
    drops out of a mass).  M = sqrt(max(0, (sum E)^2 - |sum p|^2)) with E = ET cosh(eta_pixel).

    et: (N, 31, 31[, 1]) ECal ET in GeV; ht: (N, 32, 32[, 1]) HCal ET in GeV (the upsampled
    pixels, each 1/16 of its cell); eta: (N,) absolute pseudorapidity of the image centre.
    Returns (N,) float64.
    """
    eta = np.asarray(eta, dtype=np.float64).reshape(-1)
    totals = np.zeros((len(eta), 4))
    for images, geometry, name in ((et, ECAL, "et"), (ht, HCAL, "ht")):
        images = _as_images(images, geometry, name)
        if len(images) != len(eta):
            raise ValueError(f"{name}: {len(images)} events but {len(eta)} candidate eta values")
        d_eta, phi = geometry.pixel_coordinates()
        flat = images.reshape(len(images), -1)
        pixel_eta = eta[:, None] + d_eta.reshape(1, -1)
        phi = phi.reshape(-1)
        totals[:, 0] += (flat * np.cosh(pixel_eta)).sum(axis=1)
        totals[:, 1] += flat @ np.cos(phi)
        totals[:, 2] += flat @ np.sin(phi)
        totals[:, 3] += (flat * np.sinh(pixel_eta)).sum(axis=1)
    mass_sq = totals[:, 0] ** 2 - (totals[:, 1:] ** 2).sum(axis=1)
    return np.sqrt(np.clip(mass_sq, 0.0, None))


# The cross-check of the published HL features (rule recompute_hl): recomputed from the images
# in chunks of events, compared feature by feature.
CHUNK_EVENTS = 4096


def recompute_hl(
    et: np.ndarray, ht: np.ndarray, ee: np.ndarray, chunk_events: int = CHUNK_EVENTS
) -> Iterator[np.ndarray]:
    """:func:`compute_hl` over chunks of events: yields (k, 7) float64 blocks.

    et, ee: (N, 31, 31, 1) ECal ET and E images in GeV; ht: (N, 32, 32, 1) HCal ET in GeV.
    """
    for start in range(0, len(et), chunk_events):
        stop = start + chunk_events
        yield compute_hl(et[start:stop], ht[start:stop], ee[start:stop])


def relative_deviation(recomputed: np.ndarray, published: np.ndarray) -> np.ndarray:
    """|r - p| / max(|r|, |p|), element-wise: 0 where both are 0, in [0, 2] otherwise, NaN
    where either value is not finite (so that compare_hl counts it instead of calling it 0)."""
    recomputed = np.asarray(recomputed, dtype=np.float64)
    published = np.asarray(published, dtype=np.float64)
    scale = np.maximum(np.abs(recomputed), np.abs(published))
    with np.errstate(invalid="ignore", divide="ignore"):
        deviation = np.where(scale > 0, np.abs(recomputed - published) / scale, 0.0)
    return np.where(np.isfinite(recomputed) & np.isfinite(published), deviation, np.nan)


def compare_hl(published: np.ndarray, recomputed: np.ndarray) -> dict:
    """Per HL feature: median, 99 % quantile and max relative deviation, fraction within 1e-3.

    published, recomputed: (N, 7) in file order (:data:`HL_NAMES`).  Non-finite
    recomputed values are counted, not compared.
    """
    if published.shape != recomputed.shape:
        raise ValueError(f"hl: published {published.shape} vs recomputed {recomputed.shape}")
    result = {"n_events": int(len(published)), "features": {}}
    for index, name in enumerate(HL_NAMES):
        deviation = relative_deviation(recomputed[:, index], published[:, index])
        finite = np.isfinite(deviation)
        good = deviation[finite]
        result["features"][name] = {
            "median_relative_deviation": float(np.median(good)) if good.size else None,
            "q99_relative_deviation": float(np.quantile(good, 0.99)) if good.size else None,
            "max_relative_deviation": float(good.max()) if good.size else None,
            "fraction_within_1e-3": float(np.mean(good <= 1e-3)) if good.size else None,
            "n_non_finite": int((~finite).sum()),
        }
    return result
