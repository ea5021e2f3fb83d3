"""Seeded generator of electron candidates (signal) and jets faking electrons (background).

A fast, physics-motivated stand-in for the authors' MadGraph + Pythia + Delphes samples
(docs/reference.md 1): it writes the same images (ECal and HCal ET and energy), from which the
7 HL features and the invariant mass are computed by :mod:`hepml.hl`, never on a private
path.  docs/simulator.md explains what each choice models; every parameter lives in the
``datasets.electrons.simulate`` block of the config (described in config/schema.yaml).

Frames and units.  Particles are generated in a local frame around the candidate's impact
point on the ECal: offsets (d_eta, d_phi) in units of eta and radians.  Energies are in GeV;
"ET" is transverse energy, E = ET cosh(eta).  The ECal grid is aligned with absolute cell
boundaries: the impact point sits at a uniformly random position inside its cell.  After
deposition the image is centred on the hottest ECal cell within ``centre_search_cells`` of the
impact, as in docs/reference.md "Image geometry"; the 8 x 8 HCal cells (0.1 x pi/31) are centred
on the same point and upsampled to 32 x 32 pixels holding 1/16 of their cell each.  Image
orientation (phi descending down the rows) comes from :mod:`hepml.geometry` only.

Generation runs in blocks of :data:`BLOCK_SIZE` accepted events, each with its own random
stream derived from (seed, block index), so the output depends on the seed, the settings and
n_events only, not on the chunk size the caller asks for.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterable, Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from hepml.geometry import (
    ECAL,
    HCAL,
    HCAL_CELL_ETA,
    HCAL_CELL_PHI,
    HCAL_UPSAMPLE,
)
from hepml.hl import compute_hl, invariant_mass
from hepml.settings import SPLITS, reject_unknown_keys
from hepml.sources.simulate.deposits import Deposits, power_law

log = logging.getLogger(__name__)

BLOCK_SIZE = 1000  # accepted events per independently seeded block
PI0_MASS = 0.1350  # GeV
ETA_MESON_MASS = 0.5479  # GeV
HCAL_CELLS = HCAL.n_eta // HCAL_UPSAMPLE  # 8 x 8 HCal cells make the 32 x 32 HCal image
_SHOWER_HALF_WIDTH = 3  # EM showers are spread over 7 x 7 ECal cells around their cell


@dataclass(frozen=True)
class ElectronSimSettings:
    """Parameters of the electron/jet simulator (``datasets.electrons.simulate`` in config).

    Energies and ET in GeV, angles in units of eta or radians, widths of the shower profile
    in ECal cells.  config/schema.yaml describes each field; docs/simulator.md the physics.
    """

    # Sample composition, acceptance and preselection.
    signal_fraction: float = 0.5
    eta_max_generated: float = 2.5
    eta_max: float = 2.1
    cluster_et_min: float = 10.0
    centre_search_cells: int = 2
    # Candidate ET spectra: dN/dET ~ ET^-index on [et_min, et_max].
    et_min: float = 15.0
    et_max: float = 150.0
    electron_et_index: float = 2.75
    jet_et_index: float = 4.0
    # Electromagnetic showers: core + tail lateral profile, in ECal cells.
    shower_core_width: float = 0.15
    shower_tail_width: float = 0.55
    shower_core_fraction: float = 0.8
    # Bremsstrahlung in the tracker material, bending in the solenoid field.
    brem_mean_photons: float = 0.8
    brem_x_min: float = 0.05
    bending_gev: float = 0.735
    electron_hcal_leakage: float = 0.02
    # Jet fragmentation: leading neutral meson, rest of the jet.
    fragmentation_index: float = 2.0
    eta_meson_fraction: float = 0.2
    jet_pi0_mean: float = 3.0
    jet_charged_mean: float = 3.0
    jet_neutral_hadron_mean: float = 0.7
    jet_kt_mean: float = 0.35
    hadron_ecal_fraction: float = 0.3
    # Pile-up and underlying event (per unit area of eta x phi).
    pileup_ecal_density: float = 5.0
    pileup_ecal_mean_et: float = 0.3
    pileup_hcal_density: float = 3.0
    pileup_hcal_mean_et: float = 0.6
    # Calorimeter response: sigma(E)^2 = stochastic^2 E + constant^2 E^2 + noise^2, per cell.
    ecal_stochastic: float = 0.07
    ecal_constant: float = 0.007
    ecal_noise: float = 0.05
    ecal_cell_et_min: float = 0.15
    hcal_stochastic: float = 1.0
    hcal_constant: float = 0.05
    hcal_noise: float = 0.2
    hcal_cell_et_min: float = 0.5
    # Scaled file (data.h5): images divided by this energy.
    image_scale: float = 100.0

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            if not math.isfinite(value) or value < 0:
                raise ValueError(
                    f"simulate.{field.name}: expected a finite number >= 0, got {value}"
                )
        for name in ("signal_fraction", "shower_core_fraction", "hadron_ecal_fraction"):
            if getattr(self, name) > 1:
                raise ValueError(f"simulate.{name}: expected a fraction in [0, 1]")
        if not 0 < self.brem_x_min < 1:
            raise ValueError(f"simulate.brem_x_min: expected 0 < x < 1, got {self.brem_x_min}")
        if not 0 < self.et_min < self.et_max:
            raise ValueError("simulate.et_min/et_max: expected 0 < et_min < et_max")
        if self.eta_max > self.eta_max_generated:
            raise ValueError("simulate.eta_max: must not exceed eta_max_generated")
        for name in ("shower_core_width", "shower_tail_width", "image_scale", "jet_et_index"):
            if getattr(self, name) <= 0:
                raise ValueError(f"simulate.{name}: expected a number > 0")

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> ElectronSimSettings:
        """Settings from the config's ``simulate`` block; ``n_events`` is ignored (passed apart).

        Unknown keys raise ValueError naming the key.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        reject_unknown_keys({k: v for k, v in config.items() if k != "n_events"}, known, "simulate")
        values = {}
        for key, value in config.items():
            if key == "n_events":
                continue
            if isinstance(value, bool) or not isinstance(value, int | float):
                raise ValueError(f"simulate.{key}: expected a number, got {value!r}")
            values[key] = int(value) if key == "centre_search_cells" else float(value)
        return cls(**values)


