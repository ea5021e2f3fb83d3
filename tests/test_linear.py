"""Fisher's linear discriminant (hepml.training.linear): against an independent fit,
streamed equals one-shot, the validation split chooses the shrinkage, the score is monotone."""

import numpy as np
import pytest
from hepml import metrics
from hepml.training.linear import (
    LinearModel,
    LinearSettings,
    blocks_of,
    fit_linear,
)


def gaussian_classes(n: int, d: int, seed: int):
    """Two correlated Gaussian classes with different means, and weights."""
    rng = np.random.default_rng(seed)
    mixing = rng.normal(size=(d, d))
    covariance = mixing @ mixing.T + d * np.eye(d)
    shift = rng.normal(size=d)
    y = (rng.random(n) < 0.5).astype(np.int8)
    x = rng.multivariate_normal(np.zeros(d), covariance, size=n) + np.outer(y, shift)
    x = x * np.logspace(-6, 3, d)  # EFP-like: columns of very different scales
    w = rng.uniform(0.5, 1.5, size=n)
    return x, y, w


def fit(x, y, w, xv, yv, wv, settings=None, rows=997):
    names = [f"c{i}" for i in range(x.shape[1])]
    return fit_linear(
        names,
        lambda: blocks_of(x, y, w, rows),
        lambda: blocks_of(xv, yv, wv, rows),
        settings or LinearSettings(),
    )


def test_direction_is_fishers_discriminant():
    """Without shrinkage the direction is W^-1 (m1 - m0) of the standardised inputs, computed
    here directly with numpy on the whole arrays (per-class weighted covariances)."""
    x, y, w = gaussian_classes(4000, 5, seed=1)
    model, _ = fit(x, y, w, x, y, w, LinearSettings(shrinkages=(0.0,)))
    mean = np.average(x, axis=0, weights=w)
    std = np.sqrt(np.average((x - mean) ** 2, axis=0, weights=w))
    z = (x - mean) / std
    means = [np.average(z[y == c], axis=0, weights=w[y == c]) for c in (0, 1)]
    within = sum(np.cov(z[y == c].T, aweights=w[y == c], bias=True) for c in (0, 1)) / 2
    expected = np.linalg.solve(within, means[1] - means[0])
    np.testing.assert_allclose(model.mean, mean, rtol=1e-9)
    np.testing.assert_allclose(model.std, std, rtol=1e-9)
    np.testing.assert_allclose(model.direction, expected, rtol=1e-7)


def test_streamed_blocks_give_the_one_shot_fit():
    x, y, w = gaussian_classes(3000, 4, seed=2)
    small, _ = fit(x, y, w, x, y, w, rows=7)
    whole, _ = fit(x, y, w, x, y, w, rows=len(y))
    np.testing.assert_allclose(small.direction, whole.direction, rtol=1e-8)
    assert small.shrinkage == whole.shrinkage


def test_the_validation_split_chooses_the_shrinkage():
    """Few train events and many nearly collinear columns: unshrunk, W is ill-conditioned and
    the fit follows train noise; the choice is the best validation AUC of those tried."""
    rng = np.random.default_rng(3)
    n, d = 150, 60
    base = rng.normal(size=(n + 4000, 3))
    x = base @ rng.normal(size=(3, d)) + 1e-3 * rng.normal(size=(n + 4000, d))
    y = (base[:, 0] + 0.5 * rng.normal(size=n + 4000) > 0).astype(np.int8)
    w = np.ones(n + 4000)
    train, valid = slice(0, n), slice(n, None)
    settings = LinearSettings(shrinkages=(0.0, 1e-6, 1e-2, 1.0))
    model, history = fit(x[train], y[train], w[train], x[valid], y[valid], w[valid], settings)
    aucs = {entry["shrinkage"]: entry["valid_auc"] for entry in history}
    assert model.shrinkage == max(aucs, key=aucs.get)
    assert sum(entry["chosen"] for entry in history) == 1
    assert metrics.auc(y[valid], model.score(x[valid])) == pytest.approx(aucs[model.shrinkage])


def test_score_is_a_monotone_map_of_the_projection_and_round_trips():
    x, y, w = gaussian_classes(2000, 3, seed=4)
    model, _ = fit(x, y, w, x, y, w)
    scores, projection = model.score(x), model.projection(x)
    assert np.all((scores > 0) & (scores < 1))
    order = np.argsort(projection)
    assert np.all(np.diff(scores[order]) >= 0)
    best_column = max(metrics.auc(y, x[:, i], w) for i in range(x.shape[1]))
    assert metrics.auc(y, scores, w) > best_column  # the combination beats every input alone
    again = LinearModel.from_arrays(model.to_arrays())
    np.testing.assert_array_equal(again.score(x), scores)
    assert again.names == model.names


def test_bad_settings_and_one_class_are_named():
    with pytest.raises(ValueError, match="unknown key"):
        LinearSettings.from_config({"shrinkage": [1.0]})
    with pytest.raises(ValueError, match=">= 0"):
        LinearSettings(shrinkages=(-1.0,))
    x, _, w = gaussian_classes(100, 2, seed=5)
    ones = np.ones(100, dtype=np.int8)
    with pytest.raises(ValueError, match="a class has no train weight"):
        fit(x, ones, w, x, ones, w)


def test_standardisation_and_direction_come_from_train_only():
    """The moments, the direction and the score scale are statistics of train: changing the
    valid rows (shifted and rescaled) moves none of them when the shrinkage is fixed (valid
    may only choose among the shrinkages). Negative control: the same change on train does."""
    x, y, w = gaussian_classes(1500, 4, seed=5)
    xv, yv, wv = gaussian_classes(800, 4, seed=6)
    settings = LinearSettings(shrinkages=(1e-3,))
    base, _ = fit(x, y, w, xv, yv, wv, settings)
    other_valid, _ = fit(x, y, w, 3.0 * xv + 100.0, yv, wv, settings)
    other_train, _ = fit(3.0 * x + 100.0, y, w, xv, yv, wv, settings)
    for name in ("mean", "std", "direction", "centre", "scale"):
        np.testing.assert_array_equal(getattr(other_valid, name), getattr(base, name))
    assert not np.allclose(other_train.mean, base.mean)
