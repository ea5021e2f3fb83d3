"""Metrics against scikit-learn, bootstrap determinism, the collapse flag and the tables."""

import math

import numpy as np
import pandas as pd
import pytest
from hepml import metrics
from hepml.settings import EvaluationSettings
from sklearn.metrics import roc_auc_score
from sklearn.metrics import roc_curve as sk_roc_curve


def _sample(n=2000, seed=1, ties=False, weighted=False):
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    score = rng.normal(size=n) + 1.2 * y
    if ties:
        score = np.round(score, 1)  # many tied scores
    weight = rng.uniform(0.1, 3.0, n) if weighted else None
    return y, score, weight


SETTINGS = EvaluationSettings(
    bootstrap_resamples=50,
    confidence_level=0.68,
    signal_efficiencies=(0.5, 0.8, 0.9),
    collapse_tolerance=0.02,
)


@pytest.mark.parametrize("weighted", [False, True])
@pytest.mark.parametrize("ties", [False, True])
def test_roc_and_auc_match_sklearn(weighted, ties):
    y, score, weight = _sample(ties=ties, weighted=weighted)
    fpr, tpr, thresholds = metrics.roc_curve(y, score, weight)
    sk_fpr, sk_tpr, sk_thr = sk_roc_curve(y, score, sample_weight=weight, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr, atol=1e-9, rtol=0)
    np.testing.assert_allclose(tpr, sk_tpr, atol=1e-9, rtol=0)
    np.testing.assert_array_equal(thresholds[1:], sk_thr[1:])
    assert metrics.auc(y, score, weight) == pytest.approx(
        roc_auc_score(y, score, sample_weight=weight), abs=1e-9
    )


def test_unit_weights_equal_unweighted():
    y, score, _ = _sample(seed=3)
    assert metrics.auc(y, score, np.ones(len(y))) == pytest.approx(metrics.auc(y, score), abs=1e-12)


def test_auc_rejects_bad_labels():
    with pytest.raises(ValueError, match="0 or 1"):
        metrics.auc(np.array([0, 2, 1]), np.array([0.1, 0.2, 0.3]))
    with pytest.raises(ValueError, match="both signal"):
        metrics.auc(np.ones(4, dtype=int), np.arange(4.0))


def test_background_rejection_against_brute_force():
    y, score, weight = _sample(n=3000, seed=5, weighted=True)
    fpr, tpr, thresholds = metrics.roc_curve(y, score, weight)
    for eps_s in (0.5, 0.8, 0.9):
        # The first ROC point at or beyond eps_S bounds the interpolated eps_B from above.
        index = int(np.argmax(tpr >= eps_s))
        eps_b = metrics.background_efficiency_at(fpr, tpr, eps_s)
        assert fpr[index - 1] <= eps_b <= fpr[index]
        # and a direct cut on the score at that point reproduces the ROC point
        passed = score >= thresholds[index]
        assert tpr[index] == pytest.approx(weight[passed & (y == 1)].sum() / weight[y == 1].sum())
        assert fpr[index] == pytest.approx(weight[passed & (y == 0)].sum() / weight[y == 0].sum())
        rejection = metrics.background_rejection(y, score, weight, signal_efficiency=eps_s)
        assert rejection == pytest.approx(1 / eps_b)


def test_perfect_separation_gives_infinite_rejection():
    y = np.array([0, 0, 1, 1])
    score = np.array([0.1, 0.2, 0.8, 0.9])
    assert metrics.auc(y, score) == 1.0
    assert math.isinf(metrics.background_rejection(y, score, signal_efficiency=0.5))