# ---------------------------------------------------------------------------------------------
# Particles: flat arrays with the index of the event each belongs to (data.deposits.Deposits).


# power_law (hepml.sources.simulate.deposits): dN/dx ~ x^-index on [lo, hi].


def _directions(rng: np.random.Generator, n: int) -> tuple[np.ndarray, np.ndarray]:
    """Unit vectors (cos, sin) with a uniform random angle in the eta-phi plane."""
    angle = rng.uniform(0.0, 2.0 * np.pi, n)
    return np.cos(angle), np.sin(angle)


def _two_photon_decay(
    rng: np.random.Generator,
    event: np.ndarray,
    d_eta: np.ndarray,
    d_phi: np.ndarray,
    et: np.ndarray,
    mass: np.ndarray,
) -> Deposits:
    """Photons of meson -> gamma gamma decays (one row per meson in, two photons out).

    The photon energy share x is uniform (isotropic decay in the meson rest frame); the
    opening angle in the eta-phi plane is Delta R = m / (ET sqrt(x (1 - x))) for a massless
    small-angle pair, independent of eta.  The ET-weighted centroid stays on the meson.
    """
    x = rng.uniform(0.0, 1.0, len(et))
    x = np.clip(x, 1e-4, 1.0 - 1e-4)
    separation = mass / (et * np.sqrt(x * (1.0 - x)))
    cos, sin = _directions(rng, len(et))
    first = Deposits(
        event, d_eta - (1 - x) * separation * cos, d_phi - (1 - x) * separation * sin, x * et
    )
    second = Deposits(
        event, d_eta + x * separation * cos, d_phi + x * separation * sin, (1 - x) * et
    )
    return Deposits.concat([first, second])


