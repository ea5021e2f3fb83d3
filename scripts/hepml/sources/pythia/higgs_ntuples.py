"""Built-in ntuples: the Higgs benchmark's processes from Pythia 8 written as ROOT files in the
layout of the ATLAS Open Data ntuples, with Pythia's cross-sections as weights (issue 21,
docs/ntuples.md "Built-in ntuples", docs/generator.md "Built-in ntuples").

Three samples, one ROOT file each under ``resources/<dataset>/generated/ntuples/``:

* ``higgs``: the signal of :mod:`hepml.sources.pythia.higgs`, gg -> H0 -> W H+- -> W W h0 with
  its forced decays (W+ -> e/mu nu, W- -> q q', h0 -> b bbar);
* ``ttbar``: t tbar with the same forced W decays (one W leptonic, e or mu; the other hadronic);
* ``data``: pseudo-data, events of both processes generated with seeds of their own, each
  process's count drawn from a Poisson law around the yield its simulation predicts at the
  configured luminosity (:func:`expected_yields`, :func:`data_counts`).

Events are reconstructed with the Delphes ATLAS card exactly as the Higgs benchmark's
(:mod:`hepml.sources.pythia.higgs`: lepton efficiencies, resolution and isolation, calorimeter
towers, anti-kT R = 0.6 jets with the card's energy scale, the electron's own jet removed,
b-tagging by flavour with the card's efficiencies, missing transverse momentum of the towers
and muons), but every object is kept instead of the 28 features, and the selection is a loose
skim so that the analysis's preselection does real work: at least ``leptons_min`` (1) isolated
electron or muon with pT > ``lepton_pt_min`` (20 GeV) and |eta| < ``lepton_eta_max`` (2.5),
and at least ``jets_min`` (2) jets with pT > ``jet_pt_min`` (20 GeV) and |eta| <
``jet_eta_max`` (2.5), ``btags_min`` (0) of them b-tagged.  Stored objects are those of the
skim's definitions (the leptons and jets that count), ordered by decreasing pT.

Tree ``mini`` (as the open data), energies and momenta in **MeV** (as the open data), angles in
radians: ``lep_n``, ``lep_pt``, ``lep_eta``, ``lep_phi``, ``lep_E``, ``lep_charge`` (+-1),
``lep_type`` (11 or 13); ``jet_n``, ``jet_pt``, ``jet_eta``, ``jet_phi``, ``jet_E``,
``jet_btag`` (0 or 1, the card's single working point); ``met_et``, ``met_phi``.  Simulation
only: ``jet_trueflav`` (5, 4 or 0: the card's flavour association, truth), ``mcWeight`` (1.0:
Pythia's events are unweighted), ``XSection`` (pb: Pythia's ``sigmaGen`` of the process with its
forced decays, pooled over the chunks) and ``SumWeights`` (the events Pythia generated before
the skim, i.e. the sum of mcWeight over every generated event).  The weight
``mcWeight * XSection * 1000 * lumi / SumWeights`` (lumi in fb^-1) then sums to the expected
yield of the skimmed sample.  The pseudo-data file has none of the simulation-only branches.

Pythia's ``sigmaGen`` with forced decays: the decays of resonances (W, Z, top, the Higgs bosons)
are made at the process level, and the cross-section is reduced by the branching ratios of the
open channels of every resonance of the hard process and of their resonance decay products
(Pythia 8 manual, "Resonance Decays", section "Resonance Decays and Cross Sections"); for
t tbar that includes the W's of the top decays.  Measured here (8 TeV, hard process only,
20,000 events): sigma(t tbar) 157.0 pb with free W decays, 22.9 pb with the forced ones, a
ratio 0.146 = BR(W+ -> e nu, mu nu) x BR(W- -> q q') of Pythia's W widths; the signal's
sigma drops by 0.589 when h0 -> b bbar is forced, Pythia's BR(h0 -> b bbar) at 125 GeV.
Pythia's t tbar cross-section is leading order (no K-factor).

Chunks (one job each) are HDF5 files written by :func:`hepml.sources.pythia.chunks.write_chunk`:
per-event counts and flat object arrays, and per process the events generated, the aborted
``next()`` calls and Pythia's cross-section estimate; :func:`merge_ntuple_chunks` joins them
into the sample's ROOT file.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from hepml.settings import dataclass_from_config
from hepml.sources.pythia import higgs
from hepml.sources.pythia.higgs import HiggsGenSettings
from hepml.sources.pythia.pythia import final_state, pythia_seed, select_events, start_pythia

log = logging.getLogger(__name__)

TREE = "mini"
MEV_PER_GEV = 1000.0
# The generated samples: the MC processes (name -> signal?) and the pseudo-data.
PROCESSES = {"higgs": True, "ttbar": False}
DATA = "data"
SAMPLES = (*PROCESSES, DATA)
# Seed streams (pythia_seed(seed, chunk, stream)): the simulation and the pseudo-data of each
# process have their own, and none is one of the Higgs benchmark's (21-23).
STREAMS = {("higgs", False): 31, ("ttbar", False): 32, ("higgs", True): 33, ("ttbar", True): 34}
DETECTOR_STREAM = 100  # + the process stream: the detector's random numbers
DATA_COUNT_STREAM = 35  # the Poisson draw of the pseudo-data's counts
DATA_ORDER_STREAM = 36  # the shuffle of the pseudo-data's events at the merge
# PDG 2024 lepton masses (GeV), for the lepton energies.
LEPTON_MASS = {11: 0.51099895e-3, 13: 0.1056583755}

LEPTON_FIELDS = ("pt", "eta", "phi", "E", "charge", "type")
JET_FIELDS = ("pt", "eta", "phi", "E", "btag", "trueflav")
INTEGER_FIELDS = ("lep_charge", "lep_type", "jet_btag", "jet_trueflav")
TRUTH_BRANCHES = ("jet_trueflav",)
WEIGHT_BRANCHES = ("mcWeight", "XSection", "SumWeights")
ENERGY_BRANCHES = ("lep_pt", "lep_E", "jet_pt", "jet_E", "met_et")


@dataclass(frozen=True)
class NtupleGenSettings(HiggsGenSettings):
    """``datasets.<name>.ntuples.generate``: the processes and detector of the Higgs benchmark
    (:class:`hepml.sources.pythia.higgs.HiggsGenSettings`, same keys and defaults), its
    selection keys reused as the skim (module docstring), and the sizes: ``signal_events`` and
    ``background_events`` skimmed events of the ``higgs`` and ``ttbar`` samples, each sample
    (the pseudo-data too) made in ``chunks`` jobs."""

    jets_min: int = 2
    btags_min: int = 0
    leptons_min: int = 1
    signal_events: int = 4000
    background_events: int = 8000
    chunks: int = 4

    def __post_init__(self) -> None:
        self.check_process()
        for name in ("signal_events", "background_events", "chunks", "leptons_min"):
            if getattr(self, name) < 1:
                raise ValueError(f"ntuples.generate.{name}: expected >= 1")
        if self.jets_min < 0 or not 0 <= self.btags_min <= self.jets_min:
            raise ValueError("ntuples.generate: expected 0 <= btags_min <= jets_min")
        for name in ("signal_events", "background_events"):
            if getattr(self, name) < self.chunks:
                raise ValueError(
                    f"ntuples.generate.{name}: {getattr(self, name)} events cannot fill "
                    f"{self.chunks} chunks (expected >= chunks)"
                )

    @classmethod
    def from_config(cls, config: Mapping[str, object]) -> NtupleGenSettings:
        """Settings from the block; unknown keys raise ValueError naming the key."""
        return dataclass_from_config(cls, config, "ntuples.generate")

    def events(self, sample: str) -> int:
        """Skimmed events of an MC sample, all chunks together."""
        return self.signal_events if PROCESSES[sample] else self.background_events


def chunk_share(total: int, chunks: int, chunk: int) -> int:
    """Events of chunk ``chunk`` when ``total`` are shared by ``chunks``, lower chunks first."""
    if not 0 <= chunk < chunks:
        raise ValueError(f"chunk {chunk}: expected 0 <= chunk < {chunks}")
    return total // chunks + (1 if chunk < total % chunks else 0)


def generated_file(sample: str) -> str:
    """The file name of a generated sample (relative to resources/<dataset>/generated/ntuples)."""
    return f"{sample}.root"


def weight_definitions(define: Mapping[str, str], weight: str | None) -> dict[str, str]:
    """The definitions a weight expression reads, directly or through other definitions, in
    their order (the pseudo-data's params carry only these: editing a variable's helper does
    not regenerate them)."""
    from hepml.expressions import parse

    if weight is None:
        return {}
    needed = set(parse(str(weight)).names)
    for name in reversed(list(define)):
        if name in needed:
            needed |= parse(str(define[name])).names
    return {name: str(text) for name, text in define.items() if name in needed}


def check_generated_block(block: Mapping, where: str) -> dict[str, dict]:
    """Check an ``ntuples`` block whose samples are generated, and return, per MC process,
    how the pseudo-data compute its expected yield (:class:`YieldSpec` fields).

    With ``generate`` set: ``path`` is null, every sample's ``files`` are names of generated
    files (``higgs.root``, ``ttbar.root``, ``data.root``; no globs, no directories), and each
    MC process is read by exactly one MC sample, alone, whose weight the pseudo-data use.
    ValueError naming the key otherwise.  Light (the rules call it when the DAG is built)."""
    generate = block.get("generate")
    if not isinstance(generate, Mapping):
        raise ValueError(f"{where}.generate: expected the generator's block, got {generate!r}")
    NtupleGenSettings.from_config(generate)
    if block.get("path") is not None:
        raise ValueError(
            f"{where}.path: must be null when generate is set (the generated files are "
            f"resources/<dataset>/generated/ntuples/), got {block.get('path')!r}"
        )
    names = [generated_file(sample) for sample in SAMPLES]
    readers: dict[str, list[str]] = {process: [] for process in PROCESSES}
    specs = {}
    for name, sample in (block.get("samples") or {}).items():
        files = sample.get("files")
        files = [files] if isinstance(files, str) else list(files or [])
        for file in files:
            if file not in names:
                raise ValueError(
                    f"{where}.samples.{name}.files: {file!r} is not a generated file (with "
                    f"generate set, files are names among {names}, no globs)"
                )
        if sample.get("role") == "data":
            continue
        for process in PROCESSES:
            if generated_file(process) in files:
                readers[process].append(name)
                specs[process] = {
                    "tree": sample.get("tree", block.get("tree", TREE)),
                    "weight": sample.get("weight", block.get("weight")),
                    "constants": dict(block.get("constants") or {}),
                    "define": weight_definitions(
                        block.get("define") or {}, sample.get("weight", block.get("weight"))
                    ),
                }
                if files != [generated_file(process)]:
                    raise ValueError(
                        f"{where}.samples.{name}.files: {files}: an MC sample of the generated "
                        f"ntuples reads one file (the pseudo-data take its weight as the "
                        "expected yield of that process)"
                    )
    for process, samples in readers.items():
        if len(samples) != 1:
            raise ValueError(
                f"{where}.samples: {len(samples)} MC samples read {generated_file(process)} "
                f"({samples}); expected exactly one, whose weight gives the expected yield "
                "the pseudo-data are drawn around"
            )
        if specs[process]["weight"] is None:
            raise ValueError(f"{where}.samples.{samples[0]}.weight: no weight expression")
    return specs


# ------------------------------------------------------------------------ one event
def event_objects(
    particles, event, rng: np.random.Generator, settings: NtupleGenSettings
) -> dict[str, np.ndarray | float] | None:
    """The reconstructed objects of one event (GeV, radians), or None when it fails the skim.

    The reconstruction is :func:`hepml.sources.pythia.higgs.event_features`'s (the Delphes
    ATLAS card) up to the selection; here every isolated lepton and every jet within the
    acceptance is kept (pT ordered), with the electrons' own jets removed."""
    leptons = higgs.reconstruct_leptons(particles, rng, settings.smear)
    good = (
        leptons.isolated
        & (leptons.pt > settings.lepton_pt_min)
        & (np.abs(leptons.eta) < settings.lepton_eta_max)
    )
    if good.sum() < settings.leptons_min:
        return None
    cells = higgs.towers(particles, rng, settings.smear)
    jets = higgs.find_jets(cells, settings.jet_r, settings.jet_pt_min)
    if len(jets):
        pt = np.hypot(jets[:, 1], jets[:, 2])
        eta = np.arcsinh(jets[:, 3] / pt)
        jets = jets * higgs.jet_energy_scale(pt, eta)[:, None]
    muon = leptons.pid == 13
    met_x = -cells[:, 1].sum() - np.sum(leptons.pt[muon] * np.cos(leptons.phi[muon]))
    met_y = -cells[:, 2].sum() - np.sum(leptons.pt[muon] * np.sin(leptons.phi[muon]))
    for k in np.flatnonzero(good & (leptons.pid == 11)):  # UniqueObjectFinder
        if not len(jets):
            break
        _, eta, phi = np.array([higgs._pt_eta_phi(j) for j in jets]).T
        distance = higgs._delta_r(eta, phi, leptons.eta[k], leptons.phi[k])
        if distance.min() < settings.jet_r:
            jets = np.delete(jets, int(np.argmin(distance)), axis=0)
    if len(jets) < settings.jets_min:
        return None
    pt, eta, phi = np.array([higgs._pt_eta_phi(j) for j in jets]).reshape(-1, 3).T
    order = np.argsort(-pt, kind="stable")
    jets, pt, eta, phi = jets[order], pt[order], eta[order], phi[order]
    inside = (pt > settings.jet_pt_min) & (np.abs(eta) < settings.jet_eta_max)
    jets, pt, eta, phi = jets[inside], pt[inside], eta[inside], phi[inside]
    if len(jets) < settings.jets_min:
        return None
    flavours = higgs.jet_flavours(jets, event)
    tags = rng.random(len(jets)) < higgs.btag_efficiency(flavours, pt)
    if tags.sum() < settings.btags_min:
        return None
    index = np.flatnonzero(good)
    index = index[np.argsort(-leptons.pt[index], kind="stable")]
    lep_pt, lep_eta = leptons.pt[index], leptons.eta[index]
    lep_type = leptons.pid[index].astype(np.int64)
    mass = np.array([LEPTON_MASS[int(t)] for t in lep_type])
    return {
        "lep_pt": lep_pt,
        "lep_eta": lep_eta,
        "lep_phi": leptons.phi[index],
        "lep_E": np.sqrt((lep_pt * np.cosh(lep_eta)) ** 2 + mass**2),
        "lep_charge": np.rint(leptons.charge[index]).astype(np.int64),
        "lep_type": lep_type,
        "jet_pt": pt,
        "jet_eta": eta,
        "jet_phi": phi,
        "jet_E": jets[:, 0],
        "jet_btag": tags.astype(np.int64),
        "jet_trueflav": flavours,
        "met_et": math.hypot(met_x, met_y),
        "met_phi": math.atan2(met_y, met_x),
    }


