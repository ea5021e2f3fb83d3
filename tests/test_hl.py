"""The 7 HL features and the invariant mass on hand-worked images (hepml.hl)."""

import math

import numpy as np
import pytest
from hepml.geometry import ECAL, HCAL
from hepml.hl import HL_NAMES, compare_hl, compute_hl, invariant_mass, recompute_hl

C = 15  # central row / column of the 31 x 31 ECal image
D_ETA = ECAL.d_eta


def ecal(*cells, n=1):
    """(n, 31, 31) ECal image with {(row, col): value} cells (rows = phi, cols = eta)."""
    image = np.zeros((n, 31, 31))
    for (row, col), value in cells:
        image[:, row, col] = value
    return image


def hcal(total=0.0):
    image = np.zeros((1, 32, 32))
    image[0, 15:17, 15:17] = total / 4
    return image


def features(ee, ht=None, et=None):
    """HL of one event as a dict; et defaults to ee (eta = 0 for the tests' purposes)."""
    et = ee if et is None else et
    ht = hcal() if ht is None else ht
    return dict(zip(HL_NAMES, compute_hl(et, ht, ee)[0], strict=True))


def test_single_hot_cell():
    f = features(ecal(((C, C), 5.0)), ht=hcal(2.0))
    assert f["R_had"] == pytest.approx(2.0 / 5.0)
    assert f["w_eta2"] == 0.0
    assert f["R_phi"] == 1.0
    assert f["R_eta"] == 1.0
    assert f["sigma_eta_eta"] == 0.0  # the only cell is at distance 0
    assert f["iso_03"] == f["iso_04"] == 5.0


def test_w_eta2_two_cells():
    # E = 4 at eta 0 and 1 at eta +1 cell: mean = d/5, <eta^2> = d^2/5, RMS = 2d/5.
    f = features(ecal(((C, C), 4.0), ((C, C + 1), 1.0)))
    assert f["w_eta2"] == pytest.approx(0.4 * D_ETA)


def test_w_eta2_window_is_3_eta_by_5_phi():
    # Two phi rows away is inside the window (5 phi) and adds no eta spread ...
    assert features(ecal(((C, C), 4.0), ((C + 2, C), 1.0)))["w_eta2"] == pytest.approx(0.0)
    # ... two columns (eta) away is outside it (3 eta): still no spread.
    assert features(ecal(((C, C), 4.0), ((C, C + 2), 1.0)))["w_eta2"] == 0.0
    # (phi +2, eta -1) is inside: same RMS as eta +1 in the central row.
    f = features(ecal(((C, C), 4.0), ((C + 2, C - 1), 1.0)))
    assert f["w_eta2"] == pytest.approx(0.4 * D_ETA)


def test_r_eta_and_r_phi_orientation():
    """3 eta x 7 phi really spans 3 columns (eta) and 7 rows (phi): fails if swapped."""
    two_in_eta = features(ecal(((C, C), 3.0), ((C, C + 2), 1.0)))
    assert two_in_eta["R_eta"] == pytest.approx(3.0 / 4.0)  # outside 3 eta, inside 7 eta
    assert two_in_eta["R_phi"] == 1.0  # not in the 3-eta windows at all
    two_in_phi = features(ecal(((C, C), 3.0), ((C + 2, C), 1.0)))
    assert two_in_phi["R_eta"] == 1.0  # inside 3 eta x 7 phi
    assert two_in_phi["R_phi"] == pytest.approx(3.0 / 4.0)  # outside 3 phi, inside 7 phi
    # Three rows (phi) away: still inside 7 phi; four: outside everything.
    assert features(ecal(((C, C), 3.0), ((C - 3, C), 1.0)))["R_phi"] == pytest.approx(0.75)
    assert features(ecal(((C, C), 3.0), ((C - 4, C), 1.0)))["R_phi"] == 1.0


def test_sigma_eta_eta_log_weights():
    # w = |ln E|: E = e at the centre (w 1), E = e^2 one column away (w 2), E = 1 (w 0) two
    # columns away: sqrt((1 * 0 + 2 * 1 + 0 * 4) / 3).
    cells = ((C, C), math.e), ((C + 1, C + 1), math.e**2), ((C, C - 2), 1.0)
    assert features(ecal(*cells))["sigma_eta_eta"] == pytest.approx(math.sqrt(2.0 / 3.0))
    # A cell two rows (phi) away at the same column adds weight at distance 0.
    cells = ((C, C + 2), math.e), ((C - 2, C), math.e)
    assert features(ecal(*cells))["sigma_eta_eta"] == pytest.approx(math.sqrt(4.0 / 2.0))
    # Outside the 5 x 5 window: ignored.
    assert features(ecal(((C, C), math.e), ((C, C + 3), math.e)))["sigma_eta_eta"] == 0.0


