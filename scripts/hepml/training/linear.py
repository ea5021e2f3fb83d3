"""Fisher's linear discriminant on many flat inputs: the linear EFP tagger.

Komiske, Metodiev and Thaler (arXiv:1712.07124 sec. 5) show that the Energy Flow Polynomials
are a linear basis of IRC-safe observables, so a LINEAR classifier on enough of them is already
a strong jet tagger; they use Fisher's linear discriminant, and the top-tagging benchmark
(arXiv:1902.09914, its "EFP" entry) quotes the same linear EFP tagger. This module fits it in
streaming form, so that the number of events never sets the memory (only the number of
inputs d does, through the d x d scatter matrix):

1. pass 1 over the train rows: weighted mean and standard deviation of every column
   (:class:`ColumnMoments`); every later step works on standardised columns, since EFPs of
   different kappa and beta differ by orders of magnitude;
2. pass 2: per class the weighted sum and scatter of the standardised rows
   (:class:`ClassScatter`), hence the class means m_1, m_0 and the pooled within-class
   covariance W (weights normalised per class, so the class balance does not tilt W);
3. the discriminant direction v = (W + lambda I)^-1 (m_1 - m_0). EFPs are strongly correlated
   (many are nearly linear combinations of others), so W is close to singular; the ridge
   lambda (Ledoit-Wolf style shrinkage towards the identity, in units of trace(W) / d) is
   CHOSEN ON THE VALIDATION SPLIT among ``shrinkages``: the value with the highest weighted
   validation AUC of the projection (ties: the larger, i.e. the simpler, model);
4. the score of an event is the logistic function of its projection, centred between the two
   class means and divided by the projection's pooled standard deviation sqrt(v^T W v): a
   monotonic map, so it changes no AUC, and it keeps scores in (0, 1) like every other model.

The fitted model is plain arrays (``to_arrays`` / ``from_arrays``, saved as npz, no pickle).
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np

from hepml import metrics
from hepml.settings import config_keys, reject_unknown_keys

DEFAULT_SHRINKAGES = (1e-8, 1e-6, 1e-4, 1e-2, 1e-1, 1.0)


@dataclass(frozen=True)
class LinearSettings:
    """shrinkages: ridge values lambda / (trace(W) / d) tried; the validation split chooses."""

    shrinkages: tuple[float, ...] = DEFAULT_SHRINKAGES

    def __post_init__(self) -> None:
        if not self.shrinkages or any(not s >= 0 for s in self.shrinkages):
            raise ValueError(f"linear.shrinkages: expected values >= 0, got {self.shrinkages}")

    @classmethod
    def from_config(cls, values) -> LinearSettings:
        values = dict(values or {})
        reject_unknown_keys(values, config_keys(cls), "efp.linear")
        return cls(tuple(float(s) for s in values.get("shrinkages", DEFAULT_SHRINKAGES)))


class ColumnMoments:
    """Weighted mean and variance of every column, accumulated block by block (float64)."""

    def __init__(self, n_columns: int):
        self.weight = 0.0
        self.sum = np.zeros(n_columns)
        self.square = np.zeros(n_columns)
        self.shift: np.ndarray | None = None  # first block's mean: keeps the sums well scaled

    def add(self, x: np.ndarray, w: np.ndarray) -> None:
        x = np.asarray(x, dtype=np.float64)
        if self.shift is None:
            self.shift = np.average(x, axis=0, weights=w) if w.sum() > 0 else x.mean(axis=0)
        centred = x - self.shift
        self.weight += float(w.sum())
        self.sum += w @ centred
        self.square += w @ (centred * centred)

    def mean_std(self) -> tuple[np.ndarray, np.ndarray]:
        """(mean, std) per column; a constant column gets std 1 (it then adds nothing)."""
        if not self.weight > 0:
            raise ValueError("linear: no train events with positive weight")
        offset = self.sum / self.weight
        variance = np.maximum(self.square / self.weight - offset**2, 0.0)
        std = np.sqrt(variance)
        return self.shift + offset, np.where(std > 0, std, 1.0)


class ClassScatter:
    """Per class (y = 0, 1): weight sum, weighted sum and scatter matrix of standardised rows."""

    def __init__(self, n_columns: int):
        self.weight = np.zeros(2)
        self.sum = np.zeros((2, n_columns))
        self.scatter = np.zeros((2, n_columns, n_columns))

    def add(self, z: np.ndarray, y: np.ndarray, w: np.ndarray) -> None:
        for label in (0, 1):
            mask = y == label
            zc, wc = z[mask], w[mask]
            self.weight[label] += float(wc.sum())
            self.sum[label] += wc @ zc
            self.scatter[label] += (zc * wc[:, None]).T @ zc

    def means_within(self) -> tuple[np.ndarray, np.ndarray]:
        """(m_1 - m_0, W): the difference of class means and the pooled within-class
        covariance, each class normalised by its own weight."""
        if not (self.weight > 0).all():
            raise ValueError(f"linear: a class has no train weight (weights {self.weight})")
        means = self.sum / self.weight[:, None]
        within = (
            sum(self.scatter[c] / self.weight[c] - np.outer(means[c], means[c]) for c in (0, 1))
            / 2.0
        )
        return means[1] - means[0], within


@dataclass(frozen=True)
class LinearModel:
    """A fitted discriminant: standardisation, direction, and the score's centre and scale."""

    names: tuple[str, ...]
    mean: np.ndarray
    std: np.ndarray
    direction: np.ndarray
    centre: float
    scale: float
    shrinkage: float

    def projection(self, x: np.ndarray) -> np.ndarray:
        return ((np.asarray(x, dtype=np.float64) - self.mean) / self.std) @ self.direction

    def score(self, x: np.ndarray) -> np.ndarray:
        """(n,) scores in (0, 1), increasing with the signal-likeness of the projection."""
        t = (self.projection(x) - self.centre) / self.scale
        return 1.0 / (1.0 + np.exp(-np.clip(t, -50.0, 50.0)))

    def to_arrays(self) -> dict[str, np.ndarray]:
        return {
            "names": np.asarray(self.names, dtype=str),
            "mean": self.mean,
            "std": self.std,
            "direction": self.direction,
            "centre": np.asarray(self.centre),
            "scale": np.asarray(self.scale),
            "shrinkage": np.asarray(self.shrinkage),
        }

    @classmethod
    def from_arrays(cls, arrays) -> LinearModel:
        return cls(
            tuple(str(name) for name in arrays["names"]),
            np.asarray(arrays["mean"]),
            np.asarray(arrays["std"]),
            np.asarray(arrays["direction"]),
            float(arrays["centre"]),
            float(arrays["scale"]),
            float(arrays["shrinkage"]),
        )


