"""High-level jet substructure: mass, N-subjettiness ratios, constituent multiplicity.

Input: constituents (n, m, 4) [E, px, py, pz] in GeV, zero rows for padding (the benchmark
layout, :mod:`hepml.io.jets`); a row is a constituent when its pT > 0.

* jet mass: of the summed four-momentum, sqrt(max(E^2 - |p|^2, 0)) in GeV;
* N-subjettiness (Thaler, Van Tilburg, arXiv:1011.2268 sec. 2, eq. 2.1-2.2; the normalised
  measure of the FastJet contrib Nsubjettiness):

      tau_N = sum_i pT_i min_k (Delta R_ik)^beta / (sum_i pT_i R0),  beta = 1, R0 = 0.8,

  with Delta R_ik^2 = (y_i - y_k)^2 + (phi_i - phi_k)^2 in rapidity and azimuth (FastJet's
  ``PseudoJet::squared_distance``) between constituent i and axis k;
* axes: exclusive kT axes, the default of the benchmark's N-subjettiness inputs and of the
  contrib's ``KT_Axes`` (arXiv:1011.2268 sec. 2; arXiv:1902.09914 uses tau_N as inputs of
  several taggers): the constituents reclustered with the kT algorithm, E-scheme, R = 1000
  (FastJet's ``max_allowable_R``: no constituent ever merges with the beam), and the N jets
  left when the clustering is stopped at N (``ClusterSequence::exclusive_jets(N)``);
* tau_21 = tau_2 / tau_1, tau_32 = tau_3 / tau_2;
* n_constituents: the number of rows with pT > 0.

Jets with n <= N constituents: every constituent can be its own axis (and is, as an exclusive
kT jet), so tau_N = 0 exactly.  A ratio tau_{N+1} / tau_N whose denominator is 0 is set to 0:
the same value it takes for every jet with exactly N + 1 constituents (tau_{N+1} = 0 there),
so the ratio stays continuous in the multiplicity, and finite for the networks.  In the
benchmark's 550-650 GeV jets such jets (<= 2 constituents) do not occur in practice; an
empty jet gets mass 0, both ratios 0 and multiplicity 0.

Cost (one core of the development machine, FastJet 3.5 through its Python bindings, one
``ClusterSequence`` per jet): 0.25-0.3 CPU s per 1000 generated jets (~35 constituents on
average), ~0.5 s per 1000 jets of 80 constituents.  FastJet's multi-event (awkward)
interface clusters ~6 times faster but emits a spurious UserWarning for exclusive kT jets
(and rewrites ``warnings.formatwarning``), which this project's warnings-as-errors forbid.
"""

from __future__ import annotations

import numpy as np

from hepml.jets.preprocess import jet_four_momentum, rapidity_phi, wrap_phi

FEATURE_NAMES = ("mass", "tau21", "tau32", "n_constituents")
BETA = 1.0
R0 = 0.8
KT_R = 1000.0  # FastJet's JetDefinition::max_allowable_R
N_MAX = 3


def jet_mass(constituents: np.ndarray) -> np.ndarray:
    """(n,) invariant mass (GeV) of the summed constituents."""
    e, px, py, pz = jet_four_momentum(constituents).T
    return np.sqrt(np.maximum(e**2 - px**2 - py**2 - pz**2, 0.0))


def n_constituents(constituents: np.ndarray) -> np.ndarray:
    """(n,) number of constituents (rows with pT > 0)."""
    c = np.asarray(constituents)
    return (np.hypot(c[..., 1], c[..., 2]) > 0).sum(axis=1)


def tau_n(particles: np.ndarray, axes: np.ndarray, beta: float = BETA, r0: float = R0) -> float:
    """N-subjettiness of one jet: particles (m, 4) and axes (N, 4), [E, px, py, pz]."""
    pt = np.hypot(particles[:, 1], particles[:, 2])
    if len(axes) == 0 or pt.sum() == 0:
        return 0.0
    y, phi = rapidity_phi(particles)
    y_axis, phi_axis = rapidity_phi(axes)
    d2 = (y[:, None] - y_axis[None, :]) ** 2 + wrap_phi(phi[:, None] - phi_axis[None, :]) ** 2
    distance = np.sqrt(d2.min(axis=1)) ** beta
    return float((pt * distance).sum() / (pt.sum() * r0))


def exclusive_kt_axes(particles: np.ndarray, n_axes: tuple[int, ...] = (1, 2, 3)):
    """Exclusive kT axes of one jet with FastJet: particles (m, 4) [E, px, py, pz] ->
    {N: (N, 4) axes} for each N in n_axes with N < m; jets with m <= N get their particles."""
    import fastjet  # imported here: only substructure needs it

    definition = fastjet.JetDefinition(fastjet.kt_algorithm, KT_R)
    inputs = [fastjet.PseudoJet(float(px), float(py), float(pz), float(e))
              for e, px, py, pz in particles]  # fmt: skip
    sequence = fastjet.ClusterSequence(inputs, definition)
    axes = {}
    for n in n_axes:
        if len(particles) <= n:
            axes[n] = np.asarray(particles, dtype=np.float64)
            continue
        jets = sequence.exclusive_jets(int(n))
        axes[n] = np.array([(j.E(), j.px(), j.py(), j.pz()) for j in jets], dtype=np.float64)
    return axes


def nsubjettiness(
    constituents: np.ndarray, n_max: int = N_MAX, beta: float = BETA, r0: float = R0
) -> np.ndarray:
    """(n, n_max) tau_1 ... tau_n_max per jet (module docstring), exclusive-kT axes."""
    constituents = np.asarray(constituents, dtype=np.float64)
    taus = np.zeros((len(constituents), n_max))
    wanted = tuple(range(1, n_max + 1))
    for j, jet in enumerate(constituents):
        particles = jet[np.hypot(jet[:, 1], jet[:, 2]) > 0]
        if len(particles) <= 1:
            continue  # tau_N = 0 for every N
        axes = exclusive_kt_axes(particles, wanted)
        for n in wanted:
            taus[j, n - 1] = 0.0 if len(particles) <= n else tau_n(particles, axes[n], beta, r0)
    return taus


def ratio(numerator: np.ndarray, denominator: np.ndarray) -> np.ndarray:
    """numerator / denominator, 0 where the denominator is 0 (module docstring)."""
    numerator, denominator = np.asarray(numerator), np.asarray(denominator)
    return np.divide(
        numerator, denominator, out=np.zeros(np.shape(numerator)), where=denominator > 0
    )


def substructure_features(constituents: np.ndarray) -> tuple[np.ndarray, tuple[str, ...]]:
    """(n, 4) [mass (GeV), tau_21, tau_32, n_constituents] and their names
    (:data:`FEATURE_NAMES`)."""
    taus = nsubjettiness(constituents, N_MAX)
    features = np.stack(
        [
            jet_mass(constituents),
            ratio(taus[:, 1], taus[:, 0]),
            ratio(taus[:, 2], taus[:, 1]),
            n_constituents(constituents).astype(np.float64),
        ],
        axis=1,
    )
    return features, FEATURE_NAMES
