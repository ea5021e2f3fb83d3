"""Figures of the ntuple analyses (hepml.plots.ntuples): histogram sums against plain numpy,
the weighted correlation against numpy's, the figures drawn (on the open-data fixture's tables
in tests/test_ntuples.py)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hepml.plots import ntuples as plots


def toy_frame(seed: int = 3) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    n = 600
    process = rng.choice(["Z -> tau tau", "W -> mu nu", "t tbar", "data"], n)
    label = np.select([process == "Z -> tau tau", process == "data"], [1.0, np.nan], 0.0)
    weight = np.where(process == "data", 1.0, rng.normal(0.4, 0.5, n))  # some negative
    x = rng.normal(50, 20, n)
    return pd.DataFrame(
        {
            "x": x,
            "y": 0.5 * x + rng.normal(0, 5, n),
            "weight": weight,
            "process": process,
            "label": label,
        }
    )


def test_weighted_histogram_matches_numpy_with_the_flow_folded_in():
    rng = np.random.default_rng(0)
    values, weights = rng.normal(0, 2, 500), rng.normal(1, 1, 500)
    edges = np.array([-2.0, -0.5, 0.0, 1.0, 3.0])
    sum_w, sum_w2 = plots.weighted_histogram(values, weights, edges)
    clipped = np.clip(values, edges[0], np.nextafter(edges[-1], -np.inf))
    np.testing.assert_allclose(sum_w, np.histogram(clipped, edges, weights=weights)[0], rtol=1e-12)
    np.testing.assert_allclose(
        sum_w2, np.histogram(clipped, edges, weights=weights**2)[0], rtol=1e-12
    )
    assert sum_w.sum() == pytest.approx(weights.sum(), rel=1e-12)  # no event lost


def test_data_mc_histograms_split_data_from_each_process():
    frame = toy_frame()
    edges = np.linspace(0, 100, 11)
    processes, (data, data_w2) = plots.data_mc_histograms(frame, "x", edges)
    assert set(processes) == {"Z -> tau tau", "W -> mu nu", "t tbar"}
    for name, (sum_w, sum_w2) in processes.items():
        group = frame[frame["process"] == name]
        assert sum_w.sum() == pytest.approx(group["weight"].sum(), rel=1e-12)
        assert sum_w2.sum() == pytest.approx((group["weight"] ** 2).sum(), rel=1e-12)
    totals = [h[0].sum() for h in processes.values()]
    assert totals == sorted(totals)  # the largest process is stacked last, on top
    assert data.sum() == (frame["process"] == "data").sum()
    np.testing.assert_array_equal(data, data_w2)  # data: sum w^2 = N


def test_class_histograms_are_normalised_with_weighted_errors():
    frame = toy_frame()
    edges = np.linspace(0, 100, 11)
    histograms = plots.class_histograms(frame, "x", edges)
    for name, label in (("signal", 1), ("background", 0)):
        density, error = histograms[name]
        assert (density * np.diff(edges)).sum() == pytest.approx(1.0, rel=1e-12)
        group = frame[frame["label"] == label]
        sum_w2 = plots.weighted_histogram(group["x"], group["weight"], edges)[1]
        np.testing.assert_allclose(error * np.diff(edges) * group["weight"].sum(), np.sqrt(sum_w2))


def test_weighted_correlation_matches_numpy_and_repeated_events():
    rng = np.random.default_rng(1)
    x = rng.normal(size=(300, 3))
    x[:, 1] += x[:, 0]
    weights = rng.integers(1, 4, 300).astype(float)
    expected = np.corrcoef(np.repeat(x, weights.astype(int), axis=0), rowvar=False)
    np.testing.assert_allclose(plots.weighted_correlation(x, weights), expected, atol=1e-12)
    covariance = np.cov(x.T, aweights=weights)
    scale = np.sqrt(np.diag(covariance))
    np.testing.assert_allclose(
        plots.weighted_correlation(x, weights), covariance / np.outer(scale, scale), atol=1e-12
    )
    # negative control: the weights matter
    assert not np.allclose(plots.weighted_correlation(x, weights), np.corrcoef(x, rowvar=False))
    with pytest.raises(ValueError, match="positive sum of weights"):
        plots.weighted_correlation(x, -weights)


def test_the_figures_draw():
    frame = toy_frame()
    edges = np.linspace(0, 100, 11)
    figure = plots.data_mc_figure(frame, "x", edges, xlabel="x [GeV]", note="after the cut")
    top, bottom = figure.axes[:2]
    assert bottom.get_ylabel() == "Data / MC" and top.get_legend() is not None
    assert len(plots.variable_distributions_figure(frame, {"x": edges, "y": edges}).axes) == 3
    assert len(plots.correlation_figure(frame, ["x", "y"]).axes) == 3  # two matrices, a colour bar
