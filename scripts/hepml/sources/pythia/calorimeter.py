"""A parametrised calorimeter: Delphes' SimpleCalorimeter with the Delphes ATLAS card numbers.

Every number below comes from ``cards/delphes_card_ATLAS.tcl`` of Delphes (the authors ran
Delphes 3.4.1, electron paper arXiv:2011.01984 sec. II, muon paper arXiv:2102.02278 sec. 2;
the ATLAS card is this project's choice, docs/generator.md), except the cell sizes, which are
the authors' image granularity (electron paper sec. II: ECal 0.025 x pi/126, HCal 0.1 x pi/31):

* propagation (module ParticlePropagator): a solenoid of radius 1.15 m, half-length 3.51 m,
  Bz = 2.0 T.  Charged particles follow a helix; a particle is placed at the azimuth and
  pseudorapidity of the point where it leaves the cylinder (barrel or end cap), as Delphes
  fills towers from the particle's position there;
* energy fractions (ECal / HCal modules): e, gamma, pi0 all in the ECal; K0S and Lambda
  0.3 ECal + 0.7 HCal; neutrinos and muons nothing; every other particle all in the HCal;
* resolutions (ResolutionFormula, E in GeV): ECal sigma = sqrt((0.0017 E)^2 + 0.101^2 E) for
  |eta| <= 3.2, sqrt((0.035 E)^2 + 0.285^2 E) up to 4.9; HCal sigma =
  sqrt((0.0302 E)^2 + 0.5205^2 E + 1.59^2) for |eta| <= 1.7, sqrt((0.05 E)^2 + 0.706^2 E) up
  to 3.2, sqrt((0.0942 E)^2 + 1.0^2 E) up to 4.9;
* smearing and thresholds (SimpleCalorimeter.cc): each cell energy is drawn from a log-normal
  of mean E and width sigma(E); a cell reads zero when the drawn energy is below EnergyMin
  (ECal 0.5 GeV, HCal 1.0 GeV) or below EnergySignificanceMin (2.0, both) x sigma(E);
* coverage: |eta| <= 4.9 (the range of the resolution formulas).

Cells are laid on absolute boundaries: ECal cell (i, j) spans eta [0.025 i, 0.025 (i + 1)) and
phi [-pi + j pi/126, ...); HCal likewise with 0.1 and pi/31.  A cell's ET is its energy over
cosh of the eta of its centre.  Frames and units: eta, phi (radians), energies in GeV.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hepml.geometry import ECAL, HCAL_CELL_ETA, HCAL_CELL_PHI
from hepml.sources.pythia.pythia import Particles

# ParticlePropagator of the Delphes ATLAS card.
RADIUS_M = 1.15
HALF_LENGTH_M = 3.51
BZ_TESLA = 2.0
GEV_PER_TESLA_METRE = 0.299792458  # pT [GeV] = 0.2998 B [T] rho [m] (PDG, "Kinematics")
ETA_COVERAGE = 4.9

# Energy fractions (ECal, HCal) by |PDG id| (EnergyFraction of the card's ECal and HCal).
_EM = (11, 22, 111)
_INVISIBLE = (12, 13, 14, 16, 1000022, 1000023, 1000025, 1000035, 1000045)
_LONG_LIVED_NEUTRAL = (310, 3122)
LONG_LIVED_ECAL_FRACTION = 0.3

# Thresholds (EnergyMin, EnergySignificanceMin of the card's ECal and HCal).
ECAL_ENERGY_MIN = 0.5
HCAL_ENERGY_MIN = 1.0
SIGNIFICANCE_MIN = 2.0

# Cell sizes: the authors' images (electron paper sec. II, hepml.geometry).
ECAL_D_ETA, ECAL_D_PHI = ECAL.d_eta, ECAL.d_phi
ECAL_N_PHI = int(round(2 * math.pi / ECAL_D_PHI))  # 252
HCAL_D_ETA, HCAL_D_PHI = HCAL_CELL_ETA, HCAL_CELL_PHI
HCAL_N_PHI = int(round(2 * math.pi / HCAL_D_PHI))  # 62


def energy_fractions(pid: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(n,) ECal and (n,) HCal fractions of each particle's energy (Delphes ATLAS card)."""
    code = np.abs(np.asarray(pid))
    ecal = np.zeros(len(code))
    hcal = np.ones(len(code))
    em = np.isin(code, _EM)
    ecal[em], hcal[em] = 1.0, 0.0
    invisible = np.isin(code, _INVISIBLE)
    hcal[invisible] = 0.0
    long_lived = np.isin(code, _LONG_LIVED_NEUTRAL)
    ecal[long_lived] = LONG_LIVED_ECAL_FRACTION
    hcal[long_lived] = 1.0 - LONG_LIVED_ECAL_FRACTION
    return ecal, hcal


