"""The Higgs benchmark's events (Baldi, Sadowski & Whiteson, Nature Commun. 5, 4308 (2014),
arXiv:1402.4735) from Pythia 8 through the Delphes ATLAS card, as 28 features per event.

The paper generated its events with MadGraph5, showered them with Pythia and simulated the
detector with Delphes (ATLAS card), all at 8 TeV; here Pythia 8 makes the hard process too
(docs/generator.md "Higgs benchmark events" lists every choice and what differs):

* signal gg -> H0 -> W-+ H+- -> W-+ W+- h0 -> l nu j j b b (``Higgs:useBSM``,
  ``HiggsBSM:gg2H2``; H0 at 425 GeV, H+- at 325 GeV, h0 at 125 GeV, the paper's masses).
  Two settings are required: ``HiggsH2:coup2HchgW``, the H0 -> W H+- coupling, is 0 by
  default (Pythia 8 manual, "Higgs Processes", section "Beyond the Standard Model Higgs,
  couplings"), which closes the only decay we keep and makes every cross-section vanish; and
  the H0 line shape is cut below the W H+- threshold (``35:mMin``), else Pythia draws H0
  masses below it and aborts those events ("no open decay channel");
* background t tbar (``Top:gg2ttbar``, ``Top:qqbar2ttbar``), the paper's background;
* both classes with the W decays forced to what the selection keeps: W+ -> e+ nu, mu+ nu and
  W- -> q q' (``24:onPosIfAny``, ``24:onNegIfAny``). Each event holds one W+ and one W-, so
  every event has one leptonic and one hadronic W; the lepton is always positive, which no
  feature sees (the 28 features carry no charge).

Per event, the Delphes ATLAS card (``cards/delphes_card_ATLAS.tcl``, Delphes 3.4):

1. leptons: stable electrons and muons with the card's tracking efficiency times its electron
   or muon efficiency, its momentum resolution (log-normal in pT, as Delphes'
   MomentumSmearing), and its isolation (sum of the pT > 0.5 GeV visible particles other than
   electrons and muons within Delta R < 0.5, over the lepton pT, below 0.12 for electrons,
   0.25 for muons; Delphes sums its energy-flow objects, here the particles themselves);
2. the calorimeter towers of :mod:`hepml.sources.pythia.calorimeter`; anti-kT jets (FastJet)
   with R = 0.6 and pT > 20 GeV (the card's FastJetFinder) on all towers, the card's jet
   energy scale ``sqrt((3.0 - 0.2 |eta|)^2 / pT + 1)``; the jet holding a selected electron's
   towers (the nearest within Delta R < R) is dropped, as Delphes' UniqueObjectFinder does;
3. b-tagging: a jet's flavour is 5 when a b quark (pT > 1 GeV, |eta| < 2.5) of the event
   record lies within Delta R < 0.5 of its axis, else 4 for a c quark, else light (the card's
   JetFlavorAssociation); tagged with probability 0.80 tanh(0.003 pT) 30 / (1 + 0.086 pT)
   (b), 0.20 tanh(0.02 pT) / (1 + 0.0034 pT) (c), 0.002 + 7.3e-6 pT (light);
4. missing transverse momentum: minus the vector sum of the towers and of the reconstructed
   muons (the card sums towers only, which leaves the muons in it; ATLAS adds them);
5. the paper's selection: exactly one electron or muon with pT > 20 GeV and |eta| < 2.5, at
   least four jets with pT > 20 GeV and |eta| < 2.5, at least two of them b-tagged.

The features (UCI order, :data:`FEATURES`): the lepton's pT, eta, phi; the missing transverse
momentum and its phi; the four leading jets' pT, eta, phi and b-tag (0 or 1: the card has one
working point); and the seven masses of :func:`high_level`.
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hepml.settings import dataclass_from_config
from hepml.sources.pythia.pythia import (
    Particles,
    final_state,
    pythia_seed,
    select_events,
    start_pythia,
)

log = logging.getLogger(__name__)
STREAM_SIGNAL, STREAM_BACKGROUND, STREAM_DETECTOR = 21, 22, 23

# PDG 2024 (Review of Particle Physics, Phys. Rev. D 110, 030001): W mass, top mass (direct
# measurements).
W_MASS = 80.369
TOP_MASS = 172.57

LOW_LEVEL = (
    "lepton_pT", "lepton_eta", "lepton_phi", "missing_energy_magnitude", "missing_energy_phi",
    "jet1_pt", "jet1_eta", "jet1_phi", "jet1_btag", "jet2_pt", "jet2_eta", "jet2_phi",
    "jet2_btag", "jet3_pt", "jet3_eta", "jet3_phi", "jet3_btag", "jet4_pt", "jet4_eta",
    "jet4_phi", "jet4_btag",
)  # fmt: skip
HIGH_LEVEL = ("m_jj", "m_jjj", "m_lv", "m_jlv", "m_bb", "m_wbb", "m_wwbb")
FEATURES = LOW_LEVEL + HIGH_LEVEL
# Columns that take both signs: standardised when the table is scaled (the others, positive,
# are divided by their mean), as the UCI file (hepml.sources.pythia.chunks.scale_table).
SIGNED = tuple(name for name in FEATURES if name.endswith(("_eta", "_phi")))

# The Delphes ATLAS card's lepton numbers (module docstring).
ISOLATION_R = 0.5
ISOLATION_PT_MIN = 0.5
ISOLATION_RATIO_MAX = {11: 0.12, 13: 0.25}
FLAVOUR_R = 0.5
FLAVOUR_PARTON_PT_MIN = 1.0
FLAVOUR_PARTON_ETA_MAX = 2.5


@dataclass(frozen=True)
class HiggsGenSettings:
    """``datasets.<tabular dataset>.generate`` without n_events and chunks (n_events is per
    class for this kind: each chunk makes as many signal as background events).

    Masses and momenta in GeV. ``signal_commands`` / ``background_commands`` come after the
    process commands that the masses and couplings build (:meth:`commands`), so they may
    override them.
    """

    ecm_gev: float = 8000.0
    heavy_higgs_mass: float = 425.0  # H0 (PDG code 35), the paper's
    charged_higgs_mass: float = 325.0  # H+- (37), the paper's
    light_higgs_mass: float = 125.0  # h0 (25), the paper's
    # H0 -> W H+- coupling (HiggsH2:coup2HchgW, default 0 in Pythia: no signal at all); 1.0 is
    # the coupling's natural scale (the manual's other H2 couplings default to 1).
    coupling_h0_w_hchg: float = 1.0
    # Lower end of the H0 line shape: above m_W + m_H+- (405.4 GeV), else no open decay.
    heavy_higgs_mass_min: float = 406.0
    signal_commands: tuple[str, ...] = ()
    background_commands: tuple[str, ...] = ("Top:gg2ttbar = on", "Top:qqbar2ttbar = on")
    # One W leptonic (e, mu), the other hadronic, in both classes (module docstring).
    w_commands: tuple[str, ...] = (
        "24:onMode = off",
        "24:onPosIfAny = 11 13",
        "24:onNegIfAny = 1 2 3 4 5",
    )
    multiparton_interactions: bool = True
    jet_r: float = 0.6  # the card's FastJetFinder
    jet_pt_min: float = 20.0  # the paper's
    jet_eta_max: float = 2.5
    lepton_pt_min: float = 20.0
    lepton_eta_max: float = 2.5
    jets_min: int = 4
    btags_min: int = 2
    smear: bool = True
    max_events_per_pick: int = 100

    def __post_init__(self) -> None:
        self.check_process()
        if self.jets_min < 4:
            raise ValueError("generate.jets_min: expected >= 4 (the features need four jets)")
        if not 2 <= self.btags_min <= self.jets_min:
            raise ValueError("generate.btags_min: expected 2 <= btags_min <= jets_min")

    def check_process(self) -> None:
        """The checks of the process and detector keys (shared with the ntuple generator,
        :mod:`hepml.sources.pythia.higgs_ntuples`, whose selection is a looser skim)."""
        for name in ("ecm_gev", "jet_r", "max_events_per_pick", "coupling_h0_w_hchg"):
            if getattr(self, name) <= 0:
                raise ValueError(f"generate.{name}: expected > 0")
        threshold = W_MASS + self.charged_higgs_mass
        if self.heavy_higgs_mass_min < threshold:
            raise ValueError(
                f"generate.heavy_higgs_mass_min: {self.heavy_higgs_mass_min} is below the "
                f"W H+- threshold {threshold:.1f} GeV: Pythia would draw H0 masses with no "
                "open decay channel"
            )
        if not threshold < self.heavy_higgs_mass:
            raise ValueError("generate.heavy_higgs_mass: expected above m_W + charged_higgs_mass")

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> HiggsGenSettings:
        """Settings from the config block; n_events and chunks are ignored (passed apart)."""
        return dataclass_from_config(cls, config, "generate", ignore=("n_events", "chunks"))

    def commands(self, signal: bool) -> tuple[str, ...]:
        """The Pythia commands of one class."""
        if signal:
            process = (
                "Higgs:useBSM = on",
                "HiggsBSM:gg2H2 = on",
                f"HiggsH2:coup2HchgW = {self.coupling_h0_w_hchg}",
                f"25:m0 = {self.light_higgs_mass}",
                f"35:m0 = {self.heavy_higgs_mass}",
                f"35:mMin = {self.heavy_higgs_mass_min}",
                f"37:m0 = {self.charged_higgs_mass}",
                "35:onMode = off",
                "35:onIfMatch = 24 -37",
                "35:onIfMatch = -24 37",
                "37:onMode = off",
                "37:onIfMatch = 24 25",
                "25:onMode = off",
                "25:onIfMatch = 5 -5",
                *self.signal_commands,
            )
        else:
            process = self.background_commands
        mpi = "on" if self.multiparton_interactions else "off"
        return (*process, *self.w_commands, f"PartonLevel:MPI = {mpi}")


# ------------------------------------------------------------------------ four-vectors
def four_vectors(pt, eta, phi, m=0.0) -> np.ndarray:
    """(..., 4) [E, px, py, pz] from pT, eta, phi and mass m."""
    pt, eta, phi, m = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (pt, eta, phi, m)))
    pz = pt * np.sinh(eta)
    energy = np.sqrt(pt**2 + pz**2 + m**2)
    return np.stack([energy, pt * np.cos(phi), pt * np.sin(phi), pz], axis=-1)


def mass(*vectors: np.ndarray) -> float:
    """Invariant mass of the sum of four-vectors [E, px, py, pz] (0 when spacelike)."""
    total = np.sum(vectors, axis=0)
    return math.sqrt(max(total[0] ** 2 - total[1] ** 2 - total[2] ** 2 - total[3] ** 2, 0.0))


def _pt_eta_phi(vector: np.ndarray) -> tuple[float, float, float]:
    pt = math.hypot(vector[1], vector[2])
    eta = math.asinh(vector[3] / pt) if pt > 0 else math.copysign(math.inf, vector[3])
    return pt, eta, math.atan2(vector[2], vector[1])


def _delta_r(eta_a, phi_a, eta_b, phi_b) -> np.ndarray:
    dphi = np.angle(np.exp(1j * (np.asarray(phi_a) - np.asarray(phi_b))))
    return np.hypot(np.asarray(eta_a) - np.asarray(eta_b), dphi)


def neutrino(lepton: np.ndarray, met_x: float, met_y: float) -> np.ndarray:
    """The neutrino four-vector: pT = the missing transverse momentum, pz from
    m(lepton + neutrino) = m_W, the solution of smaller |pz|; when the quadratic has no real
    root (the transverse mass exceeds m_W) its real part. The paper does not say how it
    reconstructs the leptonic W; this is this project's choice (docs/generator.md)."""
    e_l, px_l, py_l, pz_l = lepton
    pt_l2 = px_l**2 + py_l**2
    met2 = met_x**2 + met_y**2
    mu = 0.5 * W_MASS**2 + px_l * met_x + py_l * met_y
    centre = mu * pz_l / pt_l2
    discriminant = centre**2 - (e_l**2 * met2 - mu**2) / pt_l2
    root = math.sqrt(discriminant) if discriminant > 0 else 0.0
    pz = min(centre - root, centre + root, key=abs)
    return np.array([math.sqrt(met2 + pz**2), met_x, met_y, pz])


