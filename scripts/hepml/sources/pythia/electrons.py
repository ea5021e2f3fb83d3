"""Electron candidates (Z' -> e e) and jets faking electrons (QCD dijets) from Pythia 8 events.

Per event (docs/generator.md, "Electrons"):

1. signal: the highest-pT electron from the Z' decay with |eta| < ``electron_eta_max`` (the
   tracker); its impact point on the calorimeter is where it leaves the solenoid
   (:func:`hepml.sources.pythia.calorimeter.propagate`).  Background: no truth requirement;
2. pile-up (``pileup_mu`` > 0) is overlaid, every stable particle goes through the
   calorimeter (towers, resolution, thresholds of the Delphes ATLAS card);
3. the image centre is the hottest ECal cell (in ET) within +-``centre_search_cells`` cells of
   the electron's impact (signal), or the hottest ECal cell of the event with
   |eta| < ``eta_max`` (background: the highest-ET electron-like object of a dijet event);
4. the same loose preselection for both classes: centre |eta| < ``eta_max`` and ET of the
   3 x 3 ECal cells around the centre above ``cluster_et_min`` (as in
   :mod:`hepml.sources.simulate.electrons`).  Events that fail are skipped;
5. the 31 x 31 ECal cells around the centre and the 8 x 8 HCal cells whose window centre is
   nearest to it become the published images through
   :func:`hepml.sources.simulate.electrons.finish_images`
   (orientation, 4 x 4 HCal upsampling, energy images, the 7 HL features of
   :func:`hepml.hl.compute_hl` and the mass of :func:`hepml.hl.invariant_mass`).

Each chunk runs its own Pythia generators (signal, background, minimum bias) and numpy
stream, seeded from (config seed, chunk, stream): the same configuration gives the same files.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hepml.geometry import ECAL, HCAL_UPSAMPLE
from hepml.sources.pythia import calorimeter as calo
from hepml.sources.pythia.pileup import build_library, overlay
from hepml.sources.pythia.pythia import (
    Particles,
    PythiaSettings,
    final_state,
    origin,
    pythia_seed,
    select_events,
    start_pythia,
)
from hepml.sources.simulate.electrons import finish_images

STREAM_SIGNAL, STREAM_BACKGROUND, STREAM_MINBIAS, STREAM_DETECTOR = 1, 2, 3, 4
HCAL_CELLS = 32 // HCAL_UPSAMPLE  # 8 x 8 HCal cells make the 32 x 32 HCal image


@dataclass(frozen=True)
class ElectronGenSettings(PythiaSettings):
    """``datasets.<name>.generate`` of kind electrons without n_events and chunks
    (config/schema.yaml ``$defs/generate_electrons``): PythiaSettings' keys and the selection.

    Commands are Pythia 8 settings strings; energies in GeV; angles in eta units.
    """

    signal_commands: tuple[str, ...] = (
        "NewGaugeBoson:ffbar2gmZZprime = on",
        "Zprime:gmZmode = 3",
        "32:m0 = 50",
        "32:onMode = off",
        "32:onIfAny = 11",
    )
    background_commands: tuple[str, ...] = ("HardQCD:all = on", "PhaseSpace:pTHatMin = 30")
    minbias_commands: tuple[str, ...] = ("SoftQCD:inelastic = on",)
    pileup_mu: float = 0.0
    minbias_library_size: int = 200
    electron_eta_max: float = 2.5
    eta_max: float = 2.1
    cluster_et_min: float = 10.0
    centre_search_cells: int = 2
    image_scale: float = 100.0
    max_events_per_candidate: int = 200

    def __post_init__(self) -> None:
        super().__post_init__()
        for name in ("pileup_mu", "cluster_et_min"):
            if getattr(self, name) < 0:
                raise ValueError(f"generate.{name}: expected >= 0")
        if not 0 < self.eta_max <= self.electron_eta_max:
            raise ValueError("generate.eta_max: expected 0 < eta_max <= electron_eta_max")


def _wrap(d_phi_cells: np.ndarray, n_phi: int) -> np.ndarray:
    """Cell-index differences in phi folded into [-n_phi / 2, n_phi / 2)."""
    return (d_phi_cells + n_phi // 2) % n_phi - n_phi // 2


def candidate_images(
    particles: Particles,
    rng: np.random.Generator,
    settings: ElectronGenSettings,
    impact: tuple[float, float] | None,
) -> dict[str, np.ndarray] | None:
    """The candidate of one event, or None when it fails the preselection.

    particles: every stable particle of the event (hard event and pile-up); impact: (eta, phi)
    of the electron at the calorimeter (signal) or None (background: hottest ECal cell).
    Returns et (31, 31) ECal ET in GeV and hcal_cells (8, 8) HCal cell ET in GeV, rows phi
    ascending, and eta, the eta of the image centre.
    """
    ecal_raw, hcal_raw = calo.deposit(particles)
    ecal = calo.respond(rng, ecal_raw, ecal=True, smear=settings.smear)
    hcal = calo.respond(rng, hcal_raw, ecal=False, smear=settings.smear)
    if len(ecal.energy) == 0:
        return None
    ecal_et = calo.tower_et(ecal, ecal=True)
    if impact is None:
        allowed = np.abs(ecal.eta(calo.ECAL_D_ETA)) < settings.eta_max
    else:
        i_eta = math.floor(impact[0] / calo.ECAL_D_ETA)
        i_phi = math.floor((impact[1] + math.pi) / calo.ECAL_D_PHI) % calo.ECAL_N_PHI
        search = settings.centre_search_cells
        allowed = (np.abs(ecal.i_eta - i_eta) <= search) & (
            np.abs(_wrap(ecal.i_phi - i_phi, calo.ECAL_N_PHI)) <= search
        )
    if not allowed.any():
        return None
    hottest = np.flatnonzero(allowed)[np.argmax(ecal_et[allowed])]
    c_eta, c_phi = int(ecal.i_eta[hottest]), int(ecal.i_phi[hottest])
    eta_centre = (c_eta + 0.5) * calo.ECAL_D_ETA
    d_eta = ecal.i_eta - c_eta
    d_phi = _wrap(ecal.i_phi - c_phi, calo.ECAL_N_PHI)
    cluster = ecal_et[(np.abs(d_eta) <= 1) & (np.abs(d_phi) <= 1)].sum()
    if abs(eta_centre) >= settings.eta_max or cluster <= settings.cluster_et_min:
        return None

    half = ECAL.n_eta // 2
    inside = (np.abs(d_eta) <= half) & (np.abs(d_phi) <= half)
    et = np.zeros(ECAL.shape)
    np.add.at(et, (d_phi[inside] + half, d_eta[inside] + half), ecal_et[inside])

    # HCal: the 8 x 8 window of absolute HCal cells whose centre is nearest the image centre.
    phi_centre = -math.pi + (c_phi + 0.5) * calo.ECAL_D_PHI
    first_eta = round(eta_centre / calo.HCAL_D_ETA) - HCAL_CELLS // 2
    first_phi = round((phi_centre + math.pi) / calo.HCAL_D_PHI) - HCAL_CELLS // 2
    h_eta = hcal.i_eta - first_eta
    h_phi = _wrap(hcal.i_phi - first_phi - HCAL_CELLS // 2, calo.HCAL_N_PHI) + HCAL_CELLS // 2
    inside = (h_eta >= 0) & (h_eta < HCAL_CELLS) & (h_phi >= 0) & (h_phi < HCAL_CELLS)
    cells = np.zeros((HCAL_CELLS, HCAL_CELLS))
    np.add.at(cells, (h_phi[inside], h_eta[inside]), calo.tower_et(hcal, ecal=False)[inside])
    return {"et": et, "hcal_cells": cells, "eta": np.float64(eta_centre)}


def _prompt_electron(particles: Particles, record, indices: np.ndarray, eta_max: float):
    """(eta, phi) at the calorimeter of the highest-pT electron from the Z' with
    |eta| < eta_max, or None."""
    electrons = np.flatnonzero((np.abs(particles.pid) == 11) & (np.abs(particles.eta) < eta_max))
    electrons = [i for i in electrons if origin(record, int(indices[i])) == "zprime"]
    if not electrons:
        return None
    best = electrons[int(np.argmax(particles.pt[electrons]))]
    eta, phi = calo.propagate(particles.take(np.array([best])))
    return float(eta[0]), float(phi[0])


def _generate_class(
    n_wanted: int,
    signal: bool,
    seed: int,
    chunk: int,
    settings: ElectronGenSettings,
    rng: np.random.Generator,
    library,
) -> dict[str, np.ndarray]:
    """n_wanted preselected candidates of one class: et (n, 31, 31), hcal_cells (n, 8, 8),
    eta (n,).  Progress goes to the log every ~10 s."""
    stream = STREAM_SIGNAL if signal else STREAM_BACKGROUND
    commands = settings.signal_commands if signal else settings.background_commands
    pythia = start_pythia(commands, pythia_seed(seed, chunk, stream), settings.ecm_gev)
    label = "signal" if signal else "background"

    def select(pythia):
        particles, indices = final_state(pythia.event)
        impact = None
        if signal:
            impact = _prompt_electron(particles, pythia.event, indices, settings.electron_eta_max)
            if impact is None:
                return None
        if settings.pileup_mu > 0:
            particles = Particles.concat([particles, overlay(rng, library, settings.pileup_mu)])
        return candidate_images(particles, rng, settings, impact)

    accepted = select_events(
        pythia,
        n_wanted,
        select,
        settings.max_events_per_candidate,
        f"chunk {chunk} {label} candidates",
        "loosen the preselection or check the Pythia commands",
    )
    return {key: np.stack([a[key] for a in accepted]) for key in accepted[0]}


def generate_electron_chunk(
    seed: int, chunk: int, n_events: int, settings: ElectronGenSettings
) -> dict[str, np.ndarray]:
    """One chunk of n_events candidates (both classes), in a seeded random order.

    Returns the published keys (:data:`hepml.sources.simulate.electrons.ELECTRON_LAYOUT`):
    et, ee (n, 31, 31, 1) and ht, he (n, 32, 32, 1) float32 in GeV, hl (n, 7), mass (n, 1),
    y (n,) int8 with 1 = electron.
    """
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, STREAM_DETECTOR]))
    library = None
    if settings.pileup_mu > 0:
        library = build_library(
            settings.minbias_commands,
            pythia_seed(seed, chunk, STREAM_MINBIAS),
            settings.minbias_library_size,
            settings.ecm_gev,
        )
    n_signal = int(round(settings.signal_fraction * n_events))
    parts = [
        _generate_class(n, signal, seed, chunk, settings, rng, library)
        for n, signal in ((n_signal, True), (n_events - n_signal, False))
        if n > 0
    ]
    raw = {key: np.concatenate([p[key] for p in parts]) for key in parts[0]}
    y = np.concatenate([np.ones(n_signal), np.zeros(n_events - n_signal)])
    order = rng.permutation(n_events)
    return finish_images({key: value[order] for key, value in raw.items()}, y[order])
