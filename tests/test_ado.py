"""ADO and decision ordering against a direct pair loop and the average-decision-ordering
package."""

import numpy as np
import pytest
from hepml.guided import ado


def loop_do(f, g, signal_index, background_index):
    """Reference: one pair at a time, Theta(0) = 1/2."""
    out = []
    for i, j in zip(signal_index, background_index, strict=True):
        product = (f[i] - f[j]) * (g[i] - g[j])
        out.append(1.0 if product > 0 else 0.0 if product < 0 else 0.5)
    return np.array(out)


def scores_with_ties(rng, n):
    """Scores rounded to a few levels so that many pairs tie."""
    return np.round(rng.random(n), 1)


@pytest.fixture
def events():
    rng = np.random.default_rng(1)
    n = 300
    y = rng.integers(0, 2, n)
    f = rng.normal(size=n) + y
    g = 0.5 * f + rng.normal(size=n)
    return y, f, g


def test_draw_pairs_members_have_the_right_labels(events):
    y, _, _ = events
    signal, background = ado.draw_pairs(y, 1000, seed=3)
    assert signal.shape == background.shape == (1000,)
    assert (y[signal] == 1).all() and (y[background] == 0).all()


def test_draw_pairs_is_seeded(events):
    y, _, _ = events
    first = ado.draw_pairs(y, 50, seed=3)
    again = ado.draw_pairs(y, 50, seed=3)
    other = ado.draw_pairs(y, 50, seed=4)
    assert all(np.array_equal(a, b) for a, b in zip(first, again, strict=True))
    assert not np.array_equal(first[0], other[0])


def test_draw_pairs_needs_both_classes():
    with pytest.raises(ValueError, match="signal"):
        ado.draw_pairs(np.ones(10), 5, seed=0)


@pytest.mark.parametrize("ties", [False, True])
def test_decision_ordering_matches_pair_loop(ties):
    rng = np.random.default_rng(2)
    n = 200
    y = rng.integers(0, 2, n)
    f = scores_with_ties(rng, n) if ties else rng.random(n)
    g = scores_with_ties(rng, n) if ties else rng.random(n)
    pairs = ado.draw_pairs(y, 2000, seed=5)
    expected = loop_do(f, g, *pairs)
    if ties:
        assert (expected == 0.5).any()
    np.testing.assert_array_equal(ado.decision_ordering(f, g, *pairs), expected)
    raw = expected.mean()
    assert ado.average_decision_ordering(f, g, *pairs, folded=False) == pytest.approx(raw)
    assert ado.average_decision_ordering(f, g, *pairs) == pytest.approx(max(raw, 1 - raw))


def test_ado_extremes(events):
    y, f, _ = events
    pairs = ado.draw_pairs(y, 500, seed=0)
    assert ado.average_decision_ordering(f, 3 * f + 1, *pairs) == 1.0
    # a reversed score has raw ADO 0, reported folded as 1
    assert ado.average_decision_ordering(f, -f, *pairs, folded=False) == 0.0
    assert ado.average_decision_ordering(f, -f, *pairs) == 1.0
    constant = np.zeros_like(f)
    assert ado.average_decision_ordering(f, constant, *pairs) == 0.5


def test_ado_columns_matches_one_column_at_a_time(events, monkeypatch):
    y, f, g = events
    rng = np.random.default_rng(4)
    features = np.column_stack([f, -g, scores_with_ties(rng, f.size), rng.random(f.size)])
    pairs = ado.draw_pairs(y, 700, seed=1)
    expected = [ado.average_decision_ordering(column, g, *pairs) for column in features.T]
    # a tiny chunk (three pairs) exercises the chunked loop, in both memory layouts
    monkeypatch.setattr(ado, "_BLOCK_BYTES", 3 * 16 * features.shape[1])
    monkeypatch.setattr(ado, "_MIN_CHUNK", 1)
    for layout in (np.ascontiguousarray(features), np.asfortranarray(features)):
        np.testing.assert_allclose(ado.ado_columns(layout, g, *pairs), expected, rtol=0, atol=1e-12)
    raw = ado.ado_columns(features, g, *pairs, folded=False)
    assert raw[1] < 0.5  # -g against g: folded only on request


def test_sign_product_does_not_underflow():
    f = np.array([0.0, 1e-200])
    g = np.array([0.0, 1e-200])
    pairs = (np.array([1]), np.array([0]))
    assert ado.decision_ordering(f, g, *pairs)[0] == 1.0


def test_disagreeing_pairs_are_exactly_the_reversed_ones():
    f = np.array([0.9, 0.1, 0.5, 0.5])
    g = np.array([0.1, 0.9, 0.5, 0.05])
    y = np.array([1, 0, 1, 0])
    signal = np.array([0, 0, 2, 2])
    background = np.array([1, 3, 1, 3])
    # pair (0,1): f says 0 > 1, g says 0 < 1 -> disagree; (0,3): both 0 > 3 -> agree;
    # (2,1): f 2 > 1, g 2 < 1 -> disagree; (2,3): f ties -> not disagreeing
    mask = ado.disagreeing_pairs(f, g, signal, background)
    assert y[signal].all() and not y[background].any()
    np.testing.assert_array_equal(mask, [True, False, True, False])


