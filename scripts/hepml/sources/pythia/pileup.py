"""Pile-up: a library of minimum-bias events, overlaid the way Delphes' PileUpMerger does.

Delphes (modules/PileUpMerger.cc) reads pre-generated minimum-bias events from a file: per
hard event it draws the number of pile-up interactions from a Poisson of mean MeanPileUp,
picks each one uniformly at random from the file (events are reused) and rotates it about the
beam axis by a uniform angle in [-pi, pi).  Here the "file" is a library generated once per
chunk with its own Pythia seed.  (PileUpMerger also shifts each vertex along z by the beam
spot; at the calorimeter that moves a particle's eta by at most ~0.05 for the card's spread and
is left out here.)
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from hepml.sources.pythia.pythia import Particles, final_state, start_pythia

log = logging.getLogger(__name__)


@dataclass
class MinBiasLibrary:
    """Stable particles of n minimum-bias events: ``particles.event`` is the library index,
    ``starts`` (n + 1,) the row where each event begins (particles are sorted by event)."""

    particles: Particles
    starts: np.ndarray

    def __len__(self) -> int:
        return len(self.starts) - 1


def build_library(
    commands: Sequence[str], seed: int, n_events: int, ecm_gev: float
) -> MinBiasLibrary:
    """Generate ``n_events`` minimum-bias events with Pythia (commands from the config)."""
    started = time.perf_counter()
    pythia = start_pythia(commands, seed, ecm_gev)
    parts = []
    while len(parts) < n_events:
        if not pythia.next():
            continue
        particles, _ = final_state(pythia.event, len(parts))
        parts.append(particles)
    counts = np.array([len(p) for p in parts])
    starts = np.concatenate([[0], np.cumsum(counts)])
    log.info(
        "minimum-bias library: %d events, %.0f particles/event, %.1f s",
        n_events,
        counts.mean() if len(counts) else 0.0,
        time.perf_counter() - started,
    )
    return MinBiasLibrary(Particles.concat(parts) if parts else Particles.empty(), starts)


def overlay(rng: np.random.Generator, library: MinBiasLibrary, mean: float) -> Particles:
    """Pile-up particles of one hard event: Poisson(mean) library events chosen uniformly with
    replacement, each rotated by a uniform angle in [-pi, pi).  ``event`` of the result is 0."""
    if mean <= 0 or len(library) == 0:
        return Particles.empty()
    picks = rng.integers(0, len(library), rng.poisson(mean))
    angles = rng.uniform(-math.pi, math.pi, len(picks))
    starts, stops = library.starts[picks], library.starts[picks + 1]
    lengths = stops - starts
    rows = np.repeat(starts - np.cumsum(np.concatenate([[0], lengths[:-1]])), lengths)
    rows = rows + np.arange(int(lengths.sum()))
    chosen = library.particles.take(rows)
    rotated = chosen.rotated(np.repeat(angles, lengths))
    rotated.event = np.zeros(len(rows), dtype=np.int64)
    return rotated