def high_level(lepton, nu, jets, tags) -> np.ndarray:
    """The seven masses (m_jj, m_jjj, m_lv, m_jlv, m_bb, m_wbb, m_wwbb) of one event.

    lepton, nu: four-vectors (4,); jets (n, 4), pT ordered, n >= 4; tags (n,) bool, >= 2.
    The paper names the masses but not which jets form them; this project's rules
    (docs/generator.md): the two leading b-tagged jets are the b pair (m_bb: the h0); of the other
    jets, the pair whose mass is closest to m_W is the hadronic W (m_jj), as top-quark
    analyses pair their light jets; the b jet that goes with the hadronic W (m_jjj)
    and the one that goes with the leptonic W (m_jlv) are the assignment of the two that
    brings both masses closest to the top mass (least sum of squares, as a t tbar hypothesis
    would); m_wbb = m(jj bb) (the hadronic W with the h0: H+-), m_wwbb = m(jj l nu bb) (H0).
    """
    tagged = np.flatnonzero(tags)
    b1, b2 = tagged[:2]
    rest = [i for i in range(len(jets)) if i not in (b1, b2)]
    w1, w2 = min(
        ((jets[i], jets[j]) for n, i in enumerate(rest) for j in rest[n + 1 :]),
        key=lambda pair: abs(mass(*pair) - W_MASS),
    )
    bb = (jets[b1], jets[b2])
    options = [(bb[0], bb[1]), (bb[1], bb[0])]
    best = min(
        options,
        key=lambda pair: (
            (mass(w1, w2, pair[0]) - TOP_MASS) ** 2 + (mass(lepton, nu, pair[1]) - TOP_MASS) ** 2
        ),
    )
    return np.array(
        [
            mass(w1, w2),
            mass(w1, w2, best[0]),
            mass(lepton, nu),
            mass(lepton, nu, best[1]),
            mass(*bb),
            mass(w1, w2, *bb),
            mass(w1, w2, lepton, nu, *bb),
        ]
    )