def pack_events(events: Sequence[Mapping]) -> dict[str, np.ndarray]:
    """Per-event object dicts (GeV) -> the chunk's arrays: ``lep_n``, ``jet_n`` (int32),
    the objects' values one event after the other (float32 MeV for energies and momenta,
    int32 for charge, type, b-tag and flavour), ``met_et`` (MeV), ``met_phi``."""
    arrays: dict[str, np.ndarray] = {}
    for prefix, names in (("lep", LEPTON_FIELDS), ("jet", JET_FIELDS)):
        arrays[f"{prefix}_n"] = np.array([len(e[f"{prefix}_pt"]) for e in events], np.int32)
        for name in names:
            branch = f"{prefix}_{name}"
            parts = [np.asarray(e[branch], dtype=np.float64) for e in events]
            values = np.concatenate(parts) if parts else np.zeros(0)
            arrays[branch] = _typed(branch, values)
    for branch in ("met_et", "met_phi"):
        arrays[branch] = _typed(branch, np.array([e[branch] for e in events], dtype=np.float64))
    return arrays


def _typed(branch: str, values: np.ndarray) -> np.ndarray:
    if branch in INTEGER_FIELDS:
        return np.rint(values).astype(np.int32)
    if branch in ENERGY_BRANCHES:
        values = values * MEV_PER_GEV
    return values.astype(np.float32)