def _electrons(rng: np.random.Generator, n: int, s: ElectronSimSettings) -> tuple[Deposits, ...]:
    """EM showers, ECal single-cell and HCal deposits of n prompt electrons at the origin.

    ET spectrum ~ ET^-electron_et_index.  Each electron radiates Poisson(brem_mean_photons)
    bremsstrahlung photons taking a fraction x of its energy, dN/dx ~ 1/x on [brem_x_min, 1];
    the electron then bends further than the photon in the solenoid field, so a photon lands
    at Delta phi = q bending_gev t / pT_e from the electron, t ~ U(0, 1) the depth of the
    emission (docs/reference.md: "energy in the central cell plus about one phi neighbour").
    """
    et = power_law(rng, n, s.et_min, s.et_max, s.electron_et_index)
    charge = rng.choice([-1.0, 1.0], n)
    n_brem = rng.poisson(s.brem_mean_photons, n)
    max_brem = int(n_brem.max(initial=0))
    photons = []
    remaining = et.copy()
    for k in range(max_brem):
        radiating = np.flatnonzero(n_brem > k)
        x = s.brem_x_min ** rng.random(len(radiating))  # dN/dx ~ 1/x on [x_min, 1]
        x = np.minimum(x, 0.95)
        photon_et = x * remaining[radiating]
        remaining[radiating] -= photon_et
        depth = rng.random(len(radiating))
        photons.append((radiating, photon_et, depth))
    showers = [Deposits(np.arange(n), np.zeros(n), np.zeros(n), remaining)]
    for radiating, photon_et, depth in photons:
        d_phi = charge[radiating] * s.bending_gev * depth / remaining[radiating]
        showers.append(Deposits(radiating, np.zeros(len(radiating)), d_phi, photon_et))
    leak = np.minimum(rng.exponential(s.electron_hcal_leakage, n), 1.0) * et
    hcal = Deposits(np.arange(n), np.zeros(n), np.zeros(n), leak)
    ecal_cells = Deposits(*(np.zeros(0, dtype=t) for t in (int, float, float, float)))
    return Deposits.concat(showers), ecal_cells, hcal


