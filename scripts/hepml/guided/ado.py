"""Decision ordering (DO) and average decision ordering (ADO) of two classifiers.

docs/reference.md "Black-box guided search" (Faucett et al., arXiv:2010.11998; electron paper
Sec. V): for a signal/background pair (x, x') two scores f and g agree when they order the pair
the same way,

    DO_fg(x, x') = Theta((f(x) - f(x')) (g(x) - g(x'))),

and ADO_fg is the mean of DO over pairs. ADO = 1: same ordering (same ROC ranking), 0.5:
unrelated, 0: exactly reversed; it is reported folded, max(ADO, 1 - ADO), because a feature and
its negative carry the same information.

Ties: Theta(0) = 1/2. A pair that either score does not separate (f(x) = f(x') or
g(x) = g(x')) counts half, the same convention as the AUC (a tie is half a correct ordering)
and as the `average-decision-ordering` package (``heaviside(0) = 0.5``). The product is formed
from the signs of the two differences, never from the differences themselves, so it cannot
underflow to a false tie. A difference no larger than ``RTOL`` times the larger |value| of
the pair itself, |f(x) - f(x')| <= RTOL max(|f(x)|, |f(x')|), is rounding noise and also
counts as a tie: an EFP that is constant up to floating-point error (1_0_0 at kappa = 1 is
sum z = 1 for every event) then has ADO exactly 1/2 instead of ordering pairs by the last
bits of its sums. The tolerance is per pair, never a column-wide scale: at kappa = -1 one soft
cell can give an EFP of 1e12 on one event, and a tolerance set by that value would tie every
pair of the ordinary events (values of order one), whose ordering is the information.

Everything is vectorised over pairs (and over candidate columns in ``ado_columns``); pairs are
given as two index arrays into the event arrays, drawn once by ``draw_pairs``.
"""

from __future__ import annotations

import logging

import numpy as np

log = logging.getLogger(__name__)

RTOL = 1e-12  # |difference| <= RTOL * max(|a|, |b|) of the pair is rounding noise: a tie

# Pairs are processed in chunks so that the two (chunk x candidates) buffers stay this small
# (cache-sized: the work is dominated by gathering the pairs' rows).
_BLOCK_BYTES = 4 * 2**20
_MIN_CHUNK = 256  # pairs per chunk at least, however many candidates (paper grid: ~15,000)