# ------------------------------------------------------------------------ one chunk
def generate_process(
    process: str,
    pseudo_data: bool,
    n_wanted: int,
    seed: int,
    chunk: int,
    settings: NtupleGenSettings,
) -> tuple[list[dict], dict[str, float]]:
    """n_wanted skimmed events of one process and its counts: generated (events Pythia
    completed, before the skim), failed (aborted ``next()`` calls), sigma_mb, sigma_err_mb
    (Pythia's estimate of the cross-section with the forced decays and its error)."""
    stream = STREAMS[(process, pseudo_data)]
    counts = {"generated": 0, "failed": 0, "sigma_mb": 0.0, "sigma_err_mb": 0.0}
    if n_wanted == 0:
        return [], counts
    signal = PROCESSES[process]
    rng = np.random.default_rng(np.random.SeedSequence([seed, chunk, DETECTOR_STREAM + stream]))
    pythia = start_pythia(
        settings.commands(signal), pythia_seed(seed, chunk, stream), settings.ecm_gev
    )

    def select(pythia):
        counts["generated"] += 1
        particles, _ = final_state(pythia.event)
        return event_objects(particles, pythia.event, rng, settings)

    label = f"chunk {chunk} {'pseudo-data ' if pseudo_data else ''}{process} events"
    events = select_events(
        pythia,
        n_wanted,
        select,
        settings.max_events_per_pick,
        label,
        "check the Pythia commands against the skim (leptons_min, jets_min, btags_min)",
    )
    info = pythia.infoPython()
    # Pythia's counters 3 and 4: next() calls begun and completed (manual, "Event Information")
    counts["failed"] = info.getCounter(3) - info.getCounter(4)
    counts["sigma_mb"] = info.sigmaGen()
    counts["sigma_err_mb"] = info.sigmaErr()
    log.info(
        "%s: %d of %d generated events pass the skim (%d aborted), sigma x BR %.4g pb",
        label, n_wanted, counts["generated"], counts["failed"], counts["sigma_mb"] * 1e9,
    )  # fmt: skip
    return events, counts