def _jets(rng: np.random.Generator, n: int, s: ElectronSimSettings) -> tuple[Deposits, ...]:
    """EM showers, ECal single-cell and HCal deposits of n jets faking electrons.

    The candidate is the jet's leading neutral meson (pi0, or eta with probability
    eta_meson_fraction) decaying to two photons.  For a jet spectrum dN/dpT ~ pT^-k and a
    fragmentation function D(z) ~ (1 - z)^n, the meson ET = z pT follows ET^-k and z follows
    Beta(k, n + 1), independently: the steep spectrum itself selects jets whose leading meson
    carries most of the momentum (the fakes).  The rest of the jet, ET (1 - z) / z, is shared
    (Dirichlet) among Poisson numbers of further pi0s, charged hadrons (bent in phi by the
    field, depositing in the HCal after losing a fraction in the ECal) and neutral hadrons,
    each at Delta R = kT / pT from the jet axis with kT ~ exponential(jet_kt_mean).
    """
    k, frag = s.jet_et_index, s.fragmentation_index
    lead_et = power_law(rng, n, s.et_min, s.et_max, k)
    z = rng.beta(k, frag + 1.0, n)
    rest_et = lead_et * (1.0 - z) / z
    is_eta = rng.random(n) < s.eta_meson_fraction
    events = np.arange(n)
    lead = _two_photon_decay(
        rng, events, np.zeros(n), np.zeros(n), lead_et, np.where(is_eta, ETA_MESON_MASS, PI0_MASS)
    )
    # Jet axis: the leading meson sits at Delta R = kT / ET from it.
    kt = rng.exponential(s.jet_kt_mean, n)
    cos, sin = _directions(rng, n)
    axis_eta, axis_phi = -kt / lead_et * cos, -kt / lead_et * sin

    n_pi0 = rng.poisson(s.jet_pi0_mean, n)
    n_ch = rng.poisson(s.jet_charged_mean, n)
    n_nh = rng.poisson(s.jet_neutral_hadron_mean, n)
    # One row per further particle: kind 0 = pi0, 1 = charged hadron, 2 = neutral hadron.
    counts = (n_pi0, n_ch, n_nh)
    event = np.concatenate([np.repeat(np.arange(n), c) for c in counts])
    kind = np.repeat([0, 1, 2], [int(c.sum()) for c in counts])
    share = rng.exponential(1.0, len(event))
    share /= np.bincount(event, weights=share, minlength=n)[event]
    et = rest_et[event] * share
    kt = rng.exponential(s.jet_kt_mean, len(event))
    cos, sin = _directions(rng, len(event))
    radius = kt / np.maximum(et, 1e-3)
    d_eta = axis_eta[event] + radius * cos
    d_phi = axis_phi[event] + radius * sin

    pi0 = kind == 0
    showers = [lead]
    showers.append(
        _two_photon_decay(
            rng, event[pi0], d_eta[pi0], d_phi[pi0], et[pi0], np.full(int(pi0.sum()), PI0_MASS)
        )
    )
    hadron = ~pi0
    charge = np.where(kind[hadron] == 1, rng.choice([-1.0, 1.0], int(hadron.sum())), 0.0)
    h_event, h_et = event[hadron], et[hadron]
    h_eta = d_eta[hadron]
    h_phi = d_phi[hadron] + charge * s.bending_gev / np.maximum(h_et, 1e-3)
    in_ecal = np.minimum(rng.exponential(s.hadron_ecal_fraction, len(h_et)), 1.0)
    ecal_cells = Deposits(h_event, h_eta, h_phi, in_ecal * h_et)
    hcal = Deposits(h_event, h_eta, h_phi, (1.0 - in_ecal) * h_et)
    return Deposits.concat(showers), ecal_cells, hcal


# ---------------------------------------------------------------------------------------------
# Calorimeter response.


def _profile_fractions(offset: np.ndarray, s: ElectronSimSettings) -> np.ndarray:
    """(n, 7, 7) fraction of a shower in the cells around its own cell.

    offset: (n, 2) position of the shower axis inside its cell (eta, phi), in cells, in
    [-0.5, 0.5).  The lateral profile is a core + tail mixture, each a product of logistic
    profiles along eta and phi (exponential tails, widths in cells): a separable stand-in
    for the Grindhammer-Peters two-component parametrisation.
    """
    edges = np.arange(-_SHOWER_HALF_WIDTH, _SHOWER_HALF_WIDTH + 2) - 0.5  # 8 cell edges

    def cell_fractions(width: float, axis: int) -> np.ndarray:
        cdf = 1.0 / (1.0 + np.exp(-(edges[None, :] - offset[:, axis : axis + 1]) / width))
        return np.diff(cdf, axis=1)

    core = s.shower_core_fraction
    fractions = core * np.einsum(
        "ne,np->npe", cell_fractions(s.shower_core_width, 0), cell_fractions(s.shower_core_width, 1)
    )
    fractions += (1.0 - core) * np.einsum(
        "ne,np->npe", cell_fractions(s.shower_tail_width, 0), cell_fractions(s.shower_tail_width, 1)
    )
    return fractions