def test_bad_pairs_raise():
    f = np.zeros(5)
    with pytest.raises(ValueError, match="out of range"):
        ado.decision_ordering(f, f, np.array([5]), np.array([0]))
    with pytest.raises(ValueError, match="equal length"):
        ado.decision_ordering(f, f, np.array([1, 2]), np.array([0]))
    with pytest.raises(ValueError, match="zero pairs"):
        ado.average_decision_ordering(f, f, np.array([], int), np.array([], int))


@pytest.mark.parametrize("ties", [False, True])
def test_agrees_with_average_decision_ordering_package(ties, monkeypatch):
    """The package draws its own pairs (python's random); capture them and compare on them."""
    package = pytest.importorskip("average_decision_ordering")
    import random

    rng = np.random.default_rng(6)
    n = 400
    y = rng.integers(0, 2, n)
    f = scores_with_ties(rng, n) if ties else rng.random(n) + 0.3 * y
    g = scores_with_ties(rng, n) if ties else rng.random(n) + 0.5 * y
    drawn = {}
    original = package.random_pairs

    def capture(x, y_, length):
        drawn["pairs"] = original(x, y_, length)
        return drawn["pairs"]

    monkeypatch.setattr(package, "random_pairs", capture)
    random.seed(11)
    expected = package.calc_ado(fx=f, gx=g, target=y, n_pairs=1000)
    background, signal = drawn["pairs"][:, 0], drawn["pairs"][:, 1]
    assert (y[signal] == 1).all() and (y[background] == 0).all()
    assert ado.average_decision_ordering(f, g, signal, background) == pytest.approx(
        expected, abs=1e-12
    )
    # the package's per-pair DO (its heaviside of the product) agrees too
    package_do = package.calc_do(f[background], f[signal], g[background], g[signal])
    np.testing.assert_array_equal(ado.decision_ordering(f, g, signal, background), package_do)


def test_weighted_pairs_follow_the_weights():
    y = np.array([1, 1, 0, 0, 0])
    weight = np.array([1.0, 3.0, 0.0, 1.0, 1.0])
    signal, background = ado.draw_pairs(y, 20000, seed=0, weight=weight)
    assert (y[signal] == 1).all() and (y[background] == 0).all()
    assert np.mean(signal == 1) == pytest.approx(0.75, abs=0.02)
    assert not (background == 2).any()  # zero weight: never drawn
    with pytest.raises(ValueError, match="weight"):
        ado.draw_pairs(y, 5, seed=0, weight=-weight)


def test_rounding_differences_are_ties():
    """An EFP constant up to floating-point error (1_0_0 at kappa 1 = sum z = 1) is no
    information: ADO exactly 1/2, not an ordering by the last bits of its sums."""
    rng = np.random.default_rng(8)
    n = 500
    z = rng.random((n, 40))
    almost_one = (z / z.sum(axis=1, keepdims=True)).sum(axis=1)  # 1 up to rounding
    assert np.ptp(almost_one) > 0
    y = rng.integers(0, 2, n)
    g = rng.random(n)
    pairs = ado.draw_pairs(y, 2000, seed=0)
    assert ado.average_decision_ordering(almost_one, g, *pairs, folded=False) == 0.5
    columns = np.column_stack([almost_one, g])
    np.testing.assert_array_equal(ado.ado_columns(columns, g, *pairs, folded=False), [0.5, 1.0])
    # real differences, even small against the values themselves, are kept
    assert ado.average_decision_ordering(100.0 + g, g, *pairs) == 1.0


def test_ties_do_not_depend_on_the_column_scale(monkeypatch):
    """At kappa = -1 one soft cell can give an EFP of 1e14 on one event. The tie tolerance is
    per pair, so that value does not turn every ordinary pair (values of order one) into a
    tie: the ADO is that of the exact pair loop. Negative control: a column-wide tolerance
    (rtol x the column's largest |value|, the old rule) ties nearly every pair."""
    rng = np.random.default_rng(12)
    n = 400
    y = rng.integers(0, 2, n)
    g = rng.random(n) + 0.5 * y
    f = g.copy()
    f[np.argmin(g)] = 1e14  # the soft cell's event: huge, but only on one event
    pairs = ado.draw_pairs(y, 3000, seed=2)
    expected = loop_do(f, g, *pairs).mean()
    assert expected > 0.99
    assert ado.average_decision_ordering(f, g, *pairs, folded=False) == pytest.approx(expected)
    monkeypatch.setattr(ado, "_BLOCK_BYTES", 7 * 24 * 3)  # several chunks, both layouts
    monkeypatch.setattr(ado, "_MIN_CHUNK", 1)
    features = np.column_stack([f, 1e-30 * f, -f])
    for layout in (np.ascontiguousarray(features), np.asfortranarray(features)):
        np.testing.assert_allclose(
            ado.ado_columns(layout, g, *pairs, folded=False),
            [expected, expected, 1.0 - expected],
            rtol=0,
            atol=1e-12,
        )
    # negative control: the same differences against the column-wide tolerance are ties
    difference = f[pairs[0]] - f[pairs[1]]
    assert np.mean(np.abs(difference) <= ado.RTOL * np.abs(f).max()) > 0.99