def test_isolation_cones():
    # 11 cells in eta = 0.275 (< 0.3); 13 cells = 0.325 (in 0.4 only); the corner ~0.53: none.
    cells = ((C, C), 10.0), ((C, C + 11), 1.0), ((C, C - 13), 2.0), ((0, 0), 4.0)
    f = features(ecal(*cells))
    assert f["iso_03"] == pytest.approx(11.0)
    assert f["iso_04"] == pytest.approx(13.0)
    # Along phi the pixel pitch differs (pi/126): 12 rows = 0.299 < 0.3.
    assert 12 * ECAL.d_phi < 0.3
    assert features(ecal(((C + 12, C), 1.0)))["iso_03"] == pytest.approx(1.0)


def test_energy_image_versus_et_image():
    """R_had uses the ET images, the other features the energy image ee."""
    et = ecal(((C, C), 2.0))
    ee = ecal(((C, C), 6.0), ((C, C + 13), 1.0))
    f = features(ee, ht=hcal(1.0), et=et)
    assert f["R_had"] == pytest.approx(0.5)
    assert f["iso_04"] == pytest.approx(7.0)


def test_zero_denominators_are_zero_and_finite():
    empty = compute_hl(np.zeros((2, 31, 31)), np.zeros((2, 32, 32)), np.zeros((2, 31, 31)))
    assert empty.shape == (2, 7)
    assert np.all(empty == 0.0)
    # HCal energy but no ECal energy: R_had defined as 0, not inf.
    f = features(ecal(), ht=hcal(3.0))
    assert f["R_had"] == 0.0
    # Energy only outside the 7 x 7 window: R_eta and R_phi are 0, w_eta2 and sigma 0.
    f = features(ecal(((C, C + 5), 2.0)))
    assert (f["R_eta"], f["R_phi"], f["w_eta2"], f["sigma_eta_eta"]) == (0, 0, 0, 0)
    # Every weight |ln 1| = 0: sigma_eta_eta is 0.
    assert features(ecal(((C, C + 1), 1.0)))["sigma_eta_eta"] == 0.0