def _smear_and_threshold(
    rng: np.random.Generator,
    et: np.ndarray,
    cosh: np.ndarray,
    stochastic: float,
    constant: float,
    noise: float,
    et_min: float,
) -> np.ndarray:
    """Cell ET after energy smearing and the ET threshold (in place on a copy).

    et: cell ET (any shape); cosh: cosh(eta) of each cell, broadcastable.  Only hit cells are
    smeared (as Delphes smears towers): sigma(E)^2 = stochastic^2 E + constant^2 E^2 + noise^2.
    Cells below et_min after smearing are zeroed.
    """
    out = np.zeros_like(et)
    cosh = np.broadcast_to(cosh, et.shape)
    hit = np.nonzero(et > 0)
    energy = et[hit] * cosh[hit]
    sigma = np.sqrt(stochastic**2 * energy + constant**2 * energy**2 + noise**2)
    smeared = np.maximum(energy + sigma * rng.standard_normal(len(energy)), 0.0) / cosh[hit]
    out[hit] = np.where(smeared > et_min, smeared, 0.0)
    return out


def _ecal_grid(
    rng: np.random.Generator,
    showers: Deposits,
    cells: Deposits,
    impact: np.ndarray,
    eta0: np.ndarray,
    size: int,
    s: ElectronSimSettings,
) -> np.ndarray:
    """(n, size, size) ECal cell ET around each impact cell, smeared and thresholded.

    Rows run in phi (ascending), columns in eta; the impact cell is the central one and the
    impact point sits at ``impact`` (n, 2) (eta, phi, in cells) from its centre.  showers get
    the lateral profile, cells (soft photons, hadron deposits) land in one cell each.
    """
    n, centre = len(eta0), size // 2
    grid = np.zeros(n * size * size)
    d_cell = np.array([ECAL.d_eta, ECAL.d_phi])

    pos = np.stack([showers.d_eta, showers.d_phi], axis=1) / d_cell + impact[showers.event]
    cell = np.floor(pos + 0.5).astype(np.int64)
    offsets = np.arange(-_SHOWER_HALF_WIDTH, _SHOWER_HALF_WIDTH + 1)
    col = cell[:, 0, None, None] + centre + offsets[None, None, :]
    row = cell[:, 1, None, None] + centre + offsets[None, :, None]
    inside = (col >= 0) & (col < size) & (row >= 0) & (row < size)
    flat = (showers.event[:, None, None] * size + row) * size + col
    weights = _profile_fractions(pos - cell, s) * showers.et[:, None, None]
    grid += np.bincount(flat[inside], weights=weights[inside], minlength=grid.size)

    pos = np.stack([cells.d_eta, cells.d_phi], axis=1) / d_cell + impact[cells.event]
    col, row = (np.floor(pos + 0.5).astype(np.int64) + centre).T
    inside = (col >= 0) & (col < size) & (row >= 0) & (row < size)
    flat = (cells.event * size + row) * size + col
    grid += np.bincount(flat[inside], weights=cells.et[inside], minlength=grid.size)

    cell_eta = eta0[:, None] + (np.arange(size)[None, :] - centre - impact[:, :1]) * ECAL.d_eta
    return _smear_and_threshold(
        rng,
        grid.reshape(n, size, size),
        np.cosh(cell_eta)[:, None, :],
        s.ecal_stochastic,
        s.ecal_constant,
        s.ecal_noise,
        s.ecal_cell_et_min,
    )