def draw_pairs(
    y: np.ndarray, n_pairs: int, seed: int, weight: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """``n_pairs`` signal/background pairs, each drawn at random from all S x B pairs.

    y: (N,) labels, 1 = signal, 0 = background; weight: optional (N,) non-negative per-event
    weights (None = all equal). Returns (signal_index, background_index), each (n_pairs,)
    int64 indices into y. The signal and the background member are drawn independently, with
    replacement, each with probability proportional to its weight within its class
    (np.random.default_rng(seed)), so the pairs are i.i.d. over the S x B grid and the mean DO
    over them is an unbiased estimate of the (weighted) ADO; a pair may repeat when n_pairs
    approaches S x B.
    """
    y = np.asarray(y)
    if y.ndim != 1:
        raise ValueError(f"draw_pairs: y must be 1-D, got shape {y.shape}")
    if n_pairs < 1:
        raise ValueError(f"draw_pairs: n_pairs must be >= 1, got {n_pairs}")
    signal = np.flatnonzero(y == 1)
    background = np.flatnonzero(y == 0)
    if signal.size == 0 or background.size == 0:
        raise ValueError(
            f"draw_pairs: need signal (y=1) and background (y=0) events, got {signal.size} "
            f"signal and {background.size} background"
        )
    rng = np.random.default_rng(seed)
    if weight is None:
        return (
            signal[rng.integers(0, signal.size, n_pairs)],
            background[rng.integers(0, background.size, n_pairs)],
        )
    weight = np.asarray(weight, dtype=np.float64)
    if weight.shape != y.shape or not np.isfinite(weight).all() or (weight < 0).any():
        raise ValueError(f"draw_pairs: weight must be ({y.size},) finite and >= 0")
    members = []
    for index in (signal, background):
        total = weight[index].sum()
        if not total > 0:
            raise ValueError("draw_pairs: a class has zero total weight")
        members.append(rng.choice(index, n_pairs, p=weight[index] / total))
    return members[0], members[1]


def _check_pairs(n_events: int, signal_index: np.ndarray, background_index: np.ndarray) -> None:
    if signal_index.shape != background_index.shape or signal_index.ndim != 1:
        raise ValueError(
            "pair index arrays must be 1-D of equal length, got "
            f"{signal_index.shape} and {background_index.shape}"
        )
    for index in (signal_index, background_index):
        if index.size and (index.min() < 0 or index.max() >= n_events):
            raise ValueError(f"pair index out of range for {n_events} events")


def _signs(
    values: np.ndarray, signal_index: np.ndarray, background_index: np.ndarray, rtol: float
) -> np.ndarray:
    """sign(values[signal] - values[background]), (P,), 0 where the difference is rounding
    (at most rtol times the larger |value| of the pair)."""
    first, second = values[signal_index], values[background_index]
    difference = first - second
    signs = np.sign(difference)
    signs[np.abs(difference) <= rtol * np.maximum(np.abs(first), np.abs(second))] = 0.0
    return signs


def decision_ordering(
    f: np.ndarray,
    g: np.ndarray,
    signal_index: np.ndarray,
    background_index: np.ndarray,
    rtol: float = RTOL,
) -> np.ndarray:
    """DO of scores f and g on each pair: 1 same order, 0 reversed, 0.5 tie in f or g.

    f, g: (N,) scores of the same N events (any units, only the order matters).
    signal_index, background_index: (P,) pair members. Returns (P,) float64 in {0, 0.5, 1}.
    rtol: differences up to rtol times the pair's larger |score| count as ties (module
    docstring).
    """
    f = np.asarray(f, dtype=np.float64)
    g = np.asarray(g, dtype=np.float64)
    if f.ndim != 1 or f.shape != g.shape:
        raise ValueError(f"f and g must be 1-D of equal length, got {f.shape} and {g.shape}")
    signal_index = np.asarray(signal_index)
    background_index = np.asarray(background_index)
    _check_pairs(f.size, signal_index, background_index)
    product = _signs(f, signal_index, background_index, rtol) * _signs(
        g, signal_index, background_index, rtol
    )
    return 0.5 * (product + 1.0)


def fold(ado_value):
    """max(ADO, 1 - ADO): the reported ADO (scalar or array)."""
    return np.maximum(ado_value, 1.0 - np.asarray(ado_value, dtype=np.float64))


def average_decision_ordering(
    f: np.ndarray,
    g: np.ndarray,
    signal_index: np.ndarray,
    background_index: np.ndarray,
    *,
    folded: bool = True,
    rtol: float = RTOL,
) -> float:
    """ADO of scores f and g over the given pairs, folded to max(ADO, 1 - ADO) by default.

    f, g: (N,) scores; signal_index, background_index: (P,) pair members, P >= 1.
    """
    do = decision_ordering(f, g, signal_index, background_index, rtol)
    if do.size == 0:
        raise ValueError("ADO over zero pairs is undefined")
    value = float(do.mean())
    return float(fold(value)) if folded else value


def ado_columns(
    features: np.ndarray,
    g: np.ndarray,
    signal_index: np.ndarray,
    background_index: np.ndarray,
    *,
    folded: bool = True,
    rtol: float = RTOL,
) -> np.ndarray:
    """ADO of every column of ``features`` with the reference score g over the same pairs.

    features: (N, K) candidate observables (e.g. EFP values); g: (N,) reference score (the
    black box); signal_index, background_index: (P,) pairs, P >= 1. Returns (K,) float64,
    folded by default. Pairs are processed in chunks, so memory stays O(chunk x K) whatever
    P; a column-major table (as pandas returns) is read through its transpose.
    """
    features = np.asarray(features, dtype=np.float64)
    if features.ndim != 2:
        raise ValueError(f"features must be (N, K), got shape {features.shape}")
    g = np.asarray(g, dtype=np.float64)
    if g.shape != (features.shape[0],):
        raise ValueError(f"g must have shape ({features.shape[0]},), got {g.shape}")
    signal_index = np.asarray(signal_index)
    background_index = np.asarray(background_index)
    _check_pairs(g.size, signal_index, background_index)
    n_pairs = signal_index.size
    if n_pairs == 0:
        raise ValueError("ADO over zero pairs is undefined")
    # DO = (1 + sign_f * sign_g) / 2, so the mean over pairs is 1/2 + (sign_f . sign_g) / (2P),
    # counted exactly per chunk of pairs (whole rows gathered at once).
    g_sign = _signs(g, signal_index, background_index, rtol)
    n_columns = features.shape[1]
    # three (chunk x K) float64 buffers of about _BLOCK_BYTES, at least 256 pairs per chunk
    chunk = min(n_pairs, max(_MIN_CHUNK, _BLOCK_BYTES // (24 * max(1, n_columns))))
    # A column-major table (as pandas returns) is gathered through its transpose (K, N).
    column_major = features.flags.f_contiguous and not features.flags.c_contiguous
    table, axis = (features.T, 1) if column_major else (features, 0)
    shape = (n_columns, chunk) if column_major else (chunk, n_columns)
    pair_axis = 1 if column_major else 0
    first, second, third = np.empty(shape), np.empty(shape), np.empty(shape)
    agreement = np.zeros(n_columns, dtype=np.int64)
    report_every = max(chunk, n_pairs // 10)  # progress in the rule's log, about 10 lines
    for start in range(0, n_pairs, chunk):
        stop = min(start + chunk, n_pairs)
        if n_pairs > 10 * chunk and start // report_every != stop // report_every:
            log.info("ADO of %d candidates: %d / %d pairs", n_columns, stop, n_pairs)
        part = (slice(None), slice(0, stop - start)) if column_major else slice(0, stop - start)
        a, b, d = first[part], second[part], third[part]
        # indices were range-checked above; mode="clip" lets np.take write into out directly
        np.take(table, signal_index[start:stop], axis=axis, out=a, mode="clip")
        np.take(table, background_index[start:stop], axis=axis, out=b, mode="clip")
        np.subtract(a, b, out=d)
        # the pair's rounding tolerance, rtol * max(|a|, |b|) = rtol (|a + b| + |a - b|) / 2
        np.add(a, b, out=b)
        np.abs(b, out=b)
        np.abs(d, out=a)
        b += a
        b *= 0.5 * rtol
        # sign_f * sign_g summed over pairs = #(d g > tol) - #(d g < -tol), d = f_s - f_b
        d *= g_sign[None, start:stop] if column_major else g_sign[start:stop, None]
        agreement += (d > b).sum(axis=pair_axis) - (d < -b).sum(axis=pair_axis)
    out = 0.5 + agreement / (2.0 * n_pairs)
    return fold(out) if folded else out


def disagreeing_pairs(
    f: np.ndarray, g: np.ndarray, signal_index: np.ndarray, background_index: np.ndarray
) -> np.ndarray:
    """Boolean mask (P,) of the pairs that f and g order in opposite ways (DO = 0).

    Tied pairs (DO = 1/2) are neither agreeing nor disagreeing and are not selected: the
    search looks for information that reverses a wrong decision, which a tie does not show.
    f is the current model, g the black box; the comparison is unfolded (both are classifiers
    trained to give signal the larger score).
    """
    return decision_ordering(f, g, signal_index, background_index) == 0.0
