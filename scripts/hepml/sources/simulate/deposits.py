"""Calorimeter deposits of many events as flat arrays: the simulators' common container."""

from __future__ import annotations

from dataclasses import dataclass, fields

import numpy as np


@dataclass
class Deposits:
    """Deposits of one kind for a block of events, all arrays (n,).

    event: index of the event each deposit belongs to; d_eta, d_phi: offsets from the
    candidate (electron impact or muon) in eta and radians; et: transverse energy in GeV.
    """

    event: np.ndarray
    d_eta: np.ndarray
    d_phi: np.ndarray
    et: np.ndarray

    @staticmethod
    def concat(parts: list[Deposits]) -> Deposits:
        """All deposits of ``parts`` in order, as one Deposits."""
        names = [field.name for field in fields(Deposits)]
        return Deposits(*(np.concatenate([getattr(p, name) for p in parts]) for name in names))


def power_law(rng: np.random.Generator, n: int, lo: float, hi: float, index: float) -> np.ndarray:
    """n draws of dN/dx ~ x^-index on [lo, hi] (inverse CDF): the ET and pT spectra of the
    built-in simulators."""
    u = rng.random(n)
    if abs(index - 1.0) < 1e-12:
        return lo * (hi / lo) ** u
    a, b = lo ** (1.0 - index), hi ** (1.0 - index)
    return (a + u * (b - a)) ** (1.0 / (1.0 - index))
