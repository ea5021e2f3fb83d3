"""Jet mass, N-subjettiness with exclusive-kT axes, multiplicity: hand-made jets and a
brute-force kT reclustering written out with loops (no FastJet, no contrib)."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hepml.jets import substructure as sub


def massless(pt, eta, phi) -> np.ndarray:
    pt, eta, phi = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (pt, eta, phi)))
    return np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)


# ------------------------------------------------------------------ brute-force reference
def _y_phi(v):
    e, px, py, pz = v
    pt2 = px * px + py * py
    mt = math.sqrt(pt2 + max(e * e - pt2 - pz * pz, 0.0))
    return math.asinh(pz / mt), math.atan2(py, px)


def _dr2(a, b):
    ya, pa = _y_phi(a)
    yb, pb = _y_phi(b)
    return (ya - yb) ** 2 + math.remainder(pa - pb, 2 * math.pi) ** 2


def reference_kt_axes(particles, n):
    """Exclusive kT: merge the pair of smallest min(pT_i^2, pT_j^2) dR_ij^2 (E-scheme) until
    n objects remain (no beam distance: R -> infinity)."""
    objects = [tuple(p) for p in particles]
    while len(objects) > n:
        best = None
        for i in range(len(objects)):
            for j in range(i + 1, len(objects)):
                pti2 = objects[i][1] ** 2 + objects[i][2] ** 2
                ptj2 = objects[j][1] ** 2 + objects[j][2] ** 2
                d = min(pti2, ptj2) * _dr2(objects[i], objects[j])
                if best is None or d < best[0]:
                    best = (d, i, j)
        _, i, j = best
        merged = tuple(a + b for a, b in zip(objects[i], objects[j], strict=True))
        objects = [o for k, o in enumerate(objects) if k not in (i, j)] + [merged]
    return objects


def reference_tau(particles, axes, beta=1.0, r0=0.8):
    numerator = denominator = 0.0
    for p in particles:
        pt = math.hypot(p[1], p[2])
        numerator += pt * min(math.sqrt(_dr2(p, a)) for a in axes) ** beta
        denominator += pt * r0
    return numerator / denominator


def random_jet(rng, m):
    return massless(
        rng.exponential(20.0, m), rng.normal(0.5, 0.3, m), rng.normal(3.0, 0.3, m)
    )  # phi around 3: the jets cross +-pi


@pytest.mark.parametrize("seed", range(6))
def test_taus_match_the_brute_force_reclustering(seed):
    rng = np.random.default_rng(seed)
    m = int(rng.integers(5, 16))
    jet = random_jet(rng, m)
    padded = np.concatenate([jet, np.zeros((7, 4))])[None]
    got = sub.nsubjettiness(padded)[0]
    expected = [reference_tau(jet, reference_kt_axes(jet, n)) for n in (1, 2, 3)]
    np.testing.assert_allclose(got, expected, rtol=1e-10, atol=1e-12)
    assert got[0] > got[1] > got[2] > 0


def test_axes_match_the_brute_force_reclustering():
    rng = np.random.default_rng(11)
    jet = random_jet(rng, 12)
    axes = sub.exclusive_kt_axes(jet, (1, 2, 3))
    for n in (1, 2, 3):
        expected = np.array(sorted(reference_kt_axes(jet, n), key=lambda v: v[0]))
        got = axes[n][np.argsort(axes[n][:, 0])]
        np.testing.assert_allclose(got, expected, rtol=1e-10)
    np.testing.assert_allclose(axes[1][0], jet.sum(axis=0), rtol=1e-12)


# ----------------------------------------------------------------------- hand-made jets
def test_a_single_particle_has_tau1_zero():
    jet = massless([[[250.0]]], [[[0.3]]], [[[1.0]]])[0]
    taus = sub.nsubjettiness(np.concatenate([jet, np.zeros((1, 5, 4))], axis=1))
    assert taus.tolist() == [[0.0, 0.0, 0.0]]


@pytest.mark.parametrize("prongs", [1, 2, 3])
def test_n_collinear_prongs_give_tau_n_zero(prongs):
    """Each prong: four particles with identical direction; tau_N vanishes for N = prongs and
    not for fewer axes."""
    directions = [(0.1, 0.2), (0.5, -0.2), (-0.2, 0.45)][:prongs]
    jet = np.concatenate(
        [massless([10.0, 25.0, 4.0, 7.0], [eta] * 4, [phi] * 4) for eta, phi in directions]
    )
    taus = sub.nsubjettiness(jet[None])[0]
    assert taus[prongs - 1] == pytest.approx(0.0, abs=1e-12)
    assert np.all(taus[: prongs - 1] > 0.05)


def test_two_particles_by_hand():
    """tau_1 of two massless particles: the axis is their sum (E-scheme); worked out directly."""
    a, b = massless(30.0, 0.0, 0.0), massless(10.0, 0.0, 0.4)
    axis = a + b
    y_axis = math.asinh(axis[3] / math.hypot(*axis[1:3]))  # 0 by symmetry
    phi_axis = math.atan2(axis[2], axis[1])
    expected = (30.0 * math.hypot(y_axis, phi_axis) + 10.0 * abs(0.4 - phi_axis)) / (40.0 * 0.8)
    taus = sub.nsubjettiness(np.stack([a, b])[None])[0]
    assert taus[0] == pytest.approx(expected, rel=1e-12)
    assert taus[1] == taus[2] == 0.0  # n <= N: every particle is an axis


def test_mass_and_multiplicity():
    """m^2 = 2 E1 E2 (1 - cos theta) for two massless particles."""
    a, b = massless(100.0, 0.2, 0.0), massless(50.0, -0.1, 0.3)
    cos_theta = np.dot(a[1:], b[1:]) / (a[0] * b[0])
    expected = math.sqrt(2 * a[0] * b[0] * (1 - cos_theta))
    jets = np.zeros((2, 4, 4))
    jets[0, :2] = a, b
    assert sub.jet_mass(jets).tolist() == pytest.approx([expected, 0.0])
    assert sub.n_constituents(jets).tolist() == [2, 0]


def test_features_and_the_zero_denominator_convention():
    rng = np.random.default_rng(3)
    jets = np.zeros((4, 20, 4))
    jets[0, :15] = random_jet(rng, 15)
    jets[1, :2] = random_jet(rng, 2)  # tau2 = tau3 = 0: tau21 = 0, tau32 = 0/0 -> 0
    jets[2, :1] = random_jet(rng, 1)  # tau1 = 0 too
    features, names = sub.substructure_features(jets)  # jets[3] is empty
    assert names == ("mass", "tau21", "tau32", "n_constituents")
    taus = sub.nsubjettiness(jets[:1])[0]
    np.testing.assert_allclose(
        features[0], [sub.jet_mass(jets[:1])[0], taus[1] / taus[0], taus[2] / taus[1], 15]
    )
    assert features[1, 1:].tolist() == [0.0, 0.0, 2.0]
    assert features[2, 1:].tolist() == [0.0, 0.0, 1.0]
    assert features[3].tolist() == [0.0, 0.0, 0.0, 0.0]
    assert features[1, 0] > 0
    assert sub.ratio(np.array([1.0, 0.0]), np.array([2.0, 0.0])).tolist() == [0.5, 0.0]