def test_bootstrap_is_seeded_and_brackets_the_auc():
    y, score, weight = _sample(n=4000, seed=7, weighted=True)
    kwargs = dict(resamples=100, confidence_level=0.68, seed=11)
    low1, high1, samples1 = metrics.bootstrap_auc(y, score, weight, **kwargs)
    low2, high2, samples2 = metrics.bootstrap_auc(y, score, weight, **kwargs)
    np.testing.assert_array_equal(samples1, samples2)
    assert (low1, high1) == (low2, high2)
    other = metrics.bootstrap_auc(y, score, weight, resamples=100, confidence_level=0.68, seed=12)
    assert not np.array_equal(other[2], samples1)
    value = metrics.auc(y, score, weight)
    assert low1 < value < high1
    assert 0.002 < high1 - low1 < 0.05


def test_bootstrap_resample_equals_direct_auc_of_resampled_events():
    y, score, weight = _sample(n=500, seed=9, weighted=True)
    _, _, samples = metrics.bootstrap_auc(
        y, score, weight, resamples=3, confidence_level=0.68, seed=4
    )
    rng = np.random.default_rng(4)
    for expected in samples:
        index = rng.integers(0, len(y), len(y))
        direct = roc_auc_score(y[index], score[index], sample_weight=weight[index])
        assert expected == pytest.approx(direct, abs=1e-9)


def test_constant_score_is_collapsed():
    y, _, _ = _sample(n=1000)
    result = metrics.evaluate_scores(y, np.full(len(y), 0.5), None, SETTINGS, seed=1)
    assert result["status"] == metrics.STATUS_COLLAPSED
    assert result["auc"] is None
    assert result["collapse_reason"] == "constant score"


def test_random_score_is_collapsed():
    rng = np.random.default_rng(2)
    y = rng.integers(0, 2, 20000)
    result = metrics.evaluate_scores(y, rng.uniform(size=y.size), None, SETTINGS, seed=1)
    assert result["status"] == metrics.STATUS_COLLAPSED
    assert result["auc"] is None and abs(result["auc_measured"] - 0.5) < 0.02
    assert all(result[metrics.rejection_key(e)] is None for e in SETTINGS.signal_efficiencies)


def test_good_score_is_ok_with_interval_and_rejections():
    y, score, weight = _sample(n=3000, seed=2, weighted=True)
    result = metrics.evaluate_scores(y, score, weight, SETTINGS, seed=1)
    assert result["status"] == metrics.STATUS_OK
    assert result["auc"] == pytest.approx(roc_auc_score(y, score, sample_weight=weight), abs=1e-9)
    assert result["auc_low"] < result["auc"] < result["auc_high"]
    rejections = [result[metrics.rejection_key(e)] for e in (0.5, 0.8, 0.9)]
    assert rejections[0] > rejections[1] > rejections[2] > 1
    assert result["n_test"] == 3000


def test_summary_table_keeps_collapsed_rows_without_headline_auc():
    good = {"name": "hl", "model": "nn", "auc": 0.94, "auc_low": 0.93, "auc_high": 0.95}
    good.update({"status": "ok", "rejection_0.5": 100.0, "train_samples_per_s": 5e4})
    bad = {"name": "ht", "model": "nn", "auc": None, "auc_measured": 0.501, "status": "collapsed"}
    bdt = {"name": "hl-bdt", "model": "bdt", "auc": 0.93, "status": "ok"}
    table = metrics.summary_table([good, bad, bdt], {"hl": 0.9446, "ht": 0.825}, [0.5, 0.8])
    assert list(table["name"]) == ["hl", "ht", "hl-bdt"]
    assert list(table["feature_set"]) == ["hl", "ht", "hl"]
    row = table.set_index("name").loc["ht"]
    assert row["status"] == "collapsed" and pd.isna(row["auc"]) and row["paper_auc"] == 0.825
    assert pd.isna(table.set_index("name").loc["hl-bdt", "paper_auc"])
    assert "rejection_0.8" in table.columns
    text = metrics.markdown_table(table)
    assert text.splitlines()[2].startswith("| hl | hl | nn | 0.9400 |")
    assert "| ht | ht | nn |  |" in text