def generate_ntuple_chunk(
    sample: str,
    seed: int,
    chunk: int,
    counts: Mapping[str, int],
    settings: NtupleGenSettings,
) -> dict[str, np.ndarray]:
    """One chunk of a sample as arrays for :func:`hepml.sources.pythia.chunks.write_chunk`.

    counts: process -> skimmed events of this chunk (an MC sample: its own process only; the
    pseudo-data: every process).  Arrays: :func:`pack_events`'s, ``process`` (int8 per event,
    the index of its process in :data:`PROCESSES`; never written to the ROOT file) and per
    process ``<process>/generated``, ``/failed``, ``/sigma_mb``, ``/sigma_err_mb``."""
    if sample not in SAMPLES:
        raise ValueError(f"ntuples.generate: no generated sample {sample!r} (known: {SAMPLES})")
    pseudo_data = sample == DATA
    if not pseudo_data and set(counts) != {sample}:
        raise ValueError(f"sample {sample}: expected counts of {sample} only, got {dict(counts)}")
    events, process_index, arrays = [], [], {}
    for number, process in enumerate(PROCESSES):
        if process not in counts:
            continue
        made, info = generate_process(
            process, pseudo_data, int(counts[process]), seed, chunk, settings
        )
        events += made
        process_index += [number] * len(made)
        for key, value in info.items():
            arrays[f"{process}/{key}"] = np.asarray(value)
    arrays.update(pack_events(events))
    arrays["process"] = np.asarray(process_index, dtype=np.int8)
    return arrays