def _hcal_cells(
    rng: np.random.Generator,
    hadrons: Deposits,
    centre_eta: np.ndarray,
    centre_phi: np.ndarray,
    eta: np.ndarray,
    s: ElectronSimSettings,
) -> np.ndarray:
    """(m, 8, 8) HCal cell ET (0.1 x pi/31 cells, phi ascending) centred on the image centres.

    hadrons: deposits of the m kept events (event = 0..m-1) with offsets from the impact;
    centre_eta, centre_phi (m,): the image centre relative to the impact; eta (m,): absolute
    eta of the image centre.  Soft underlying-event hadrons are added, then the cell response.
    """
    m, cells = len(eta), HCAL_CELLS
    col = np.floor((hadrons.d_eta - centre_eta[hadrons.event]) / HCAL_CELL_ETA) + cells // 2
    row = np.floor((hadrons.d_phi - centre_phi[hadrons.event]) / HCAL_CELL_PHI) + cells // 2
    col, row = col.astype(np.int64), row.astype(np.int64)
    inside = (col >= 0) & (col < cells) & (row >= 0) & (row < cells)
    area = cells * HCAL_CELL_ETA * cells * HCAL_CELL_PHI
    soft_event = np.repeat(np.arange(m), rng.poisson(s.pileup_hcal_density * area, m))
    soft_cell = rng.integers(0, cells * cells, len(soft_event))
    flat = np.concatenate(
        [((hadrons.event * cells + row) * cells + col)[inside], soft_event * cells**2 + soft_cell]
    )
    weights = np.concatenate(
        [hadrons.et[inside], rng.exponential(s.pileup_hcal_mean_et, len(soft_event))]
    )
    grid = np.bincount(flat, weights=weights, minlength=m * cells**2).reshape(m, cells, cells)
    cell_eta = eta[:, None] + (np.arange(cells) - (cells - 1) / 2) * HCAL_CELL_ETA
    return _smear_and_threshold(
        rng,
        grid,
        np.cosh(cell_eta)[:, None, :],
        s.hcal_stochastic,
        s.hcal_constant,
        s.hcal_noise,
        s.hcal_cell_et_min,
    )


def _simulate_class(
    rng: np.random.Generator, n_wanted: int, signal: bool, s: ElectronSimSettings
) -> dict[str, np.ndarray]:
    """n_wanted preselected candidates of one class.

    Returns et (n, 31, 31) ECal ET and hcal_cells (n, 8, 8) HCal cell ET, both with phi
    ascending down the rows (the published orientation is applied later), and eta (n,), the
    absolute eta of the image centre.  Candidates are generated in batches until enough
    pass the preselection (centre |eta| < eta_max, 3 x 3 cluster ET > cluster_et_min).
    """
    half, search = ECAL.n_eta // 2, s.centre_search_cells
    size = 2 * (half + search) + 1  # ECal grid simulated around the impact, cells per side
    centre = size // 2
    accepted: list[dict[str, np.ndarray]] = []
    n_accepted = 0
    while n_accepted < n_wanted:
        n = max(64, int(1.3 * (n_wanted - n_accepted)))
        showers, cells, hadrons = (_electrons if signal else _jets)(rng, n, s)
        eta0 = rng.uniform(-s.eta_max_generated, s.eta_max_generated, n)
        impact = rng.uniform(-0.5, 0.5, (n, 2))  # impact point inside its cell (eta, phi)
        # Underlying event and pile-up: soft photons, one ECal cell each.
        area = (size * ECAL.d_eta) * (size * ECAL.d_phi)
        soft_event = np.repeat(np.arange(n), rng.poisson(s.pileup_ecal_density * area, n))
        corner = rng.uniform(-0.5, 0.5, (len(soft_event), 2)) * size - impact[soft_event]
        soft = Deposits(
            soft_event,
            corner[:, 0] * ECAL.d_eta,
            corner[:, 1] * ECAL.d_phi,
            rng.exponential(s.pileup_ecal_mean_et, len(soft_event)),
        )
        grid = _ecal_grid(rng, showers, Deposits.concat([cells, soft]), impact, eta0, size, s)

        # Image centre: the hottest cell within +-search cells of the impact.
        width = 2 * search + 1
        window = grid[
            :, centre - search : centre + search + 1, centre - search : centre + search + 1
        ]
        hottest = window.reshape(n, -1).argmax(axis=1)
        row_c, col_c = hottest // width + centre - search, hottest % width + centre - search
        d3 = np.arange(-1, 2)
        cluster = grid[
            np.arange(n)[:, None, None],
            row_c[:, None, None] + d3[None, :, None],
            col_c[:, None, None] + d3[None, None, :],
        ].sum(axis=(1, 2))
        centre_eta = (col_c - centre - impact[:, 0]) * ECAL.d_eta  # relative to the impact
        centre_phi = (row_c - centre - impact[:, 1]) * ECAL.d_phi
        passed = (cluster > s.cluster_et_min) & (np.abs(eta0 + centre_eta) < s.eta_max)
        keep = np.flatnonzero(passed)[: n_wanted - n_accepted]
        if len(keep) == 0:
            continue

        d = np.arange(-half, half + 1)
        et = grid[
            keep[:, None, None],
            row_c[keep, None, None] + d[None, :, None],
            col_c[keep, None, None] + d[None, None, :],
        ]
        local = np.full(n, -1, dtype=np.int64)
        local[keep] = np.arange(len(keep))
        mine = local[hadrons.event] >= 0
        kept_hadrons = Deposits(
            local[hadrons.event[mine]], hadrons.d_eta[mine], hadrons.d_phi[mine], hadrons.et[mine]
        )
        eta = eta0[keep] + centre_eta[keep]
        hcal = _hcal_cells(rng, kept_hadrons, centre_eta[keep], centre_phi[keep], eta, s)
        accepted.append({"et": et, "hcal_cells": hcal, "eta": eta})
        n_accepted += len(keep)
    return {key: np.concatenate([a[key] for a in accepted]) for key in accepted[0]}


