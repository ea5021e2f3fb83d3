"""Jet images and particle-flow inputs: invariants and a per-jet brute-force reference."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hepml.jets import preprocess as pp


def massless(pt, eta, phi) -> np.ndarray:
    """(..., 4) [E, px, py, pz] of massless vectors."""
    pt, eta, phi = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (pt, eta, phi)))
    return np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)


def random_jets(seed: int, n: int = 20, m: int = 40, spread: float = 0.25, pad: int = 10):
    """n jets of m constituents around random axes (|eta| < 2), then `pad` zero rows."""
    rng = np.random.default_rng(seed)
    pt = rng.exponential(10.0, size=(n, m))
    eta = rng.uniform(-2, 2, size=(n, 1)) + rng.normal(0, spread, size=(n, m))
    phi = rng.uniform(-np.pi, np.pi, size=(n, 1)) + rng.normal(0, spread, size=(n, m))
    jets = massless(pt, eta, phi)
    return np.concatenate([jets, np.zeros((n, pad, 4))], axis=1)


# ------------------------------------------------------------------ brute-force reference
def reference_image(jet: np.ndarray) -> np.ndarray:
    """One jet's image, step by step with loops and np.linalg.eigh (module docstring)."""
    rows = []
    for _e, px, py, pz in jet:
        pt = math.hypot(px, py)
        if pt > 0:
            rows.append((pt, math.asinh(pz / pt), math.atan2(py, px)))
    pt = np.array([r[0] for r in rows])
    eta = np.array([r[1] for r in rows])
    phi = np.array([r[2] for r in rows])
    hardest = int(np.argmax(pt))
    dphi = np.array([math.remainder(p - phi[hardest], 2 * math.pi) for p in phi])
    x = eta - np.sum(pt * eta) / pt.sum()
    y = dphi - np.sum(pt * dphi) / pt.sum()
    moments = np.array(
        [[np.sum(pt * x * x), np.sum(pt * x * y)], [np.sum(pt * x * y), np.sum(pt * y * y)]]
    )
    _, vectors = np.linalg.eigh(moments)
    major = vectors[:, 1]  # largest eigenvalue last
    # rotate the major axis onto +y: new y = component along major, new x = along the normal
    normal = np.array([major[1], -major[0]])
    xr = x * normal[0] + y * normal[1]
    yr = x * major[0] + y * major[1]
    if pt[xr > 0].sum() > pt[xr < 0].sum():
        xr = -xr
    if pt[yr < 0].sum() > pt[yr > 0].sum():
        yr = -yr
    image = np.zeros((40, 40))
    for weight, a, b in zip(pt, xr, yr, strict=True):
        column = math.floor((a + 0.58) / 0.029)
        row = math.floor((b + 0.70) / 0.035)
        if 0 <= column < 40 and 0 <= row < 40:
            image[row, column] += weight
    return image / image.sum()


def test_images_match_the_reference():
    jets = random_jets(1)
    images = pp.jet_images(jets)
    assert images.shape == (20, 40, 40) and images.dtype == np.float32
    for jet, image in zip(jets, images, strict=True):
        np.testing.assert_allclose(image, reference_image(jet), atol=1e-6)


# ---------------------------------------------------------------------------- invariants
def test_kinematics_round_trip():
    pt, eta, phi = np.array([[5.0, 0.0]]), np.array([[1.3, 0.0]]), np.array([[-2.9, 0.0]])
    jets = massless(pt, eta, phi)
    jets[:, 1] = 0.0  # padding row
    got = pp.kinematics(jets)
    np.testing.assert_allclose([g[0, 0] for g in got], [5.0, 1.3, -2.9])
    assert [g[0, 1] for g in got] == [0.0, 0.0, 0.0]
    np.testing.assert_allclose(pp.jet_four_momentum(jets), jets[:, 0])


def test_wrap_phi():
    np.testing.assert_allclose(
        pp.wrap_phi([3.5, -3.5, 0.1, 2 * np.pi]), [3.5 - 2 * np.pi, 2 * np.pi - 3.5, 0.1, 0.0]
    )
    assert np.all(np.abs(pp.wrap_phi(np.linspace(-20, 20, 101))) <= np.pi)


def test_centroid_at_the_centre():
    pt, x, y = pp.aligned_coordinates(random_jets(2))
    np.testing.assert_allclose((pt * x).sum(axis=1), 0.0, atol=1e-9)
    np.testing.assert_allclose((pt * y).sum(axis=1), 0.0, atol=1e-9)
    # A single constituent sits at its own centroid: the corner pixel (20, 20).
    image = pp.jet_images(massless([[300.0]], [[0.7]], [[-1.1]]))
    assert image[0, 20, 20] == 1.0 and image.sum() == 1.0
    # Narrow jets: the pT-weighted mean pixel position is the centre, within a pixel.
    narrow = pp.jet_images(random_jets(3, spread=0.05))
    centres_eta = (np.arange(40) - 19.5) * pp.PIXEL_ETA
    centres_phi = (np.arange(40) - 19.5) * pp.PIXEL_PHI
    mean_eta = (narrow.sum(axis=1) * centres_eta).sum(axis=1)
    mean_phi = (narrow.sum(axis=2) * centres_phi).sum(axis=1)
    assert np.all(np.abs(mean_eta) < pp.PIXEL_ETA) and np.all(np.abs(mean_phi) < pp.PIXEL_PHI)