def write_ntuple_chunk(
    sample: str,
    seed: int,
    chunk: int,
    counts: Mapping[str, int],
    settings: Mapping[str, object],
    path: str | os.PathLike,
) -> None:
    """Generate one chunk (:func:`generate_ntuple_chunk`) and write its file atomically.
    settings: the ``ntuples.generate`` block."""
    from hepml.sources.pythia.chunks import write_chunk

    arrays = generate_ntuple_chunk(
        sample, seed, chunk, counts, NtupleGenSettings.from_config(settings)
    )
    write_chunk(path, arrays)
    log.info("wrote %s (sample %s, chunk %d, %s)", path, sample, chunk, dict(counts))


# ------------------------------------------------------------------------ pseudo-data
@dataclass(frozen=True)
class YieldSpec:
    """How one MC process's expected yield is computed: its sample's tree and weight
    expression, with the block's constants and definitions (the config's own weight)."""

    tree: str
    weight: str
    constants: Mapping[str, float]
    define: Mapping[str, str]


def expected_yield(path: str | os.PathLike, spec: YieldSpec, context: str) -> float:
    """The sum over every event of a generated MC file of its sample's weight: the yield the
    simulation predicts for the skimmed sample at the configured luminosity."""
    import uproot

    from hepml.expressions import Jagged, is_per_object, parse

    define = [
        (name, parse(text, f"{context}, definition {name}")) for name, text in spec.define.items()
    ]
    weight = parse(spec.weight, f"{context}, weight")
    derived = {name for name, _ in define} | set(spec.constants)
    needed = set(weight.names)
    for _, expression in define:
        needed |= expression.names
    branches = sorted(needed - derived)
    with uproot.open(path) as handle:
        if spec.tree not in handle:
            raise ValueError(f"{context}: file {path}: no tree {spec.tree!r}")
        tree = handle[spec.tree]
        missing = sorted(set(branches) - set(tree.keys()))
        if missing:
            raise ValueError(
                f"{context}: file {path}: no branch {missing} read by the weight "
                f"{spec.weight!r} (or a definition it uses)"
            )
        raw = tree.arrays(branches, library="ak", how=dict) if branches else {}
        length = tree.num_entries
    import awkward as ak

    columns: dict = {
        name: Jagged.from_awkward(value) if is_per_object(value) else ak.to_numpy(value)
        for name, value in raw.items()
    }
    columns.update({k: np.float64(v) for k, v in spec.constants.items()})
    for name, expression in define:
        columns[name] = expression.evaluate(columns, length, f"{context}, definition {name}")
    values = weight.evaluate(columns, length, f"{context}, weight").astype(np.float64)
    total = float(values.sum())
    if not np.isfinite(values).all() or total < 0:
        raise ValueError(
            f"{context}: file {path}: the weight {spec.weight!r} sums to {total} (expected a "
            "finite, non-negative expected yield)"
        )
    return total