def finish_images(raw: dict[str, np.ndarray], y: np.ndarray) -> dict[str, np.ndarray]:
    """Published arrays from internal ET images: orientation, upsampling, E images, HL, mass."""
    et = raw["et"]
    ht = np.repeat(np.repeat(raw["hcal_cells"], HCAL_UPSAMPLE, axis=1), HCAL_UPSAMPLE, axis=2)
    ht = ht / HCAL_UPSAMPLE**2
    if ECAL.phi_descending:
        et = et[:, ::-1, :]
    if HCAL.phi_descending:
        ht = ht[:, ::-1, :]
    eta = raw["eta"]
    et = np.ascontiguousarray(et, dtype=np.float32)
    ht = np.ascontiguousarray(ht, dtype=np.float32)
    ee = (et * np.cosh(eta[:, None, None] + ECAL.eta_centres()[None, None, :])).astype(np.float32)
    he = (ht * np.cosh(eta[:, None, None] + HCAL.eta_centres()[None, None, :])).astype(np.float32)
    return {
        "et": et[..., None],
        "ht": ht[..., None],
        "ee": ee[..., None],
        "he": he[..., None],
        "hl": compute_hl(et, ht, ee),
        "mass": invariant_mass(et, ht, eta)[:, None],
        "y": y.astype(np.int8),
    }