def brute_force_hl(et, ht, ee):
    """Nested loops over cells, straight from docs/reference.md, for one event (31 x 31 arrays)."""
    deta = lambda col: (col - C) * ECAL.d_eta  # noqa: E731
    dphi = lambda row: (row - C) * ECAL.d_phi  # noqa: E731
    r_had = ht.sum() / et.sum()

    def window(n_eta, n_phi):
        return [
            (row, col)
            for row in range(C - n_phi // 2, C + n_phi // 2 + 1)
            for col in range(C - n_eta // 2, C + n_eta // 2 + 1)
        ]

    def energy(cells):
        return sum(ee[row, col] for row, col in cells)

    cells = window(3, 5)
    total = energy(cells)
    mean = sum(ee[r, c] * deta(c) for r, c in cells) / total
    var = sum(ee[r, c] * (deta(c) - mean) ** 2 for r, c in cells) / total
    num = den = 0.0
    for row, col in window(5, 5):
        if ee[row, col] > 0:
            w = abs(math.log(ee[row, col]))
            num += w * (col - C) ** 2
            den += w
    iso = [
        sum(
            ee[row, col]
            for row in range(31)
            for col in range(31)
            if math.hypot(deta(col), dphi(row)) < radius
        )
        for radius in (0.3, 0.4)
    ]
    return [
        r_had,
        math.sqrt(var),
        energy(window(3, 3)) / energy(window(3, 7)),
        energy(window(3, 7)) / energy(window(7, 7)),
        math.sqrt(num / den),
        *iso,
    ]


def test_against_brute_force_on_random_sparse_images():
    rng = np.random.default_rng(3)
    n = 4
    et = np.zeros((n, 31, 31))
    for i in range(n):
        rows = rng.integers(0, 31, 40)
        cols = rng.integers(0, 31, 40)
        et[i, rows, cols] = rng.exponential(2.0, 40)
        et[i, C - 1 : C + 2, C - 1 : C + 2] += rng.exponential(5.0, (3, 3))
    ee = et * np.cosh(0.7 + ECAL.eta_centres())[None, None, :]
    ht = rng.exponential(0.1, (n, 32, 32))
    fast = compute_hl(et[..., None], ht[..., None], ee[..., None])  # with the channel axis
    for i in range(n):
        np.testing.assert_allclose(fast[i], brute_force_hl(et[i], ht[i], ee[i]), rtol=1e-12)


def test_recompute_in_chunks_and_compare_with_the_published_features():
    """recompute_hl streams compute_hl over chunks (same values); compare_hl reports zero
    deviation for equal features and counts non-finite recomputed values apart."""
    rng = np.random.default_rng(5)
    et = rng.exponential(1.0, (7, 31, 31, 1))
    ee = et * 2.0
    ht = rng.exponential(0.1, (7, 32, 32, 1))
    chunks = list(recompute_hl(et, ht, ee, chunk_events=3))
    assert [len(chunk) for chunk in chunks] == [3, 3, 1]
    whole = compute_hl(et, ht, ee)
    np.testing.assert_array_equal(np.concatenate(chunks), whole)
    same = compare_hl(whole, whole.copy())
    assert same["n_events"] == 7 and set(same["features"]) == set(HL_NAMES)
    assert all(f["max_relative_deviation"] == 0.0 for f in same["features"].values())
    off = whole.copy()
    off[0, 0] = np.inf
    off[2, 0] = np.nan  # counted as non-finite, never as agreement
    off[1, 1] *= 1.5
    report = compare_hl(whole, off)["features"]
    assert report["R_had"]["n_non_finite"] == 2
    assert report["w_eta2"]["max_relative_deviation"] == pytest.approx(1 / 3)
    with pytest.raises(ValueError, match="published"):
        compare_hl(whole, whole[:, :6])


def test_channel_axis_optional_and_shape_errors():
    ee = ecal(((C, C), 3.0), ((C + 1, C), 1.0), n=3)
    ht = np.zeros((3, 32, 32))
    np.testing.assert_array_equal(
        compute_hl(ee, ht, ee), compute_hl(ee[..., None], ht[..., None], ee[..., None])
    )
    with pytest.raises(ValueError, match="ht: expected shape"):
        compute_hl(ee, np.zeros((3, 31, 31)), ee)
    with pytest.raises(ValueError, match="different numbers of events"):
        compute_hl(ee, ht[:2], ee)


def test_invariant_mass_two_cells():
    # Two pixels of ET = 5 at eta -+k cells, same phi, candidate eta 0: M = 2 ET sinh(k d).
    k = 4
    et = ecal(((C, C - k), 5.0), ((C, C + k), 5.0))
    mass = invariant_mass(et, np.zeros((1, 32, 32)), np.array([0.0]))
    assert mass[0] == pytest.approx(2 * 5.0 * math.sinh(k * D_ETA))
    # Boost invariance along the beam: the candidate's own eta does not change the mass.
    boosted = invariant_mass(et[..., None], np.zeros((1, 32, 32, 1)), np.array([1.7]))
    assert boosted[0] == pytest.approx(mass[0])


def test_invariant_mass_single_deposit_and_hcal_pixels():
    et = ecal(((C, C), 7.0))
    assert invariant_mass(et, np.zeros((1, 32, 32)), np.array([0.3]))[0] == pytest.approx(
        0, abs=1e-6
    )
    # One ECal pixel at the centre and one HCal pixel near the top edge: the mass of two
    # massless four-vectors (E, px, py, pz) = ET (cosh eta, cos phi, sin phi, sinh eta).
    ht = np.zeros((1, 32, 32))
    ht[0, 3, 15] = 2.0
    eta_h, phi_h = HCAL.eta_centres()[15], HCAL.phi_centres()[3]
    assert phi_h == pytest.approx(12.5 * HCAL.d_phi)  # phi descending: row 3 is above centre
    cand_eta = 0.4
    total = np.array([7 * math.cosh(cand_eta), 7.0, 0.0, 7 * math.sinh(cand_eta)])
    eta = cand_eta + eta_h
    total += 2 * np.array([math.cosh(eta), math.cos(phi_h), math.sin(phi_h), math.sinh(eta)])
    expected = math.sqrt(total[0] ** 2 - (total[1:] ** 2).sum())
    got = invariant_mass(et, ht, np.array([cand_eta]))[0]
    assert got == pytest.approx(expected, rel=1e-9)


def test_invariant_mass_checks_lengths():
    with pytest.raises(ValueError, match="candidate eta"):
        invariant_mass(np.zeros((2, 31, 31)), np.zeros((2, 32, 32)), np.zeros(3))