Block = tuple[np.ndarray, np.ndarray, np.ndarray]  # (x (n, d), y (n,), weight (n,))


def fit_linear(
    names: Sequence[str],
    train_blocks,
    valid_blocks,
    settings: LinearSettings,
) -> tuple[LinearModel, list[dict]]:
    """Fit on train, choose the shrinkage on valid (module docstring).

    train_blocks, valid_blocks: callables returning a fresh iterable of (x, y, weight) row
    blocks (train is read twice). Returns the model and one record per shrinkage tried
    (its validation AUC and whether it was chosen).
    """
    d = len(names)
    moments = ColumnMoments(d)
    for x, _, w in train_blocks():
        moments.add(x, w)
    mean, std = moments.mean_std()
    scatter = ClassScatter(d)
    for x, y, w in train_blocks():
        scatter.add((np.asarray(x, dtype=np.float64) - mean) / std, y, w)
    difference, within = scatter.means_within()
    class_means = scatter.sum / scatter.weight[:, None]
    unit = max(float(np.trace(within)) / d, 1e-300)

    directions = np.stack(
        [_solve(within + s * unit * np.eye(d), difference) for s in settings.shrinkages], axis=1
    )
    projections, ys, ws = [], [], []
    for x, y, w in valid_blocks():
        projections.append(((np.asarray(x, dtype=np.float64) - mean) / std) @ directions)
        ys.append(y)
        ws.append(w)
    projected, y_valid, w_valid = (np.concatenate(part) for part in (projections, ys, ws))
    aucs = [metrics.auc(y_valid, projected[:, i], w_valid) for i in range(len(settings.shrinkages))]
    best = max(range(len(aucs)), key=lambda i: (round(aucs[i], 12), settings.shrinkages[i]))
    direction = directions[:, best]
    centre = float(0.5 * (class_means[0] + class_means[1]) @ direction)
    scale = float(np.sqrt(max(direction @ within @ direction, 1e-300)))
    model = LinearModel(
        tuple(names), mean, std, direction, centre, scale, float(settings.shrinkages[best])
    )
    history = [
        {"shrinkage": s, "valid_auc": a, "chosen": i == best}
        for i, (s, a) in enumerate(zip(settings.shrinkages, aucs, strict=True))
    ]
    return model, history


def _solve(matrix: np.ndarray, vector: np.ndarray) -> np.ndarray:
    """matrix^-1 vector for a symmetric positive semi-definite matrix; the least-squares
    solution when it is singular (shrinkage 0 on exactly collinear columns)."""
    try:
        return np.linalg.solve(matrix, vector)
    except np.linalg.LinAlgError:
        return np.linalg.lstsq(matrix, vector, rcond=None)[0]


def blocks_of(x: np.ndarray, y: np.ndarray, w: np.ndarray, rows: int) -> Iterable[Block]:
    """Row blocks of in-memory arrays (tests, small inputs)."""
    for start in range(0, len(y), rows):
        yield x[start : start + rows], y[start : start + rows], w[start : start + rows]
