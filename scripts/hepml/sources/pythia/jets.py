"""Top jets (ttbar) and QCD jets (dijets) from Pythia 8 in the top-tagging benchmark layout.

The benchmark's recipe (arXiv:1902.09914 sec. 2, and the readme of its data set, Zenodo
record 2603256): 14 TeV, Pythia 8 with its default tune, a Delphes ATLAS detector, anti-kT
R = 0.8 jets (FastJet), the leading jet of each event with 550 < pT < 650 GeV and |eta| < 2;
top jets matched to a parton-level top within Delta R = 0.8 of the jet axis and to all three
of its decay quarks within 0.8; no matching for QCD jets; the leading 200 constituents,
pT ordered, zero-padded.  Here, per event:

1. Pythia 8 (:func:`hepml.sources.pythia.pythia.start_pythia`): signal ttbar (``Top:gg2ttbar``,
   ``Top:qqbar2ttbar``) with every W decaying to quarks (``24:onMode = off``,
   ``24:onIfAny = 1 2 3 4 5``), background QCD 2 -> 2 (``HardQCD:all``), both with the hard
   pT in 500-700 GeV (a window wider than the jet cut, since out-of-cone radiation and the
   underlying event move the jet pT away from pTHat); hadronisation on, multiparton
   interactions off by default, as in the benchmark's sample (its readme: no MPI, no
   pile-up; ``multiparton_interactions: true`` switches them on), no pile-up;
2. the stable particles (:func:`hepml.sources.pythia.pythia.final_state`) through the project's
   calorimeter (:mod:`hepml.sources.pythia.calorimeter`: solenoid propagation, Delphes ATLAS card
   energy fractions, resolutions and thresholds) into ECal and HCal towers; the benchmark
   clustered Delphes energy-flow objects (tracks and towers), this project has no tracker, so
   the constituents are the towers, each a massless four-vector of the tower energy at the
   centre of its cell;
3. anti-kT R = 0.8 (FastJet, E-scheme) on all towers of the event; the leading jet must have
   550 < pT < 650 GeV and |eta| < 2 (``jet_pt_min``, ``jet_pt_max``, ``jet_eta_max``);
4. signal only: a top of the hard process (Pythia's ``process`` record, the parton level
   before showering) within Delta R < 0.8 of the jet, and its b quark and the two quarks of
   its W also within 0.8 (``match_r``); Delta R in rapidity and azimuth, as FastJet measures
   it; the matched top's four-momentum becomes the ``truth*`` columns;
5. the jet's constituents, pT ordered, the first 200 kept.

Events whose leading jet fails are skipped.  Each chunk runs its own two Pythia generators and
its numpy stream for the calorimeter, seeded from (config seed, chunk, stream) with
:func:`hepml.sources.pythia.pythia.pythia_seed`: the same configuration gives the same jets
(the HDF5 bytes written by pandas still differ by PyTables' object timestamps).

Measured rates (accepted jets per CPU second, one core of the development machine, default
settings, Pythia 8.317, FastJet 3.5; two runs of 150-200 jets per class): top 23-28, QCD
33-37 with multiparton interactions on; top 43, QCD 72 with them off.  Pythia's start-up adds
~0.3 s per generator and chunk; the workflow's 40,000 jets (config/jets.yaml, no MPI) took 402
CPU-s in 8 chunks.  The tower jets have ~40 (top) and ~28 (QCD) constituents on average (no
MPI), fewer than the benchmark's energy-flow jets (no tracks, tower thresholds).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from hepml.io.jets import N_CONSTITUENTS
from hepml.jets.preprocess import rapidity_phi, wrap_phi
from hepml.sources.pythia import calorimeter as calo
from hepml.sources.pythia.pythia import (
    Particles,
    PythiaSettings,
    final_state,
    pythia_seed,
    select_events,
    start_pythia,
)

STREAM_SIGNAL, STREAM_BACKGROUND, STREAM_DETECTOR = 11, 12, 13
TOP_ID, W_ID = 6, 24


@dataclass(frozen=True)
class TopGenSettings(PythiaSettings):
    """``datasets.<name>.generate`` of kind jets without n_events and chunks
    (config/schema.yaml ``$defs/generate_jets``): PythiaSettings' keys and the jet selection.

    Commands are Pythia 8 settings strings; energies and momenta in GeV; angles in radians or
    eta units.
    """

    ecm_gev: float = 14000.0
    signal_commands: tuple[str, ...] = (
        "Top:gg2ttbar = on",
        "Top:qqbar2ttbar = on",
        "PhaseSpace:pTHatMin = 500",
        "PhaseSpace:pTHatMax = 700",
        "24:onMode = off",
        "24:onIfAny = 1 2 3 4 5",
    )
    background_commands: tuple[str, ...] = (
        "HardQCD:all = on",
        "PhaseSpace:pTHatMin = 500",
        "PhaseSpace:pTHatMax = 700",
    )
    multiparton_interactions: bool = False  # the benchmark sample has none (its readme)
    jet_r: float = 0.8
    jet_pt_min: float = 550.0
    jet_pt_max: float = 650.0
    jet_eta_max: float = 2.0
    match_r: float = 0.8
    max_events_per_jet: int = 200

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 <= self.jet_pt_min < self.jet_pt_max:
            raise ValueError("generate.jet_pt_min, jet_pt_max: expected 0 <= min < max")
        for name in ("jet_r", "jet_eta_max", "match_r", "max_events_per_jet"):
            if getattr(self, name) <= 0:
                raise ValueError(f"generate.{name}: expected > 0")

    def commands(self, signal: bool) -> tuple[str, ...]:
        """The Pythia commands of one class, with the multiparton-interaction switch."""
        process = self.signal_commands if signal else self.background_commands
        mpi = "on" if self.multiparton_interactions else "off"
        return (*process, f"PartonLevel:MPI = {mpi}")


def tower_constituents(
    particles: Particles, rng: np.random.Generator, smear: bool = True
) -> np.ndarray:
    """(m, 4) [E, px, py, pz] (GeV): the ECal and HCal towers of the particles after the
    card's resolution and thresholds, each a massless vector at the centre of its cell."""
    ecal_raw, hcal_raw = calo.deposit(particles)
    parts = []
    for raw, ecal, d_eta, d_phi in (
        (ecal_raw, True, calo.ECAL_D_ETA, calo.ECAL_D_PHI),
        (hcal_raw, False, calo.HCAL_D_ETA, calo.HCAL_D_PHI),
    ):
        towers = calo.respond(rng, raw, ecal=ecal, smear=smear)
        eta = towers.eta(d_eta)
        phi = -math.pi + (towers.i_phi + 0.5) * d_phi
        pt = towers.energy / np.cosh(eta)
        parts.append(
            np.stack([towers.energy, pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=1)
        )
    return np.concatenate(parts)


def leading_jet(constituents: np.ndarray, r: float) -> tuple[np.ndarray, np.ndarray] | None:
    """The highest-pT anti-kT jet (FastJet, E-scheme) of an event's constituents (m, 4):
    its four-momentum (4,) and its constituents (k, 4), pT ordered; None without a jet."""
    import fastjet  # imported here: only the generate rules need it

    if len(constituents) == 0:
        return None
    inputs = []
    for index, (e, px, py, pz) in enumerate(constituents):
        pseudojet = fastjet.PseudoJet(float(px), float(py), float(pz), float(e))
        pseudojet.set_user_index(index)
        inputs.append(pseudojet)
    sequence = fastjet.ClusterSequence(inputs, fastjet.JetDefinition(fastjet.antikt_algorithm, r))
    jets = sequence.inclusive_jets(0.0)
    if not jets:
        return None
    jet = max(jets, key=lambda j: j.perp())
    members = constituents[[c.user_index() for c in jet.constituents()]]
    members = members[np.argsort(-np.hypot(members[:, 1], members[:, 2]), kind="stable")]
    return np.array([jet.E(), jet.px(), jet.py(), jet.pz()]), members


def passes_selection(jet: np.ndarray, settings: TopGenSettings) -> bool:
    """550 < pT < 650 GeV and |eta| < 2 (the settings' numbers) for a jet four-momentum."""
    pt = math.hypot(jet[1], jet[2])
    if not settings.jet_pt_min < pt < settings.jet_pt_max:
        return False
    return abs(math.asinh(jet[3] / pt)) < settings.jet_eta_max


def hadronic_tops(process) -> list[tuple[np.ndarray, np.ndarray]]:
    """The tops of a Pythia hard-process record that decay to three quarks: a list of
    (top (4,), quarks (3, 4)) four-momenta [E, px, py, pz] (GeV)."""

    def four(particle) -> tuple[float, float, float, float]:
        return (particle.e(), particle.px(), particle.py(), particle.pz())

    def daughters(index: int) -> list[int]:
        return [int(i) for i in process[index].daughterList()]

    tops = []
    for particle in process:
        if abs(particle.id()) != TOP_ID:
            continue
        quarks = []
        for d in daughters(particle.index()):
            if abs(process[d].id()) == W_ID:
                quarks += [w for w in daughters(d) if 1 <= abs(process[w].id()) <= 5]
            elif 1 <= abs(process[d].id()) <= 5:
                quarks.append(d)
        if len(quarks) == 3:
            tops.append((np.array(four(particle)), np.array([four(process[q]) for q in quarks])))
    return tops


def delta_r(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """Delta R in (rapidity, phi) between four-vectors a (..., 4) and b (4,)."""
    y_a, phi_a = rapidity_phi(a)
    y_b, phi_b = rapidity_phi(b)
    return np.hypot(y_a - y_b, wrap_phi(phi_a - phi_b))


def matched_top(jet: np.ndarray, process, match_r: float) -> np.ndarray | None:
    """The four-momentum (4,) of a hadronic top within match_r of the jet whose three decay
    quarks are all within match_r of it, or None."""
    for top, quarks in hadronic_tops(process):
        if delta_r(top, jet) < match_r and np.all(delta_r(quarks, jet) < match_r):
            return top
    return None


def _generate_class(
    n_wanted: int,
    signal: bool,
    seed: int,
    chunk: int,
    settings: TopGenSettings,
    rng: np.random.Generator,
) -> tuple[np.ndarray, np.ndarray]:
    """n_wanted jets of one class: constituents (n, 200, 4) and truth (n, 4); progress to the
    log every ~10 s."""
    stream = STREAM_SIGNAL if signal else STREAM_BACKGROUND
    pythia = start_pythia(
        settings.commands(signal), pythia_seed(seed, chunk, stream), settings.ecm_gev
    )
    label = "top" if signal else "qcd"

    def select(pythia):
        particles, _ = final_state(pythia.event)
        found = leading_jet(tower_constituents(particles, rng, settings.smear), settings.jet_r)
        if found is None or not passes_selection(found[0], settings):
            return None
        jet, members = found
        top = np.zeros(4)
        if signal:
            top = matched_top(jet, pythia.process, settings.match_r)
            if top is None:
                return None
        return members[:N_CONSTITUENTS], top

    picked = select_events(
        pythia,
        n_wanted,
        select,
        settings.max_events_per_jet,
        f"chunk {chunk} {label} jets",
        "check the Pythia commands against the jet selection",
    )
    constituents = np.zeros((n_wanted, N_CONSTITUENTS, 4))
    truth = np.zeros((n_wanted, 4))
    for index, (members, top) in enumerate(picked):
        constituents[index, : len(members)] = members
        truth[index] = top
    return constituents, truth


def generate_top_chunk(
    seed: int, chunk: int, n_jets: int, settings: TopGenSettings
) -> dict[str, np.ndarray]:
    """One chunk of n_jets jets (both classes, ``signal_fraction`` tops) in a seeded random
    order, as arrays for :func:`hepml.io.jets.write_benchmark`:

    constituents (n, 200, 4) [E, px, py, pz] GeV, pT ordered, zero-padded; labels (n,) int8,
    1 = top; truth (n, 4) the matched parton-level top (zeros for QCD jets).
    """
    if n_jets < 1:
        raise ValueError(f"n_jets: expected >= 1, got {n_jets}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, STREAM_DETECTOR]))
    n_signal = int(round(settings.signal_fraction * n_jets))
    parts = [
        _generate_class(n, signal, seed, chunk, settings, rng)
        for n, signal in ((n_signal, True), (n_jets - n_signal, False))
        if n > 0
    ]
    constituents = np.concatenate([p[0] for p in parts])
    truth = np.concatenate([p[1] for p in parts])
    labels = np.concatenate([np.ones(n_signal), np.zeros(n_jets - n_signal)]).astype(np.int8)
    order = rng.permutation(n_jets)
    return {"constituents": constituents[order], "labels": labels[order], "truth": truth[order]}
