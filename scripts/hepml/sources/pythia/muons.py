"""Prompt muons (Z' -> mu mu) and non-prompt muons (heavy-flavour decays) from Pythia 8 events.

Per event (docs/generator.md, "Muons"):

1. the candidate is the highest-pT final-state muon with pT in [``pt_min``, ``pt_max``] and
   |eta| < ``eta_max`` whose ancestry (first mothers) reaches the Z' (signal) or a b- or
   c-hadron (background; :func:`hepml.sources.pythia.pythia.origin`).  Events without one are
   skipped;
2. Poisson(``pileup_mu``) minimum-bias events from the chunk's library are overlaid
   (:mod:`hepml.sources.pythia.pileup`), every stable particle goes through the calorimeter
   (:mod:`hepml.sources.pythia.calorimeter`; the muon itself deposits nothing, as in Delphes);
3. ECal and HCal cell ET are summed on the muon-image grid: 0.025 x 0.025 pixels centred on the
   muon's direction (``geometry.MUON``), each ECal cell in the pixel holding its centre, each
   HCal cell split into its 4 x 4 sub-cells of 1/16 of its ET (the electron images' upsampling);
4. isolation I(R0) = ET of the pixels with centre within Delta R < R0 / muon pT
   (:func:`hepml.sources.simulate.muons.cone_masks`, the toy simulator's cones), on a grid wide
   enough for the largest cone; the image is its central 32 x 32 pixels, phi descending.

The per-event weights (pT reweighting of background to signal, docs/reference.md: the published
``weights_*``) need both classes' pT distributions, so they are computed when the chunks are
merged, from the train events only (:func:`pt_weights_from_sample` called by
:func:`hepml.sources.pythia.chunks.train_pt_weights`), and applied to every split.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

import numpy as np

from hepml.geometry import MUON
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
from hepml.sources.simulate.muons import CLASSES, MuonSimSettings, PtWeights, cone_masks

STREAM_SIGNAL, STREAM_BACKGROUND, STREAM_MINBIAS, STREAM_DETECTOR = 1, 2, 3, 4
_B_HADRONS = (511, 521, 531, 541, 5122, 5132, 5232, 5332)


@dataclass(frozen=True)
class MuonGenSettings(PythiaSettings):
    """``datasets.<name>.generate`` of kind muons without n_events and chunks
    (config/schema.yaml ``$defs/generate_muons``): PythiaSettings' keys and the selection.

    Commands are Pythia 8 settings strings; pT in GeV.  The default background forces every
    b hadron to decay into channels with a muon (an accepted shortcut, docs/generator.md).
    """

    signal_commands: tuple[str, ...] = (
        "NewGaugeBoson:ffbar2gmZZprime = on",
        "Zprime:gmZmode = 3",
        "32:m0 = 20",
        "32:onMode = off",
        "32:onIfAny = 13",
    )
    background_commands: tuple[str, ...] = (
        "HardQCD:hardbbbar = on",
        "PhaseSpace:pTHatMin = 15",
        *(f"{b}:onMode = off" for b in _B_HADRONS),
        *(f"{b}:onIfAny = 13" for b in _B_HADRONS),
    )
    minbias_commands: tuple[str, ...] = ("SoftQCD:inelastic = on",)
    pileup_mu: float = 50.0
    minbias_library_size: int = 1000
    pt_min: float = 10.0
    pt_max: float = 60.0
    eta_max: float = 2.5
    iso_radii: tuple[float, ...] = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45)
    weight_bins: int = 20
    max_events_per_candidate: int = 500

    def __post_init__(self) -> None:
        super().__post_init__()
        if not 0 < self.pt_min < self.pt_max:
            raise ValueError("generate.pt_min/pt_max: expected 0 < pt_min < pt_max")
        # Reuse the toy simulator's checks of the cone radii and the weight bins.
        MuonSimSettings(iso_radii=self.iso_radii, weight_bins=self.weight_bins)

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> MuonGenSettings:
        """Settings from the config block; n_events and chunks are ignored (passed apart).
        Unknown keys raise ValueError naming the key."""
        settings = super().from_config(config)
        return settings.__class__(
            **{**settings.__dict__, "iso_radii": tuple(float(r) for r in settings.iso_radii)}
        )

    @property
    def grid_cells(self) -> int:
        """Pixels per side of the grid the cones are summed on (the toy simulator's rule)."""
        return MuonSimSettings(iso_radii=self.iso_radii).grid_cells


def _hcal_subcells() -> np.ndarray:
    """(16, 2) offsets (eta, phi) of the 4 x 4 sub-cell centres from an HCal cell centre."""
    steps = (np.arange(4) + 0.5) / 4 - 0.5
    d_eta, d_phi = np.meshgrid(steps * calo.HCAL_D_ETA, steps * calo.HCAL_D_PHI, indexing="ij")
    return np.stack([d_eta.ravel(), d_phi.ravel()], axis=1)


def muon_grid(particles: Particles, rng, muon_eta: float, muon_phi: float, cells: int, smear=True):
    """(cells, cells) calorimeter ET in GeV around the muon, rows phi ascending, columns eta.

    particles: every stable particle of the event (the muon deposits nothing, Delphes).
    """
    ecal_raw, hcal_raw = calo.deposit(particles)
    ecal = calo.respond(rng, ecal_raw, ecal=True, smear=smear)
    hcal = calo.respond(rng, hcal_raw, ecal=False, smear=smear)
    sub = _hcal_subcells()
    eta = np.concatenate(
        [
            ecal.eta(calo.ECAL_D_ETA),
            (hcal.eta(calo.HCAL_D_ETA)[:, None] + sub[None, :, 0]).ravel(),
        ]
    )
    phi_ecal = -math.pi + (ecal.i_phi + 0.5) * calo.ECAL_D_PHI
    phi_hcal = -math.pi + (hcal.i_phi + 0.5) * calo.HCAL_D_PHI
    phi = np.concatenate([phi_ecal, (phi_hcal[:, None] + sub[None, :, 1]).ravel()])
    et = np.concatenate(
        [calo.tower_et(ecal, ecal=True), np.repeat(calo.tower_et(hcal, ecal=False) / 16, 16)]
    )
    d_eta = eta - muon_eta
    d_phi = np.angle(np.exp(1j * (phi - muon_phi)))
    col = np.floor(d_eta / MUON.d_eta + cells / 2).astype(np.int64)
    row = np.floor(d_phi / MUON.d_phi + cells / 2).astype(np.int64)
    inside = (col >= 0) & (col < cells) & (row >= 0) & (row < cells)
    grid = np.zeros((cells, cells))
    np.add.at(grid, (row[inside], col[inside]), et[inside])
    return grid


def _candidate_muon(particles: Particles, record, indices, wanted: str, s: MuonGenSettings):
    """Row of the highest-pT muon of the wanted origin in the acceptance, or None."""
    pt = particles.pt
    rows = np.flatnonzero(
        (np.abs(particles.pid) == 13)
        & (pt >= s.pt_min)
        & (pt <= s.pt_max)
        & (np.abs(particles.eta) < s.eta_max)
    )
    rows = [r for r in rows if origin(record, int(indices[r])) == wanted]
    return None if not rows else rows[int(np.argmax(pt[rows]))]


def _generate_class(n_wanted, signal, seed, chunk, settings: MuonGenSettings, rng, library):
    """n_wanted muons of one class: images (n, 32, 32) float32 (phi descending), iso
    (n, n_radii) float32, pt (n,) float32 GeV."""
    stream = STREAM_SIGNAL if signal else STREAM_BACKGROUND
    commands = settings.signal_commands if signal else settings.background_commands
    pythia = start_pythia(commands, pythia_seed(seed, chunk, stream), settings.ecm_gev)
    wanted, label = ("zprime", "signal") if signal else ("heavy_flavour", "background")
    cells = settings.grid_cells
    masks = cone_masks(cells, settings.iso_radii)
    margin = (cells - MUON.n_eta) // 2

    def select(pythia):
        particles, indices = final_state(pythia.event)
        row = _candidate_muon(particles, pythia.event, indices, wanted, settings)
        if row is None:
            return None
        muon = particles.take(np.array([row]))
        everything = Particles.concat([particles, overlay(rng, library, settings.pileup_mu)])
        grid = muon_grid(
            everything, rng, float(muon.eta[0]), float(muon.phi[0]), cells, settings.smear
        )
        pt = float(muon.pt[0])
        image = grid[margin : margin + MUON.n_phi, margin : margin + MUON.n_eta]
        return image[::-1, :] if MUON.phi_descending else image, masks @ grid.ravel() / pt, pt

    picked = select_events(
        pythia,
        n_wanted,
        select,
        settings.max_events_per_candidate,
        f"chunk {chunk} {label} muons",
        "check the Pythia commands and the acceptance",
    )
    images, isos, pts = zip(*picked, strict=True)
    return {
        "images": np.asarray(images, dtype=np.float32),
        "iso": np.asarray(isos, dtype=np.float32),
        "pt": np.asarray(pts, dtype=np.float32),
    }


def generate_muon_chunk(
    seed: int, chunk: int, n_events: int, settings: MuonGenSettings
) -> dict[str, dict[str, np.ndarray]]:
    """One chunk: {"signal": arrays, "bg": arrays} (see :func:`_generate_class`), round(
    signal_fraction x n_events) signal muons and the rest background."""
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, STREAM_DETECTOR]))
    library = build_library(
        settings.minbias_commands,
        pythia_seed(seed, chunk, STREAM_MINBIAS),
        settings.minbias_library_size if settings.pileup_mu > 0 else 0,
        settings.ecm_gev,
    )
    n_signal = int(round(settings.signal_fraction * n_events))
    return {
        label: _generate_class(n, label == "signal", seed, chunk, settings, rng, library)
        for label, n in zip(CLASSES, (n_signal, n_events - n_signal), strict=True)
    }


def pt_weights_from_sample(
    pt_signal: np.ndarray, pt_bg: np.ndarray, settings: MuonGenSettings
) -> PtWeights:
    """Background-to-signal pT reweighting from a generated sample (the merge passes the
    train split's events only).

    weight = p_signal(pT) / p_bg(pT) in ``weight_bins`` log-spaced bins on [pt_min, pt_max]
    (signal 1), normalised so that the background weights average to 1 over the sample, as
    :func:`hepml.sources.simulate.muons.pt_weights` does for the toy; bins without background get 0.
    """
    edges = np.geomspace(settings.pt_min, settings.pt_max, settings.weight_bins + 1)
    signal = np.histogram(pt_signal, edges)[0] / max(len(pt_signal), 1)
    background = np.histogram(pt_bg, edges)[0] / max(len(pt_bg), 1)
    ratio = np.divide(signal, background, out=np.zeros_like(signal), where=background > 0)
    norm = np.sum(ratio * background)
    return PtWeights(edges, ratio / norm if norm > 0 else ratio)