def ecal_sigma(energy: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """ECal resolution sigma(E) in GeV (card ResolutionFormula); 0 outside the coverage."""
    energy, abs_eta = np.asarray(energy, dtype=float), np.abs(eta)
    central = np.sqrt((0.0017 * energy) ** 2 + 0.101**2 * energy)
    forward = np.sqrt((0.0350 * energy) ** 2 + 0.285**2 * energy)
    return np.where(abs_eta <= 3.2, central, np.where(abs_eta <= ETA_COVERAGE, forward, 0.0))


def hcal_sigma(energy: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """HCal resolution sigma(E) in GeV (card ResolutionFormula); 0 outside the coverage."""
    energy, abs_eta = np.asarray(energy, dtype=float), np.abs(eta)
    barrel = np.sqrt((0.0302 * energy) ** 2 + 0.5205**2 * energy + 1.59**2)
    endcap = np.sqrt((0.0500 * energy) ** 2 + 0.706**2 * energy)
    forward = np.sqrt((0.0942 * energy) ** 2 + 1.00**2 * energy)
    return np.where(
        abs_eta <= 1.7,
        barrel,
        np.where(abs_eta <= 3.2, endcap, np.where(abs_eta <= ETA_COVERAGE, forward, 0.0)),
    )


def propagate(particles: Particles) -> tuple[np.ndarray, np.ndarray]:
    """(eta, phi) where each particle leaves the solenoid (Delphes ParticlePropagator).

    Neutral particles fly straight: their momentum direction.  A charged particle of
    transverse momentum pT and charge q moves on a helix of radius rho = pT / (0.2998 Bz);
    after turning by alpha its distance from the beam is 2 rho sin(alpha / 2) and its azimuth
    phi0 - q alpha / 2 (positive charges bend clockwise in +Bz), while z grows by
    rho alpha sinh(eta).  It leaves through the barrel (r = 1.15 m) when it gets there before
    |z| = 3.51 m, else through the end cap; loopers (2 rho < 1.15 m) always leave through the
    end cap.  The returned eta is that of the exit point seen from the origin.
    """
    eta, phi, pt = particles.eta, particles.phi, particles.pt
    out_eta, out_phi = eta.copy(), phi.copy()
    charged = (particles.charge != 0) & (pt > 0)
    if not charged.any():
        return out_eta, out_phi
    q, pt_c, eta_c = particles.charge[charged], pt[charged], eta[charged]
    rho = pt_c / (GEV_PER_TESLA_METRE * BZ_TESLA)
    sinh = np.abs(np.sinh(eta_c))
    reaches = 2.0 * rho >= RADIUS_M
    alpha_barrel = 2.0 * np.arcsin(np.clip(RADIUS_M / (2.0 * rho), 0.0, 1.0))
    z_barrel = rho * alpha_barrel * sinh
    barrel = reaches & (z_barrel <= HALF_LENGTH_M)
    with np.errstate(divide="ignore"):
        alpha_endcap = HALF_LENGTH_M / (rho * sinh)
    alpha = np.where(barrel, alpha_barrel, alpha_endcap)
    r = np.where(barrel, RADIUS_M, 2.0 * rho * np.abs(np.sin(np.where(barrel, 0.0, alpha) / 2)))
    z = np.where(barrel, z_barrel, HALF_LENGTH_M) * np.sign(eta_c)
    with np.errstate(divide="ignore", invalid="ignore"):
        exit_eta = np.arcsinh(z / r)
    exit_eta = np.where(np.isfinite(exit_eta), exit_eta, np.sign(eta_c) * np.inf)
    out_eta[charged] = exit_eta
    out_phi[charged] = np.angle(np.exp(1j * (phi[charged] - q * alpha / 2.0)))
    return out_eta, out_phi


@dataclass
class Towers:
    """Cell energies of many events, flat arrays (n,): event index, integer eta and phi cell
    indices on the absolute grid (module docstring), energy in GeV.  One row per hit cell."""

    event: np.ndarray
    i_eta: np.ndarray
    i_phi: np.ndarray
    energy: np.ndarray

    def eta(self, d_eta: float) -> np.ndarray:
        """(n,) eta of the cell centres for cells of size d_eta."""
        return (self.i_eta + 0.5) * d_eta

    def take(self, index: np.ndarray) -> Towers:
        return Towers(self.event[index], self.i_eta[index], self.i_phi[index], self.energy[index])


def _sum_cells(event, i_eta, i_phi, energy, n_phi: int) -> Towers:
    """Towers with the energies of the same (event, cell) added up; energy-free rows dropped."""
    keep = energy > 0
    event, i_eta, i_phi, energy = event[keep], i_eta[keep], i_phi[keep], energy[keep]
    if len(energy) == 0:
        empty = np.zeros(0, dtype=np.int64)
        return Towers(empty, empty, empty, np.zeros(0))
    offset = int(np.abs(i_eta).max()) + 1
    key = (event * (2 * offset) + (i_eta + offset)) * n_phi + i_phi
    unique, inverse = np.unique(key, return_inverse=True)
    total = np.bincount(inverse, weights=energy)
    i_phi_u = unique % n_phi
    rest = unique // n_phi
    return Towers(rest // (2 * offset), rest % (2 * offset) - offset, i_phi_u, total)


def deposit(particles: Particles) -> tuple[Towers, Towers]:
    """ECal and HCal towers (before resolution and thresholds) of the particles.

    Each particle leaves its ECal and HCal fractions of its energy in the one cell of each
    calorimeter that contains its exit point from the solenoid (:func:`propagate`), as in
    Delphes; particles outside |eta| <= 4.9 deposit nothing.
    """
    eta, phi = propagate(particles)
    inside = np.abs(eta) <= ETA_COVERAGE
    f_ecal, f_hcal = energy_fractions(particles.pid)
    event, e = particles.event[inside], particles.e[inside]
    eta, phi = eta[inside], phi[inside]
    towers = []
    for fraction, d_eta, d_phi, n_phi in (
        (f_ecal[inside], ECAL_D_ETA, ECAL_D_PHI, ECAL_N_PHI),
        (f_hcal[inside], HCAL_D_ETA, HCAL_D_PHI, HCAL_N_PHI),
    ):
        i_eta = np.floor(eta / d_eta).astype(np.int64)
        i_phi = np.floor((phi + math.pi) / d_phi).astype(np.int64) % n_phi
        towers.append(_sum_cells(event, i_eta, i_phi, fraction * e, n_phi))
    return towers[0], towers[1]


def visible_energy(particles: Particles) -> float:
    """Energy the calorimeters receive: sum of (ECal + HCal fraction) x E over the particles
    whose exit point lies within the coverage (the bookkeeping :func:`deposit` must match)."""
    eta, _ = propagate(particles)
    f_ecal, f_hcal = energy_fractions(particles.pid)
    inside = np.abs(eta) <= ETA_COVERAGE
    return float(np.sum(((f_ecal + f_hcal) * particles.e)[inside]))


def _log_normal(rng: np.random.Generator, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Draws of a log-normal of the given mean and standard deviation (Delphes LogNormal)."""
    b = np.sqrt(np.log1p((sigma / mean) ** 2))
    a = np.log(mean) - 0.5 * b**2
    return np.exp(a + b * rng.standard_normal(len(mean)))


def respond(rng: np.random.Generator, towers: Towers, ecal: bool, smear: bool = True) -> Towers:
    """Towers after the resolution and thresholds of the card (module docstring).

    smear False keeps the true energies but still applies the thresholds (with sigma of the
    true energy), for tests of the bookkeeping.  Cells that read zero are dropped.
    """
    d_eta = ECAL_D_ETA if ecal else HCAL_D_ETA
    eta = towers.eta(d_eta)
    sigma = (ecal_sigma if ecal else hcal_sigma)(towers.energy, eta)
    energy = _log_normal(rng, towers.energy, sigma) if smear else towers.energy.copy()
    minimum = ECAL_ENERGY_MIN if ecal else HCAL_ENERGY_MIN
    passed = (energy >= minimum) & (energy >= SIGNIFICANCE_MIN * sigma)
    out = towers.take(passed)
    out.energy = energy[passed]
    return out


def tower_et(towers: Towers, ecal: bool) -> np.ndarray:
    """(n,) transverse energy of each cell: energy / cosh(eta of the cell centre)."""
    return towers.energy / np.cosh(towers.eta(ECAL_D_ETA if ecal else HCAL_D_ETA))
