"""Seeded generator of prompt (signal) and non-prompt (background) muons in the published layout.

A fast, physics-motivated stand-in for the authors' MadGraph + Pythia 8 + Delphes samples of
"Learning to Isolate Muons" (docs/reference.md 2; docs/muons.md explains every choice and
parameter):

* signal: prompt muons from ``pp -> Z'(20 GeV) -> mu mu``; around them only pile-up
  (``<mu> = 50`` interactions) and the underlying event: a roughly uniform floor of soft
  deposits whose number fluctuates (Poisson) from event to event, plus rare final-state photons;
* background: muons from semileptonic decays inside b jets (``pp -> b bbar``); the rest of the
  jet - a few charged and neutral hadrons around a jet axis a little off the muon, with a
  falling radial profile - adds ET close to the muon that grows with the cone radius, on top of
  the same pile-up and underlying event.

Delphes (docs/reference.md 1, "Simulation") puts each particle's energy in one calorimeter cell and
the muon in none: the muon itself deposits nothing here either.  Cells have a stochastic ET
resolution and an ET threshold.  Images are 32 x 32 pixels of 0.025 (geometry ``MUON``),
centred on the muon, rows in phi (descending, as published), columns in eta.

Per event the generator also writes the isolation sums I(R0) = sum of cell ET with
Delta R < R0 of the muon, divided by the muon pT, for every cone radius in
``iso_radii`` (cells counted by their centre; the simulated grid extends past the image so that
cones up to the largest radius are complete), the muon pT, and a weight: background events are
reweighted in pT to the signal pT distribution (signal weight 1), so that pT alone carries no
information (docs/reference.md 2, "weights_signal, weights_bg").  The weight is the ratio of the two
classes' pT densities estimated once from a large seeded pT-only sample, so every chunk gets its
weights without seeing the others, and the mean background weight is 1 (normalised).

Frames and units: positions are offsets (d_eta, d_phi) from the muon in units of eta and
radians; energies are transverse (ET, pT) in GeV.

Generation runs in blocks of :data:`BLOCK_SIZE` events of one class and one split, each with
its own random stream derived from (seed, class, split, block): the output depends on the
seed, the settings and the split sizes only, never on the chunk size the caller asks for.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import numpy as np

from hepml.geometry import MUON
from hepml.settings import SPLITS, reject_unknown_keys
from hepml.sources.simulate.deposits import Deposits, power_law

log = logging.getLogger(__name__)

BLOCK_SIZE = 1000  # events per independently seeded block
SPLIT_FRACTIONS = (0.64, 0.16, 0.20)  # docs/reference.md 2: each class split 64/16/20
CLASSES = ("signal", "bg")  # suffixes of the published groups (images_signal, images_bg, ...)
# Keys of the published muon layout (docs/reference.md 2) and the documented extra pt key.
PUBLISHED_KEYS = ("images", "iso", "weights", "pt")
_WEIGHT_STREAM = 7  # first entry of the seed sequence of the reference pT sample


@dataclass(frozen=True)
class MuonSimSettings:
    """Parameters of the muon simulator (``datasets.muons.simulate`` in config).

    Energies, ET and pT in GeV; angles in units of eta or radians; densities per unit area of
    eta x phi.  config/schema.yaml and docs/muons.md describe each field.
    """

    # Sample composition and muon acceptance.
    signal_fraction: float = 0.5
    pt_min: float = 10.0
    pt_max: float = 60.0
    # Prompt muons: Z' -> mu mu (decay angle ~ 1 + cos^2), Z' pT ~ Gamma(2) with this mean.
    zprime_mass: float = 20.0
    zprime_pt_mean: float = 8.0
    # Final-state radiation of prompt muons: probability, photon pT share z ~ 1/z on
    # [fsr_z_min, 0.5], angle to the muon log-uniform on [0.01, fsr_angle_max].
    fsr_probability: float = 0.1
    fsr_z_min: float = 0.05
    fsr_angle_max: float = 0.3
    # Non-prompt muons: b-quark spectrum dN/dpT ~ pT^-b_pt_index; the muon takes a share
    # x ~ Beta(muon_share_a, muon_share_b) of the b-jet pT (before the selection bias);
    # neutrinos take a share ~ U(0, neutrino_share_max) of the rest.
    b_pt_index: float = 4.0
    muon_share_a: float = 2.0
    muon_share_b: float = 2.5
    neutrino_share_max: float = 0.5
    # The rest of the b jet: 1 + Poisson(fragments_mean - 1) hadrons sharing its visible ET,
    # each at Delta R = kT / ET from the jet axis, kT ~ exponential(fragment_kt_mean); the axis
    # is at Delta R = pT_rel / pT_mu from the muon, pT_rel ~ Gamma(2) with mean ptrel_mean.
    fragments_mean: float = 1.5
    fragment_kt_mean: float = 0.15
    ptrel_mean: float = 2.0
    # Pile-up: Poisson(pileup_mu) interactions, each adding Poisson(pileup_density x area)
    # soft deposits of ET ~ exponential(pileup_mean_et); underlying event likewise.
    pileup_mu: float = 50.0
    pileup_density: float = 4.0
    pileup_mean_et: float = 0.25
    ue_density: float = 4.0
    ue_mean_et: float = 0.5
    # Calorimeter cells: sigma(ET) = cell_stochastic sqrt(ET); cells below cell_et_min zeroed.
    cell_stochastic: float = 0.5
    cell_et_min: float = 0.2
    # Isolation cone radii (Delta R) of the iso keys, ascending.
    iso_radii: tuple[float, ...] = (0.1, 0.15, 0.2, 0.25, 0.3, 0.35, 0.4, 0.45)
    # pT reweighting: log-spaced bins on [pt_min, pt_max], reference pT-only sample size.
    weight_bins: int = 40
    weight_reference_events: int = 1_000_000

    def __post_init__(self) -> None:
        for field in dataclasses.fields(self):
            value = getattr(self, field.name)
            values = value if isinstance(value, tuple) else (value,)
            if not all(math.isfinite(v) and v >= 0 for v in values):
                raise ValueError(
                    f"simulate.{field.name}: expected finite numbers >= 0, got {value}"
                )
        for name in ("signal_fraction", "fsr_probability", "neutrino_share_max"):
            if getattr(self, name) > 1:
                raise ValueError(f"simulate.{name}: expected a fraction in [0, 1]")
        if not 0 < self.pt_min < self.pt_max:
            raise ValueError(
                f"simulate.pt_min/pt_max: expected 0 < pt_min < pt_max, "
                f"got {self.pt_min}, {self.pt_max}"
            )
        if not 0 < self.fsr_z_min < 0.5 or not 0.01 < self.fsr_angle_max:
            raise ValueError(
                "simulate.fsr_z_min/fsr_angle_max: expected 0 < z_min < 0.5, angle > 0.01"
            )
        for name in ("zprime_mass", "muon_share_a", "muon_share_b", "b_pt_index", "fragments_mean"):
            if getattr(self, name) <= 0:
                raise ValueError(f"simulate.{name}: expected a number > 0")
        if self.fragments_mean < 1:
            raise ValueError("simulate.fragments_mean: expected >= 1 (at least one hadron)")
        radii = self.iso_radii
        if not radii or any(r <= 0 for r in radii) or list(radii) != sorted(set(radii)):
            raise ValueError(f"simulate.iso_radii: expected ascending radii > 0, got {list(radii)}")
        if self.weight_bins < 1 or self.weight_reference_events < 1000:
            raise ValueError("simulate.weight_bins >= 1 and weight_reference_events >= 1000")

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> MuonSimSettings:
        """Settings from the config's ``simulate`` block; ``n_events`` is ignored (passed apart).

        Unknown keys raise ValueError naming the key.
        """
        known = {field.name for field in dataclasses.fields(cls)}
        reject_unknown_keys({k: v for k, v in config.items() if k != "n_events"}, known, "simulate")
        integers = {"weight_bins", "weight_reference_events"}
        values: dict[str, object] = {}
        for key, value in config.items():
            if key == "n_events":
                continue
            if key == "iso_radii":
                if not isinstance(value, list | tuple) or not all(_is_number(v) for v in value):
                    raise ValueError(
                        f"simulate.iso_radii: expected a list of numbers, got {value!r}"
                    )
                values[key] = tuple(float(v) for v in value)
            elif not _is_number(value):
                raise ValueError(f"simulate.{key}: expected a number, got {value!r}")
            else:
                values[key] = int(value) if key in integers else float(value)
        return cls(**values)

    @property
    def grid_cells(self) -> int:
        """Cells per side of the simulated grid: the image, or wider for the largest cone."""
        half = max(MUON.n_eta / 2, math.ceil(max(self.iso_radii) / MUON.d_eta - 1e-9))
        return int(2 * half)


def _is_number(value: object) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


# ---------------------------------------------------------------------------------------------
# Muon pT spectra.


# power_law (hepml.sources.simulate.deposits): dN/dx ~ x^-index on [lo, hi].


def _zprime_muon_pt(rng: np.random.Generator, n: int, s: MuonSimSettings) -> np.ndarray:
    """(n,) pT of one muon of Z' -> mu mu decays, before the acceptance cut.

    Decay angle in the Z' rest frame: dN/dcos ~ 1 + cos^2 (vector resonance, Drell-Yan like),
    muon momentum M/2.  The Z' moves transversely with q ~ Gamma(2, zprime_pt_mean / 2); its
    longitudinal motion does not change pT.  Boosting along q: p_par = gamma p* sin cos(phi)
    + q / 2, p_perp = p* sin sin(phi), with gamma = sqrt(1 + (q / M)^2).
    """
    cos = np.empty(0)
    while cos.size < n:  # rejection sampling of 1 + cos^2 on [-1, 1]
        trial = rng.uniform(-1.0, 1.0, 2 * n)
        keep = rng.random(2 * n) * 2.0 < 1.0 + trial**2
        cos = np.concatenate([cos, trial[keep]])
    sin = np.sqrt(1.0 - cos[:n] ** 2)
    azimuth = rng.uniform(0.0, 2.0 * np.pi, n)
    q = rng.gamma(2.0, s.zprime_pt_mean / 2.0, n)
    p_star = s.zprime_mass / 2.0
    gamma = np.sqrt(1.0 + (q / s.zprime_mass) ** 2)
    p_par = gamma * p_star * sin * np.cos(azimuth) + q / 2.0
    p_perp = p_star * sin * np.sin(azimuth)
    return np.hypot(p_par, p_perp)


def sample_pt(rng: np.random.Generator, n: int, signal: bool, s: MuonSimSettings) -> np.ndarray:
    """(n,) accepted muon pT in GeV, in [pt_min, pt_max].

    Signal: Z' decays (rejection of events outside the acceptance).  Background: for a
    b-quark spectrum ~ pT^-k and a muon share x independent of it, the muon spectrum is
    ~ pT^-k as well (drawn directly on the acceptance).
    """
    if not signal:
        return power_law(rng, n, s.pt_min, s.pt_max, s.b_pt_index)
    accepted = np.empty(0)
    while accepted.size < n:
        pt = _zprime_muon_pt(rng, 2 * (n - accepted.size) + 64, s)
        accepted = np.concatenate([accepted, pt[(pt >= s.pt_min) & (pt <= s.pt_max)]])
    return accepted[:n]


@dataclass(frozen=True)
class PtWeights:
    """Background-to-signal pT reweighting: weight(pT) = p_signal(pT) / p_bg(pT) per bin.

    edges: (n_bins + 1,) log-spaced bin edges in GeV on [pt_min, pt_max];
    ratio: (n_bins,) density ratio; 0 where the background has no events.
    """

    edges: np.ndarray
    ratio: np.ndarray

    def __call__(self, pt: np.ndarray, signal: bool) -> np.ndarray:
        """(n,) float64 weights: 1 for signal, the binned density ratio for background."""
        if signal:
            return np.ones(len(pt))
        index = np.clip(np.searchsorted(self.edges, pt, side="right") - 1, 0, len(self.ratio) - 1)
        return self.ratio[index]


def pt_weights(seed: int, s: MuonSimSettings) -> PtWeights:
    """The pT reweighting, from ``weight_reference_events`` pT-only draws per class (seeded).

    Normalised: over the background pT density the weights average to 1.
    """
    rng = np.random.default_rng(np.random.SeedSequence([_WEIGHT_STREAM, seed]))
    edges = np.geomspace(s.pt_min, s.pt_max, s.weight_bins + 1)
    n = s.weight_reference_events
    signal = np.histogram(sample_pt(rng, n, True, s), edges)[0] / n
    background = np.histogram(sample_pt(rng, n, False, s), edges)[0] / n
    ratio = np.divide(signal, background, out=np.zeros_like(signal), where=background > 0)
    ratio /= np.sum(ratio * background)
    return PtWeights(edges, ratio)


# ---------------------------------------------------------------------------------------------
# Particles around the muon (sources.simulate.deposits.Deposits: flat arrays, event index each).


def _around(
    rng: np.random.Generator, event: np.ndarray, eta: np.ndarray, phi: np.ndarray,
    radius: np.ndarray, et: np.ndarray,
) -> Deposits:  # fmt: skip
    """Particles at distance ``radius`` from (eta, phi) in a uniformly random direction."""
    angle = rng.uniform(0.0, 2.0 * np.pi, len(event))
    return Deposits(event, eta + radius * np.cos(angle), phi + radius * np.sin(angle), et)


def _soft_activity(
    rng: np.random.Generator, n: int, half_width: float, s: MuonSimSettings
) -> Deposits:
    """Pile-up and underlying event: uniform in the simulated square, ET exponential.

    Pile-up: Poisson(pileup_mu) interactions per event, each contributing
    Poisson(pileup_density x area) deposits (so the number of deposits fluctuates more than a
    plain Poisson); underlying event: Poisson(ue_density x area) deposits.
    """
    area = (2.0 * half_width) ** 2
    interactions = rng.poisson(s.pileup_mu, n)
    counts = [
        rng.poisson(interactions * s.pileup_density * area),
        rng.poisson(s.ue_density * area, n),
    ]
    parts = []
    for count, mean_et in zip(counts, (s.pileup_mean_et, s.ue_mean_et), strict=True):
        event = np.repeat(np.arange(n), count)
        position = rng.uniform(-half_width, half_width, (2, len(event)))
        parts.append(
            Deposits(event, position[0], position[1], rng.exponential(mean_et, len(event)))
        )
    return Deposits.concat(parts)


def _fsr_photons(rng: np.random.Generator, pt: np.ndarray, s: MuonSimSettings) -> Deposits:
    """Final-state photons of prompt muons: with fsr_probability, one photon per muon.

    Its pT share z follows dN/dz ~ 1/z on [fsr_z_min, 0.5] (soft emission), its angle to the
    muon is log-uniform on [0.01, fsr_angle_max] (collinear enhancement).
    """
    event = np.flatnonzero(rng.random(len(pt)) < s.fsr_probability)
    z = s.fsr_z_min * (0.5 / s.fsr_z_min) ** rng.random(len(event))
    angle = 0.01 * (s.fsr_angle_max / 0.01) ** rng.random(len(event))
    zeros = np.zeros(len(event))
    return _around(rng, event, zeros, zeros, angle, z * pt[event])


def _b_jet_fragments(rng: np.random.Generator, pt: np.ndarray, s: MuonSimSettings) -> Deposits:
    """Hadrons of the b jet around a non-prompt muon of transverse momentum ``pt`` (n,).

    Selection bias: for a b spectrum ~ pT^-k, the muons that pass a pT cut carry a share x
    distributed as x^(k-1) Beta(a, b) = Beta(a + k - 1, b), independent of the muon pT.  The
    b jet then has pT_mu / x, of which neutrinos take a share ~ U(0, neutrino_share_max) of
    the rest; the remaining visible ET is shared (exponential shares) by
    1 + Poisson(fragments_mean - 1) hadrons.  The jet axis is pT_rel / pT_mu away from the
    muon (the B-hadron decay kinematics); each hadron sits at Delta R = kT / ET from the axis,
    so hard fragments are close to the axis and soft ones spread out: a falling radial profile.
    """
    n = len(pt)
    x = rng.beta(s.muon_share_a + s.b_pt_index - 1.0, s.muon_share_b, n)
    visible = pt * (1.0 - x) / x * (1.0 - rng.uniform(0.0, s.neutrino_share_max, n))
    counts = 1 + rng.poisson(s.fragments_mean - 1.0, n)
    event = np.repeat(np.arange(n), counts)
    share = rng.exponential(1.0, len(event))
    share /= np.bincount(event, weights=share, minlength=n)[event]
    et = visible[event] * share
    axis_radius = rng.gamma(2.0, s.ptrel_mean / 2.0, n) / pt
    axis = _around(rng, np.arange(n), np.zeros(n), np.zeros(n), axis_radius, np.zeros(n))
    radius = rng.exponential(s.fragment_kt_mean, len(event)) / np.maximum(et, 1e-3)
    return _around(rng, event, axis.d_eta[event], axis.d_phi[event], radius, et)


# ---------------------------------------------------------------------------------------------
# Calorimeter, image and isolation.


def _deposit(
    rng: np.random.Generator, particles: Deposits, n: int, cells: int, s: MuonSimSettings
) -> np.ndarray:
    """(n, cells, cells) cell ET: rows phi ascending, columns eta ascending, muon at the centre.

    Each particle puts all its ET in one cell (Delphes); hit cells are smeared with
    sigma = cell_stochastic sqrt(ET) and zeroed below cell_et_min.
    """
    col = np.floor(particles.d_eta / MUON.d_eta + cells / 2).astype(np.int64)
    row = np.floor(particles.d_phi / MUON.d_phi + cells / 2).astype(np.int64)
    inside = (col >= 0) & (col < cells) & (row >= 0) & (row < cells)
    flat = (particles.event[inside] * cells + row[inside]) * cells + col[inside]
    grid = np.bincount(flat, weights=particles.et[inside], minlength=n * cells * cells)
    hit = np.flatnonzero(grid)
    et = grid[hit]
    smeared = et + s.cell_stochastic * np.sqrt(et) * rng.standard_normal(len(et))
    grid[hit] = np.where(smeared > s.cell_et_min, smeared, 0.0)
    return grid.reshape(n, cells, cells)


def cone_masks(cells: int, radii: tuple[float, ...]) -> np.ndarray:
    """(n_radii, cells * cells) float: 1 where the cell centre lies within Delta R < R0 of the
    grid centre (the muon), in the layout of :func:`_deposit`."""
    centres = (np.arange(cells) - (cells - 1) / 2.0) * MUON.d_eta
    d_eta, d_phi = np.meshgrid(centres, centres * MUON.d_phi / MUON.d_eta, indexing="xy")
    distance = np.hypot(d_eta, d_phi).ravel()
    return np.stack([(distance < radius).astype(np.float64) for radius in radii])


def simulate_block(
    seed: int, signal: bool, split: str, block: int, n_events: int, s: MuonSimSettings,
    weights: PtWeights,
) -> dict[str, np.ndarray]:  # fmt: skip
    """One independently seeded block of n_events muons of one class.

    Returns the published arrays of the class (docs/reference.md 2): images (n, 32, 32) float32 ET
    in GeV (rows phi descending as published, columns eta ascending); iso (n, n_radii) float32,
    cone ET sum / muon pT for each of ``iso_radii``; weights (n,) float64; pt (n,) float32 GeV.
    """
    class_index, split_index = (0 if signal else 1), SPLITS.index(split)
    rng = np.random.default_rng(np.random.SeedSequence([seed, class_index, split_index, block]))
    pt = sample_pt(rng, n_events, signal, s)
    cells = s.grid_cells
    half_width = cells / 2 * MUON.d_eta
    parts = [_soft_activity(rng, n_events, half_width, s)]
    parts.append(_fsr_photons(rng, pt, s) if signal else _b_jet_fragments(rng, pt, s))
    grid = _deposit(rng, Deposits.concat(parts), n_events, cells, s)
    iso = grid.reshape(n_events, -1) @ cone_masks(cells, s.iso_radii).T / pt[:, None]
    margin = (cells - MUON.n_eta) // 2
    image = grid[:, margin : margin + MUON.n_phi, margin : margin + MUON.n_eta]
    if MUON.phi_descending:
        image = image[:, ::-1, :]
    return {
        "images": np.ascontiguousarray(image, dtype=np.float32),
        "iso": iso.astype(np.float32),
        "weights": weights(pt, signal),
        "pt": pt.astype(np.float32),
    }


def split_sizes(n_events: int, signal_fraction: float) -> dict[str, dict[str, int]]:
    """Events per class and split: {"signal": {"train": ..., ...}, "bg": {...}}.

    Each class is split 64/16/20 (docs/reference.md 2); test takes the rounding remainder.
    Every split gets both classes (a split of one class has no AUC and stops the unpacking):
    a split left without a class raises ValueError naming simulate.n_events, before anything
    is simulated.
    """
    n_signal = int(round(signal_fraction * n_events))
    sizes = {}
    for name, n in zip(CLASSES, (n_signal, n_events - n_signal), strict=True):
        train, valid = (int(round(f * n)) for f in SPLIT_FRACTIONS[:2])
        sizes[name] = {"train": train, "valid": valid, "test": n - train - valid}
    empty = [
        f"{split} has no {name} event"
        for name in CLASSES
        for split in SPLITS
        if not sizes[name][split]
    ]
    if empty:
        raise ValueError(
            f"simulate.n_events = {n_events} with signal_fraction {signal_fraction}: "
            f"{'; '.join(empty)} (each class is split 64/16/20: {sizes}); every split needs "
            "both classes: raise simulate.n_events"
        )
    return sizes


@dataclass(frozen=True)
class MuonChunk:
    """Consecutive events of one class and split: rows ``start:start + n`` of the published
    groups ``{key}_{label}/{split}`` (label 'signal' or 'bg'); arrays as in simulate_block."""

    label: str
    split: str
    start: int
    arrays: dict[str, np.ndarray]


def simulate_muons(
    n_events: int, seed: int, settings: MuonSimSettings, chunk_size: int = 10_000
) -> Iterator[MuonChunk]:
    """Yield the whole sample chunk by chunk: whole blocks, at most max(chunk_size,
    :data:`BLOCK_SIZE`) events each, never mixing classes or splits.

    Order: signal train, valid, test, then background train, valid, test (sizes from
    :func:`split_sizes`).  Memory is bounded by the chunk size; progress is logged per chunk.
    """
    if n_events < 2 or chunk_size < 1:
        raise ValueError(f"n_events must be >= 2 and chunk_size >= 1, got {n_events}, {chunk_size}")
    started = time.perf_counter()
    weights = pt_weights(seed, settings)
    sizes = split_sizes(n_events, settings.signal_fraction)
    done = 0
    for label in CLASSES:
        for split in SPLITS:
            n_split = sizes[label][split]
            blocks = [
                (b, min(BLOCK_SIZE, n_split - b * BLOCK_SIZE))
                for b in range(-(-n_split // BLOCK_SIZE))
            ]
            per_chunk = max(1, chunk_size // BLOCK_SIZE)
            for first in range(0, len(blocks), per_chunk):
                parts = [
                    simulate_block(seed, label == "signal", split, b, n, settings, weights)
                    for b, n in blocks[first : first + per_chunk]
                ]
                arrays = {key: np.concatenate([p[key] for p in parts]) for key in PUBLISHED_KEYS}
                done += len(arrays["pt"])
                log.info(
                    "simulated %d/%d muon events (%.0f%%; %s %s) in %.1f s",
                    done, n_events, 100.0 * done / n_events, label, split,
                    time.perf_counter() - started,
                )  # fmt: skip
                yield MuonChunk(label, split, first * BLOCK_SIZE, arrays)


def published_layout(settings: MuonSimSettings) -> dict[str, tuple[tuple[int, ...], str]]:
    """Per-event shape and dtype of every published group (docs/reference.md 2), for
    :class:`hepml.io.publish.PublishedWriter`: images_signal, images_bg (32, 32) float32,
    iso_* (n_radii,) float32, weights_* () float64, pt_* () float32."""
    per_key = {
        "images": (MUON.shape, "float32"),
        "iso": ((len(settings.iso_radii),), "float32"),
        "weights": ((), "float64"),
        "pt": ((), "float32"),
    }
    return {f"{key}_{label}": per_key[key] for label in CLASSES for key in PUBLISHED_KEYS}


def published_sizes(n_events: int, settings: MuonSimSettings) -> dict[str, int]:
    """Events of every published group (all splits): n_signal or n_background."""
    sizes = split_sizes(n_events, settings.signal_fraction)
    return {
        f"{key}_{label}": sum(sizes[label].values()) for label in CLASSES for key in PUBLISHED_KEYS
    }


def published_chunks(
    n_events: int, seed: int, settings: MuonSimSettings, chunk_size: int = 10_000
) -> Iterator[dict[str, np.ndarray]]:
    """:func:`simulate_muons` as chunks keyed by published group (``images_signal``, ...).

    Within a group, rows come train, then valid, then test, with the split sizes of
    :func:`split_sizes` - the order :class:`hepml.io.publish.PublishedWriter` fills splits in.
    """
    for chunk in simulate_muons(n_events, seed, settings, chunk_size):
        yield {f"{key}_{chunk.label}": chunk.arrays[key] for key in PUBLISHED_KEYS}