def expected_yields(
    paths: Mapping[str, str | os.PathLike], specs: Mapping[str, Mapping]
) -> dict[str, float]:
    """process -> expected yield of its generated MC file (:func:`expected_yield`).
    specs: process -> {tree, weight, constants, define} (from the config, by the rules)."""
    return {
        process: expected_yield(
            paths[process], YieldSpec(**specs[process]), f"pseudo-data, process {process}"
        )
        for process in PROCESSES
    }


def data_counts(expected: Mapping[str, float], seed: int) -> dict[str, int]:
    """The pseudo-data's events of each process: Poisson(expected yield), drawn in the order of
    :data:`PROCESSES` from a generator seeded by (seed, :data:`DATA_COUNT_STREAM`), so every
    chunk job draws the same counts."""
    rng = np.random.default_rng(np.random.SeedSequence([int(seed), DATA_COUNT_STREAM]))
    return {process: int(rng.poisson(float(expected[process]))) for process in PROCESSES}


def data_chunk_counts(
    mc_paths: Mapping[str, str | os.PathLike],
    specs: Mapping[str, Mapping],
    seed: int,
    chunk: int,
    chunks: int,
) -> dict[str, int]:
    """The events of each process in pseudo-data chunk ``chunk`` (of ``chunks``)."""
    expected = expected_yields(mc_paths, specs)
    totals = data_counts(expected, seed)
    log.info(
        "pseudo-data: expected yields %s, drawn %s",
        {p: round(v, 3) for p, v in expected.items()}, totals,
    )  # fmt: skip
    return {process: chunk_share(total, chunks, chunk) for process, total in totals.items()}


