"""Radial ET profile around the muon: against a pixel loop, weights, and the figure."""

import numpy as np
import pytest
from hepml.geometry import MUON
from hepml.plots import muons as plots_muons


def toy(n: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    images = np.where(
        rng.random((n, *MUON.shape, 1)) < 0.05, rng.exponential(1.0, (n, 32, 32, 1)), 0
    )
    return images.astype(np.float32), rng.integers(0, 2, n), rng.uniform(0.2, 2.0, n)


def test_profile_matches_a_pixel_loop():
    images, y, weight = toy()
    edges = np.array([0.0, 0.05, 0.1, 0.2, 0.4])
    profile = plots_muons.radial_profile(images, y, weight, edges, chunk_events=7)
    delta_r = MUON.delta_r()
    for label in (0, 1):
        rows = profile[profile["label"] == label].reset_index(drop=True)
        for i in range(len(edges) - 1):
            total, weights, pixels = 0.0, 0.0, 0
            for row in range(MUON.n_phi):
                for col in range(MUON.n_eta):
                    if edges[i] <= delta_r[row, col] < edges[i + 1]:
                        pixels += 1
            for event in range(len(y)):
                if y[event] != label:
                    continue
                weights += weight[event]
                for row in range(MUON.n_phi):
                    for col in range(MUON.n_eta):
                        if edges[i] <= delta_r[row, col] < edges[i + 1]:
                            total += weight[event] * images[event, row, col, 0]
            assert rows.loc[i, "n_pixels"] == pixels
            assert rows.loc[i, "et_per_pixel"] == pytest.approx(total / weights / pixels, rel=1e-9)
        assert rows["cone_et"].iloc[-1] == pytest.approx(
            (rows["et_per_pixel"] * rows["n_pixels"]).sum(), rel=1e-12
        )


def test_uniform_images_give_a_flat_profile_and_complete_cones_inside_the_image():
    images = np.full((6, *MUON.shape), 0.5, dtype=np.float32)
    profile = plots_muons.radial_profile(images, np.array([0, 1] * 3), np.ones(6))
    np.testing.assert_allclose(profile["et_per_pixel"], 0.5)
    np.testing.assert_allclose(profile["et_density"], 0.5 / (MUON.d_eta * MUON.d_phi))
    assert profile.loc[profile["r_high"] <= 0.4, "cone_complete"].all()
    assert not profile.loc[profile["r_high"] > 0.41, "cone_complete"].any()


def test_bad_input_raises():
    images, y, weight = toy(5)
    with pytest.raises(ValueError, match="ascending"):
        plots_muons.radial_profile(images, y, weight, edges=np.array([0.2, 0.1]))
    with pytest.raises(ValueError, match="expected"):
        plots_muons.radial_profile(images[:, :31], y, weight)


def test_figure_has_both_panels(tmp_path):
    images, y, weight = toy()
    figure = plots_muons.plot_radial_profile(plots_muons.radial_profile(images, y, weight))
    assert len(figure.axes) == 2
    figure.savefig(tmp_path / "profile.png")
    assert (tmp_path / "profile.png").stat().st_size > 0