def simulate_block(seed: int, block: int, n_events: int, settings: ElectronSimSettings) -> dict:
    """One independently seeded block of n_events accepted candidates, classes shuffled.

    Returns the published keys (module docstring of :mod:`hepml.io.publish`): et, ee
    (n, 31, 31, 1) float32 GeV; ht, he (n, 32, 32, 1) float32 GeV; hl (n, 7) float64;
    mass (n, 1) float64 GeV; y (n,) int8, 1 = electron.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, block]))
    n_signal = int(round(settings.signal_fraction * n_events))
    parts = [
        _simulate_class(rng, n_signal, True, settings) if n_signal else None,
        _simulate_class(rng, n_events - n_signal, False, settings) if n_events > n_signal else None,
    ]
    parts = [p for p in parts if p is not None]
    raw = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    y = np.concatenate([np.ones(n_signal), np.zeros(n_events - n_signal)])
    order = rng.permutation(n_events)
    raw = {key: value[order] for key, value in raw.items()}
    return finish_images(raw, y[order])


def simulate_electrons(
    n_events: int, seed: int, settings: ElectronSimSettings, chunk_size: int = 10_000
) -> Iterator[dict[str, np.ndarray]]:
    """Yield chunks (dicts of the published keys, see :func:`simulate_block`) of n_events in all.

    Chunks hold chunk_size events (the last one fewer); events come in a fixed order that
    depends only on (n_events, seed, settings).  Progress is logged once per chunk.
    """
    if n_events < 1 or chunk_size < 1:
        raise ValueError(f"n_events and chunk_size must be >= 1, got {n_events}, {chunk_size}")
    start = time.perf_counter()
    buffer: list[dict[str, np.ndarray]] = []
    buffered = done = 0
    n_blocks = -(-n_events // BLOCK_SIZE)
    for block in range(n_blocks):
        size = min(BLOCK_SIZE, n_events - block * BLOCK_SIZE)
        buffer.append(simulate_block(seed, block, size, settings))
        buffered += size
        while buffered >= chunk_size or (block == n_blocks - 1 and buffered > 0):
            merged = {key: np.concatenate([b[key] for b in buffer]) for key in buffer[0]}
            take = min(chunk_size, buffered)
            chunk = {key: value[:take] for key, value in merged.items()}
            rest = {key: value[take:] for key, value in merged.items()}
            buffer, buffered = ([rest] if buffered > take else []), buffered - take
            done += take
            log.info(
                "simulated %d/%d electron-sample events (%.0f%%) in %.1f s",
                done,
                n_events,
                100.0 * done / n_events,
                time.perf_counter() - start,
            )
            yield chunk


def require_both_classes(
    chunks: Iterable[dict[str, np.ndarray]],
    sizes: Mapping[str, int],
    signal_fraction: float,
) -> Iterator[dict[str, np.ndarray]]:
    """The chunks of :func:`simulate_electrons`, passed on unchanged, checked on the way: the
    published file's splits are consecutive event ranges of ``sizes`` (train, valid, test;
    :func:`hepml.io.publish.split_sizes`), and after the last chunk a split holding one class
    only raises ValueError naming simulate.n_events (a split of one class has no AUC and
    would stop every unpack job of the dataset). Raised while the file is still being
    written, so it leaves no output (:class:`hepml.io.publish.PublishedWriter`).

    The events are shuffled (:func:`simulate_block`), not stratified per split, so that the
    published numbers of every existing run stay as they are; the schema's minimum n_events
    makes a split of one class improbable (about 3e-5 at 100 events and signal_fraction 0.5),
    this check makes it a clear error instead of a failure downstream.
    """
    bounds = {}
    start = 0
    for split in SPLITS:
        bounds[split] = (start, start + sizes[split])
        start += sizes[split]
    counts = {split: np.zeros(2, dtype=np.int64) for split in SPLITS}
    position = 0
    for chunk in chunks:
        y = np.asarray(chunk["y"])
        for split, (lo, hi) in bounds.items():
            part = y[max(lo - position, 0) : max(hi - position, 0)]
            counts[split] += np.bincount(part.astype(np.int64), minlength=2)[:2]
        position += len(y)
        yield chunk
    one_class = {split: n.tolist() for split, n in counts.items() if not n.all()}
    if one_class:
        described = "; ".join(
            f"{split} holds {n[1]} electrons and {n[0]} jets" for split, n in one_class.items()
        )
        raise ValueError(
            f"simulate.n_events = {position} with signal_fraction {signal_fraction}: "
            f"{described} (splits 64/16/20 of shuffled events: {dict(sizes)}); every split "
            "needs both classes: raise simulate.n_events or bring signal_fraction nearer 0.5"
        )


# Published layout of the electron files (docs/reference.md 1, "Published data").
ELECTRON_LAYOUT = {
    "et": ((ECAL.n_phi, ECAL.n_eta, 1), "float32"),
    "ht": ((HCAL.n_phi, HCAL.n_eta, 1), "float32"),
    "ee": ((ECAL.n_phi, ECAL.n_eta, 1), "float32"),
    "he": ((HCAL.n_phi, HCAL.n_eta, 1), "float32"),
    "hl": ((7,), "float64"),
    "mass": ((1,), "float64"),
    "y": ((), "int8"),
}
IMAGE_KEYS = ("et", "ht", "ee", "he")
STANDARDISED_KEYS = ("hl", "mass")