# ------------------------------------------------------------------------ the merge
def read_chunks(paths: Sequence[str | os.PathLike]) -> tuple[dict[str, np.ndarray], dict]:
    """The chunks' events joined in order, and per process the summed counts and the pooled
    cross-section (each chunk's estimate weighted by its generated events)."""
    from hepml.sources.pythia.chunks import read_chunk

    parts = [read_chunk(path) for path in paths]
    names = [f"{p}_{f}" for p, fs in (("lep", LEPTON_FIELDS), ("jet", JET_FIELDS)) for f in fs] + [
        "lep_n",
        "jet_n",
        "met_et",
        "met_phi",
        "process",
    ]
    for path, part in zip(paths, parts, strict=True):
        missing = [name for name in names if name not in part]
        if missing:
            raise ValueError(f"{path}: not an ntuple chunk (no key {missing[0]!r})")
        for prefix, fields in (("lep", LEPTON_FIELDS), ("jet", JET_FIELDS)):
            total = int(part[f"{prefix}_n"].sum())
            for field in fields:
                if len(part[f"{prefix}_{field}"]) != total:
                    raise ValueError(
                        f"{path}: key '{prefix}_{field}': expected {total} values (the sum of "
                        f"{prefix}_n), got {len(part[f'{prefix}_{field}'])}"
                    )
    events = {name: np.concatenate([part[name] for part in parts]) for name in names}
    processes = {}
    for process in PROCESSES:
        chunks = [part for part in parts if f"{process}/generated" in part]
        generated = np.array([float(c[f"{process}/generated"]) for c in chunks])
        sigma = np.array([float(c[f"{process}/sigma_mb"]) for c in chunks])
        error = np.array([float(c[f"{process}/sigma_err_mb"]) for c in chunks])
        n = generated.sum()
        processes[process] = {
            "generated": int(n),
            "failed": int(sum(int(c[f"{process}/failed"]) for c in chunks)),
            "sigma_pb": float((generated * sigma).sum() / n) * 1e9 if n else 0.0,
            "sigma_err_pb": float(np.sqrt(((generated * error) ** 2).sum()) / n) * 1e9
            if n
            else 0.0,
        }
    return events, processes


def tree_branches(events: Mapping[str, np.ndarray], keep_truth: bool) -> dict:
    """The ``mini`` tree's branches: flat numpy arrays, and the per-object ones zipped per
    prefix (uproot writes ``lep_pt`` ... with a counter ``nlep``) beside ``lep_n`` / ``jet_n``."""
    import awkward as ak

    data = {
        "lep_n": events["lep_n"].astype(np.int32),
        "jet_n": events["jet_n"].astype(np.int32),
        "met_et": events["met_et"].astype(np.float32),
        "met_phi": events["met_phi"].astype(np.float32),
    }
    for prefix, fields in (("lep", LEPTON_FIELDS), ("jet", JET_FIELDS)):
        counts = events[f"{prefix}_n"].astype(np.int64)
        data[prefix] = ak.zip(
            {
                field: ak.unflatten(events[f"{prefix}_{field}"], counts)
                for field in fields
                if keep_truth or f"{prefix}_{field}" not in TRUTH_BRANCHES
            }
        )
    return data