@pytest.mark.parametrize("angle", [0.0, 0.5, 1.2, -0.9, np.pi / 2])
def test_rotation_puts_the_principal_axis_vertical(angle):
    """Constituents on a line at `angle` in (eta, phi) end up on the phi' axis."""
    t = np.linspace(-0.3, 0.5, 9)
    pt = np.array([[5, 1, 8, 2, 9, 3, 4, 7, 6]], dtype=float)
    jets = massless(pt, 0.4 + t * np.cos(angle), 1.0 + t * np.sin(angle))
    _, x, y = pp.aligned_coordinates(jets)
    np.testing.assert_allclose(x, 0.0, atol=1e-12)
    assert np.ptp(y) == pytest.approx(0.8)
    # and the vectorised angle agrees with an eigen-decomposition
    pt2, x2, y2 = pp._centred_coordinates(random_jets(4))
    for w, a, b, got in zip(pt2, x2, y2, pp.principal_angle(pt2, x2, y2), strict=True):
        moments = np.cov(np.stack([a, b]), aweights=w, bias=True)
        major = np.linalg.eigh(moments)[1][:, 1]
        assert abs(math.sin(got - math.atan2(major[1], major[0]))) < 1e-9


def test_flip_puts_the_harder_half_left_and_up():
    pt, x, y = pp.aligned_coordinates(random_jets(5))
    assert np.all((pt * (x < 0)).sum(axis=1) >= (pt * (x > 0)).sum(axis=1))
    assert np.all((pt * (y > 0)).sum(axis=1) >= (pt * (y < 0)).sum(axis=1))
    images = pp.jet_images(random_jets(5, spread=0.1))
    assert np.all(images[:, :, :20].sum(axis=(1, 2)) >= images[:, :, 20:].sum(axis=(1, 2)))
    assert np.all(images[:, 20:, :].sum(axis=(1, 2)) >= images[:, :20, :].sum(axis=(1, 2)))


def test_normalisation_and_empty_jets():
    images = pp.jet_images(random_jets(6))
    np.testing.assert_allclose(images.sum(axis=(1, 2)), 1.0, rtol=1e-6)
    raw = pp.jet_images(random_jets(6), normalise=False)
    assert raw.sum(axis=(1, 2)).max() > 10.0
    empty = pp.jet_images(np.zeros((2, 5, 4)))
    assert not empty.any()


def test_wrapping_across_pi_and_invariances():
    """Turning a jet about the beam (across phi = +-pi) or boosting it along the beam leaves
    its image unchanged."""
    jets = random_jets(8, spread=0.2)
    pt, eta, phi = pp.kinematics(jets)
    real = pt > 0
    reference = pp.jet_images(jets)
    jet_phi = pp.jet_kinematics(jets)[2]
    turned = massless(pt, eta, np.where(real, phi + (np.pi - jet_phi[:, None]), 0.0))
    turned[~real] = 0.0
    assert np.any(np.abs(pp.kinematics(turned)[2][real]) > 3.0)  # the jets straddle +-pi
    np.testing.assert_allclose(pp.jet_images(turned), reference, atol=1e-6)
    boosted = massless(pt, eta + 0.37, phi)
    boosted[~real] = 0.0
    np.testing.assert_allclose(pp.jet_images(boosted), reference, atol=1e-6)


def test_particle_inputs():
    jets = random_jets(9)
    inputs = pp.particle_inputs(jets)
    assert inputs.shape == (20, 50, 3)
    assert not inputs[:, 40:].any()
    jet = jets[0].sum(axis=0)
    jet_pt = math.hypot(jet[1], jet[2])
    jet_eta, jet_phi = math.asinh(jet[3] / jet_pt), math.atan2(jet[2], jet[1])
    for i, (_e, px, py, pz) in enumerate(jets[0, :40]):
        pt = math.hypot(px, py)
        expected = (
            pt / jet_pt,
            math.asinh(pz / pt) - jet_eta,
            math.remainder(math.atan2(py, px) - jet_phi, 2 * math.pi),
        )
        np.testing.assert_allclose(inputs[0, i], expected, atol=1e-12)
    # the scalar pT sum is at least the jet pT
    assert np.all(inputs[..., 0].sum(axis=1) >= 1.0)
    # phi differences are wrapped: a jet on the phi = pi line
    edge = massless([[50.0, 40.0]], [[0.0, 0.1]], [[np.pi - 0.05, -np.pi + 0.05]])
    dphi = pp.particle_inputs(edge)[0, :, 2]
    assert np.all(np.abs(dphi) < 0.1)
