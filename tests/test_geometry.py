"""Geometry: pixel centres, orientation and HCal upsampling (docs/reference.md "Image geometry")."""

import math

import numpy as np
import pytest
from hepml.geometry import ECAL, HCAL, MUON, geometry_for


def test_ecal_centres_are_symmetric_cell_centres():
    eta = ECAL.eta_centres()
    assert eta.shape == (31,)
    assert eta[15] == 0.0
    np.testing.assert_allclose(eta[[0, -1]], [-15 * 0.025, 15 * 0.025])
    np.testing.assert_allclose(np.diff(eta), 0.025)
    # Edges at +-15.5 cells, not a linspace between the edges (which stretches by ~3 %).
    assert eta[-1] + 0.025 / 2 == pytest.approx(0.3875)


def test_published_orientation_phi_descends_down_the_rows():
    phi = ECAL.phi_centres()
    assert phi[0] > 0 > phi[-1]
    np.testing.assert_allclose(np.diff(phi), -math.pi / 126)
    eta, phi_grid = ECAL.pixel_coordinates()
    assert eta.shape == phi_grid.shape == (31, 31)
    # Along a row eta changes and phi does not; down a column the opposite.
    assert np.all(phi_grid[0] == phi_grid[0, 0]) and np.all(eta[:, 3] == eta[0, 3])


def test_hcal_pixels_are_quarter_cells_and_span_plus_minus_point_four():
    assert HCAL.shape == (32, 32)
    assert HCAL.d_eta == pytest.approx(0.025)
    assert HCAL.d_phi == pytest.approx(math.pi / 31 / 4)
    eta = HCAL.eta_centres()
    assert eta[0] - HCAL.d_eta / 2 == pytest.approx(-0.4)
    assert eta[-1] + HCAL.d_eta / 2 == pytest.approx(0.4)
    assert eta[15] == pytest.approx(-0.0125) and eta[16] == pytest.approx(0.0125)


def test_index_of_inverts_pixel_centres():
    eta, phi = ECAL.pixel_coordinates()
    rows, cols = ECAL.index_of(eta, phi)
    expected_rows, expected_cols = np.indices(ECAL.shape)
    np.testing.assert_array_equal(rows, expected_rows)
    np.testing.assert_array_equal(cols, expected_cols)


def test_delta_r_and_lookup():
    assert ECAL.delta_r()[15, 15] == 0.0
    assert ECAL.delta_r()[15, 16] == pytest.approx(0.025)
    assert geometry_for("ht") is HCAL and geometry_for("images") is MUON
    with pytest.raises(KeyError, match="'xx'"):
        geometry_for("xx")