def write_tree(path: str | os.PathLike, data: Mapping, basket: int = 10_000) -> None:
    """One TTree ``mini`` in a new ROOT file, written under a hidden temporary name and renamed
    when complete (nothing is left at ``path`` on failure)."""
    import uproot

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    types = {k: v.dtype if isinstance(v, np.ndarray) else v.type.content for k, v in data.items()}
    entries = len(data["lep_n"])
    try:
        with uproot.recreate(temporary) as handle:  # a TTree, not an RNTuple
            tree = handle.mktree(TREE, types)
            for start in range(0, max(entries, 1), basket):
                tree.extend({k: v[start : start + basket] for k, v in data.items()})
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def merge_ntuple_chunks(
    sample: str, chunk_paths: Sequence[str | os.PathLike], path: str | os.PathLike, seed: int
) -> dict[str, dict]:
    """The chunks of one sample -> its ROOT file (module docstring); returns the per-process
    counts and cross-sections.

    MC: events in chunk order, ``mcWeight`` 1, ``XSection`` the pooled cross-section (pb),
    ``SumWeights`` the generated events of all chunks.  Pseudo-data: the events of every
    process shuffled (a generator seeded by (seed, :data:`DATA_ORDER_STREAM`)), no truth and no
    weight branches."""
    if sample not in SAMPLES:
        raise ValueError(f"ntuples.generate: no generated sample {sample!r} (known: {SAMPLES})")
    events, processes = read_chunks(chunk_paths)
    n = len(events["lep_n"])
    if sample == DATA:
        order = np.random.default_rng(np.random.SeedSequence([int(seed), DATA_ORDER_STREAM]))
        events = _reorder(events, order.permutation(n))
        data = tree_branches(events, keep_truth=False)
        found = {p: int((events["process"] == k).sum()) for k, p in enumerate(PROCESSES)}
        log.info("pseudo-data: %d events (%s)", n, found)
    else:
        info = processes[sample]
        if info["generated"] < n or info["sigma_pb"] <= 0:
            raise ValueError(
                f"sample {sample}: the chunks record {info['generated']} generated events and a "
                f"cross-section of {info['sigma_pb']} pb for {n} skimmed ones (expected "
                "generated >= skimmed and a positive cross-section)"
            )
        data = tree_branches(events, keep_truth=True)
        data["mcWeight"] = np.ones(n, dtype=np.float32)
        data["XSection"] = np.full(n, info["sigma_pb"], dtype=np.float64)
        data["SumWeights"] = np.full(n, float(info["generated"]), dtype=np.float64)
        log.info(
            "sample %s: %d skimmed of %d generated events, XSection %.6g +- %.2g pb",
            sample, n, info["generated"], info["sigma_pb"], info["sigma_err_pb"],
        )  # fmt: skip
    write_tree(path, data)
    log.info("wrote %s (%d events, tree %s, MeV)", path, n, TREE)
    return processes


def _reorder(events: Mapping[str, np.ndarray], order: np.ndarray) -> dict[str, np.ndarray]:
    """The events in a new order (per-object arrays moved with their event)."""
    out = {}
    for prefix, fields in (("lep", LEPTON_FIELDS), ("jet", JET_FIELDS)):
        counts = events[f"{prefix}_n"].astype(np.int64)
        starts = np.concatenate([[0], np.cumsum(counts)[:-1]]).astype(np.int64)
        index = (
            np.concatenate([np.arange(starts[i], starts[i] + counts[i]) for i in order])
            if len(order)
            else np.zeros(0, dtype=np.int64)
        ).astype(np.int64)
        out[f"{prefix}_n"] = events[f"{prefix}_n"][order]
        for field in fields:
            out[f"{prefix}_{field}"] = events[f"{prefix}_{field}"][index]
    for name in ("met_et", "met_phi", "process"):
        out[name] = events[name][order]
    return out