# ------------------------------------------------------------------------ detector
def _lognormal(rng: np.random.Generator, mean: np.ndarray, sigma: np.ndarray) -> np.ndarray:
    """Log-normal draws of the given mean and standard deviation (Delphes' LogNormal)."""
    b = np.sqrt(np.log1p((sigma / mean) ** 2))
    return np.exp(np.log(mean) - 0.5 * b**2 + b * rng.standard_normal(len(mean)))


def lepton_efficiency(pid: np.ndarray, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """The card's tracking efficiency times its electron or muon efficiency (pT > 1 GeV)."""
    code, abs_eta = np.abs(pid), np.abs(eta)
    electron = code == 11
    central = abs_eta <= 1.5
    tracking = np.where(
        electron,
        np.where(central, np.where(pt > 100.0, 0.99, 0.95), np.where(pt > 100.0, 0.90, 0.83)),
        np.where(central, 0.99, 0.98),
    )
    tracking = np.where((abs_eta <= 2.5) & (pt > 1.0), tracking, 0.0)
    identified = np.where(central, 0.95, 0.85)
    identified = np.where((pt > 10.0) & (abs_eta <= np.where(electron, 2.5, 2.7)), identified, 0.0)
    return tracking * identified


def lepton_resolution(pid: np.ndarray, pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """Relative pT resolution of the card's electron and muon momentum smearing."""
    abs_eta = np.abs(eta)
    electron = np.abs(pid) == 11
    # (constant, slope) per |eta| region: <= 0.5, <= 1.5, <= 2.5
    const = np.where(abs_eta <= 0.5, np.where(electron, 0.03, 0.01),
                     np.where(abs_eta <= 1.5, np.where(electron, 0.05, 0.015),
                              np.where(electron, 0.15, 0.025)))  # fmt: skip
    slope = np.where(abs_eta <= 0.5, np.where(electron, 1.3e-3, 1.0e-4),
                     np.where(abs_eta <= 1.5, np.where(electron, 1.7e-3, 1.5e-4),
                              np.where(electron, 3.1e-3, 3.5e-4)))  # fmt: skip
    return np.sqrt(const**2 + (pt * slope) ** 2)


def btag_efficiency(flavour: np.ndarray, pt: np.ndarray) -> np.ndarray:
    """The card's b-tagging probability of a jet by flavour (5, 4, else light) and pT."""
    b = 0.80 * np.tanh(0.003 * pt) * (30.0 / (1.0 + 0.086 * pt))
    c = 0.20 * np.tanh(0.02 * pt) * (1.0 / (1.0 + 0.0034 * pt))
    light = 0.002 + 7.3e-6 * pt
    return np.where(flavour == 5, b, np.where(flavour == 4, c, light))


def jet_energy_scale(pt: np.ndarray, eta: np.ndarray) -> np.ndarray:
    """The card's JetEnergyScale factor."""
    return np.sqrt((3.0 - 0.2 * np.abs(eta)) ** 2 / pt + 1.0)


@dataclass
class Leptons:
    """Reconstructed electrons and muons of one event: |PDG id|, pT, eta, phi, isolated,
    charge (units of e)."""

    pid: np.ndarray
    pt: np.ndarray
    eta: np.ndarray
    phi: np.ndarray
    isolated: np.ndarray
    charge: np.ndarray | None = None


def reconstruct_leptons(particles: Particles, rng: np.random.Generator, smear: bool) -> Leptons:
    """The electrons and muons the card reconstructs (efficiency, resolution, isolation)."""
    code = np.abs(particles.pid)
    with np.errstate(invalid="ignore"):  # eta of a pT = 0 particle is NaN: never near
        pt, eta, phi = particles.pt, particles.eta, particles.phi
    candidate = np.isin(code, (11, 13)) & (pt > 0)
    index = np.flatnonzero(candidate)
    kept = index[rng.random(len(index)) < lepton_efficiency(code[index], pt[index], eta[index])]
    lep_pt = pt[kept]
    if smear and len(kept):
        lep_pt = _lognormal(rng, lep_pt, lepton_resolution(code[kept], lep_pt, eta[kept]) * lep_pt)
    visible = ~np.isin(code, (11, 12, 13, 14, 16)) & (pt > ISOLATION_PT_MIN)
    isolated = np.zeros(len(kept), dtype=bool)
    for k, i in enumerate(kept):
        near = visible & (_delta_r(eta, phi, eta[i], phi[i]) < ISOLATION_R)
        isolated[k] = pt[near].sum() / lep_pt[k] < ISOLATION_RATIO_MAX[int(code[i])]
    return Leptons(code[kept], lep_pt, eta[kept], phi[kept], isolated, particles.charge[kept])


def towers(particles: Particles, rng: np.random.Generator, smear: bool) -> np.ndarray:
    """(m, 4) [E, px, py, pz] of the ECal and HCal towers (massless, at their cell centres),
    after the card's resolution and thresholds."""
    from hepml.sources.pythia.jets import tower_constituents

    return tower_constituents(particles, rng, smear)


def find_jets(constituents: np.ndarray, r: float, pt_min: float) -> np.ndarray:
    """(n, 4) anti-kT jets (FastJet, E-scheme) above pt_min, pT ordered."""
    import fastjet  # imported here: only the generate rules need it

    inputs = [
        fastjet.PseudoJet(float(px), float(py), float(pz), float(e))
        for e, px, py, pz in constituents
    ]
    if not inputs:
        return np.zeros((0, 4))
    sequence = fastjet.ClusterSequence(inputs, fastjet.JetDefinition(fastjet.antikt_algorithm, r))
    jets = fastjet.sorted_by_pt(sequence.inclusive_jets(pt_min))
    return np.array([[j.E(), j.px(), j.py(), j.pz()] for j in jets]).reshape(-1, 4)


def jet_flavours(jets: np.ndarray, event) -> np.ndarray:
    """(n,) 5, 4 or 0: the heaviest of b and c quarks of the event record within Delta R 0.5
    of each jet (pT > 1 GeV, |eta| < 2.5), as the card's JetFlavorAssociation."""
    rows = [
        (abs(p.id()), p.pT(), p.eta(), p.phi())
        for p in event
        if abs(p.id()) in (4, 5) and p.pT() > FLAVOUR_PARTON_PT_MIN
    ]
    flavours = np.zeros(len(jets), dtype=np.int64)
    if not rows or not len(jets):
        return flavours
    quarks = np.array(rows)
    quarks = quarks[np.abs(quarks[:, 2]) < FLAVOUR_PARTON_ETA_MAX]
    for k, jet in enumerate(jets):
        _, eta, phi = _pt_eta_phi(jet)
        near = _delta_r(quarks[:, 2], quarks[:, 3], eta, phi) < FLAVOUR_R
        flavours[k] = int(quarks[near, 0].max()) if near.any() else 0
    return flavours


def event_features(
    particles: Particles, event, rng: np.random.Generator, settings: HiggsGenSettings
) -> np.ndarray | None:
    """The 28 features (:data:`FEATURES`) of one event, or None when it fails the selection."""
    leptons = reconstruct_leptons(particles, rng, settings.smear)
    good = (
        leptons.isolated
        & (leptons.pt > settings.lepton_pt_min)
        & (np.abs(leptons.eta) < settings.lepton_eta_max)
    )
    if good.sum() != 1:
        return None
    k = int(np.flatnonzero(good)[0])
    lepton = four_vectors(leptons.pt[k], leptons.eta[k], leptons.phi[k])
    cells = towers(particles, rng, settings.smear)
    jets = find_jets(cells, settings.jet_r, settings.jet_pt_min)
    if len(jets):
        pt = np.hypot(jets[:, 1], jets[:, 2])
        eta = np.arcsinh(jets[:, 3] / pt)
        jets = jets * jet_energy_scale(pt, eta)[:, None]
    # missing transverse momentum: towers and reconstructed muons
    muon = leptons.pid == 13
    met_x = -cells[:, 1].sum() - np.sum(leptons.pt[muon] * np.cos(leptons.phi[muon]))
    met_y = -cells[:, 2].sum() - np.sum(leptons.pt[muon] * np.sin(leptons.phi[muon]))
    if len(jets) and leptons.pid[k] == 11:  # the electron's own jet (UniqueObjectFinder)
        _, eta, phi = np.array([_pt_eta_phi(j) for j in jets]).T
        distance = _delta_r(eta, phi, leptons.eta[k], leptons.phi[k])
        if distance.min() < settings.jet_r:
            jets = np.delete(jets, int(np.argmin(distance)), axis=0)
    if len(jets) < settings.jets_min:
        return None
    pt, eta, phi = np.array([_pt_eta_phi(j) for j in jets]).T
    order = np.argsort(-pt, kind="stable")
    jets, pt, eta, phi = jets[order], pt[order], eta[order], phi[order]
    inside = (pt > settings.jet_pt_min) & (np.abs(eta) < settings.jet_eta_max)
    jets, pt, eta, phi = jets[inside], pt[inside], eta[inside], phi[inside]
    if len(jets) < settings.jets_min:
        return None
    tags = rng.random(len(jets)) < btag_efficiency(jet_flavours(jets, event), pt)
    if tags.sum() < settings.btags_min:
        return None
    nu = neutrino(lepton, met_x, met_y)
    low = [leptons.pt[k], leptons.eta[k], leptons.phi[k], math.hypot(met_x, met_y),
           math.atan2(met_y, met_x)]  # fmt: skip
    for j in range(4):
        low += [pt[j], eta[j], phi[j], float(tags[j])]
    return np.concatenate([low, high_level(lepton, nu, jets, tags)])


def generate_class(
    n_wanted: int,
    signal: bool,
    seed: int,
    chunk: int,
    settings: HiggsGenSettings,
    rng: np.random.Generator,
) -> tuple[np.ndarray, dict[str, float]]:
    """(n_wanted, 28) features of one class and its counts: tried (events Pythia made),
    failed (aborted ``pythia.next()`` calls, e.g. "no open decay channel"), seconds (wall
    time with Pythia's start-up), sigma_mb (Pythia's estimate of the cross-section of the
    process with its forced decays, mb)."""
    stream = STREAM_SIGNAL if signal else STREAM_BACKGROUND
    pythia = start_pythia(
        settings.commands(signal), pythia_seed(seed, chunk, stream), settings.ecm_gev
    )
    counts = {"tried": 0}
    started = time.perf_counter()
    label = "signal" if signal else "ttbar"

    def select(pythia):
        counts["tried"] += 1
        particles, _ = final_state(pythia.event)
        return event_features(particles, pythia.event, rng, settings)

    picked = select_events(
        pythia,
        n_wanted,
        select,
        settings.max_events_per_pick,
        f"chunk {chunk} {label} events",
        "check the Pythia commands against the selection (one lepton, >= 4 jets, b-tags)",
    )
    info = pythia.infoPython()
    counts["seconds"] = time.perf_counter() - started
    # Pythia's counters 3 and 4: next() calls begun and completed (manual, "Event Information")
    counts["failed"] = info.getCounter(3) - info.getCounter(4)
    counts["sigma_mb"] = info.sigmaGen()
    log.info(
        "chunk %d %s: %d of %d events selected (%d aborted), sigma x BR %.3g fb, %.1f s",
        chunk, label, n_wanted, counts["tried"], counts["failed"], counts["sigma_mb"] * 1e12,
        counts["seconds"],
    )  # fmt: skip
    return np.array(picked).reshape(n_wanted, len(FEATURES)), counts


def generate_higgs_chunk(
    seed: int, chunk: int, n_per_class: int, settings: HiggsGenSettings
) -> dict[str, np.ndarray]:
    """One chunk: n_per_class selected signal and n_per_class t tbar events in a seeded random
    order, as arrays for :func:`hepml.sources.pythia.chunks.write_chunk`: features (n, 28)
    unscaled (GeV, radians; :data:`FEATURES`), labels (n,) int8 (1 = signal)."""
    if n_per_class < 1:
        raise ValueError(f"n_per_class: expected >= 1, got {n_per_class}")
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, STREAM_DETECTOR]))
    signal, _ = generate_class(n_per_class, True, seed, chunk, settings, rng)
    background, _ = generate_class(n_per_class, False, seed, chunk, settings, rng)
    features = np.concatenate([signal, background])
    labels = np.repeat(np.array([1, 0], dtype=np.int8), n_per_class)
    order = rng.permutation(len(labels))
    return {"features": features[order], "labels": labels[order]}
