"""Small ROOT files in the layout of the ATLAS Open Data 13 TeV ``1lep1tau`` ntuples, written
with uproot, for the tests of hepml.io.ntuples (and for the end-to-end test of the ntuple path).

The layout follows the 2020 release (ATL-OREACH-PUB-2020-001; the branch list and types of the
outreach framework's ZTauTauAnalysis.h, atlas-outreach-data-tools/atlas-outreach-cpp-framework-
13tev): tree ``mini``; energies and momenta in MeV; per-object vectors ``lep_*`` and ``tau_*``
with their counts ``lep_n`` / ``tau_n``; ``met_et``, ``met_phi``; ``mcWeight``, the
``scaleFactor_*`` branches, ``XSection`` (pb) and ``SumWeights`` (the generator weights' sum of
the whole sample before the skim); triggers ``trigE`` / ``trigM``.  File names follow the
release: ``MC/mc_<DSID>.<name>.1lep1tau.root`` and ``Data/data_<period>.1lep1tau.root``, so the
globs of config/ztautau.yaml find them.

The events are random draws, not physics (the signal has a lower transverse mass and more
opposite-sign pairs, enough for a classifier to find something); what matters is the layout:
several backgrounds, a sample in two files (two slices of different cross-sections), negative
generator weights, a data sample, events without a lepton or a tau (jagged branches of length
0, 1 and 2).  Every writer returns the arrays it wrote, so tests compute yields independently.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

# sample -> list of (file name relative to the fixture root, XSection in pb), role, events per
# file, fraction of negative generator weights, fraction of muons among the leptons (not the
# physics: enough muons in every sample that each keeps events after a muon selection).
SAMPLES = {
    "ztautau": (
        [("MC/mc_364128.Ztautau_PTV0_70_CVetoBVeto.1lep1tau.root", 1612.531483)],
        "signal",
        400,
        0.10,
        0.6,
    ),
    "ttbar": ([("MC/mc_410000.ttbar_lep.1lep1tau.root", 452.693559)], "background", 200, 0.0, 0.5),
    "wenu": (
        [("MC/mc_364170.Wenu_PTV0_70_CVetoBVeto.1lep1tau.root", 15324.216356)],
        "background",
        200,
        0.05,
        0.5,
    ),
    "wmunu": (
        [
            ("MC/mc_364156.Wmunu_PTV0_70_CVetoBVeto.1lep1tau.root", 15317.171239),
            ("MC/mc_364159.Wmunu_PTV70_140_CVetoBVeto.1lep1tau.root", 617.439593),
        ],
        "background",
        150,
        0.15,
        0.95,
    ),
    "wtaunu": (
        [("MC/mc_364184.Wtaunu_PTV0_70_CVetoBVeto.1lep1tau.root", 15324.887336)],
        "background",
        200,
        0.05,
        0.6,
    ),
    "zee": (
        [("MC/mc_364114.Zee_PTV0_70_CVetoBVeto.1lep1tau.root", 1587.021595)],
        "background",
        200,
        0.05,
        0.5,
    ),
    "zmumu": (
        [("MC/mc_364100.Zmumu_PTV0_70_CVetoBVeto.1lep1tau.root", 1588.474174)],
        "background",
        200,
        0.05,
        0.95,
    ),
    "data": (
        [("Data/data_A.1lep1tau.root", 0.0), ("Data/data_B.1lep1tau.root", 0.0)],
        "data",
        200,
        0.0,
        0.6,
    ),
}
SCALE_FACTORS = ("PILEUP", "ELE", "MUON", "PHOTON", "TAU", "BTAG", "LepTRIGGER")
# The open data's SumWeights covers the whole generated sample, before the 1lep1tau skim. Here it
# is set so that a file's events weigh YIELD_PER_EVENT each on average with the open data's
# weight at LUMI: the simulation then adds up to about the data's events, as a stacked figure
# expects (XSection still differs per file, and enters every weight).
LUMI = 10.0  # fb^-1
YIELD_PER_EVENT = 0.25


def _objects(rng, counts: np.ndarray, pt_min: float, pt_scale: float) -> dict[str, list]:
    """Per-object kinematics (MeV) as lists of per-event lists."""
    total = int(counts.sum())
    pt = (pt_min + rng.exponential(pt_scale, total)).astype(np.float32)
    eta = rng.uniform(-2.7, 2.7, total).astype(np.float32)
    phi = rng.uniform(-np.pi, np.pi, total).astype(np.float32)
    energy = (pt * np.cosh(eta.astype(np.float64))).astype(np.float32)
    split = np.cumsum(counts)[:-1]
    return {
        "pt": np.split(pt, split),
        "eta": np.split(eta, split),
        "phi": np.split(phi, split),
        "E": np.split(energy, split),
    }


def sum_weights(mc_weight: np.ndarray, xsec: float) -> float:
    """The SumWeights branch of a file: see YIELD_PER_EVENT (0 for data, as in the release)."""
    if xsec == 0:
        return 0.0
    return xsec * 1000 * LUMI * float(mc_weight.sum()) / (YIELD_PER_EVENT * mc_weight.size)


def generate_events(rng, n: int, role: str, negative: float, muons: float, xsec: float) -> dict:
    """One file's branches: numpy arrays for flat branches, lists of arrays for vectors."""
    signal = role == "signal"
    lep_n = rng.choice([0, 1, 2], size=n, p=[0.05, 0.85, 0.10]).astype(np.uint32)
    tau_n = rng.choice([0, 1, 2], size=n, p=[0.05, 0.85, 0.10]).astype(np.uint32)
    lep = _objects(rng, lep_n, 15000.0, 20000.0)
    tau = _objects(rng, tau_n, 20000.0, 15000.0)
    split_lep, split_tau = np.cumsum(lep_n)[:-1], np.cumsum(tau_n)[:-1]
    n_lep, n_tau = int(lep_n.sum()), int(tau_n.sum())
    lep_charge = rng.choice([-1, 1], n_lep).astype(np.int32)
    lep["charge"] = np.split(lep_charge, split_lep)
    lep["type"] = np.split(np.where(rng.random(n_lep) < muons, 13, 11).astype(np.uint32), split_lep)
    lep["ptcone30"] = [p * rng.exponential(0.06, p.size).astype(np.float32) for p in lep["pt"]]
    lep["etcone20"] = [p * rng.exponential(0.06, p.size).astype(np.float32) for p in lep["pt"]]
    lep["isTightID"] = np.split(rng.random(n_lep) < 0.9, split_lep)
    # signal: the leading tau mostly opposite in charge to the leading lepton
    tau_charge = rng.choice([-1, 1], n_tau).astype(np.int32)
    tau["charge"] = np.split(tau_charge, split_tau)
    if signal:
        for event in range(n):
            if lep_n[event] and tau_n[event] and rng.random() < 0.9:
                tau["charge"][event][0] = -lep["charge"][event][0]
    tau["nTracks"] = np.split(rng.choice([1, 3], n_tau, p=[0.7, 0.3]).astype(np.int32), split_tau)
    tau["BDTid"] = np.split(rng.uniform(0, 1, n_tau).astype(np.float32), split_tau)
    met_et = rng.exponential(15000.0 if signal else 35000.0, n).astype(np.float32)
    # signal: missing ET close to the lepton in phi (neutrinos of the tau decays), low m_T
    lead_phi = np.array([p[0] if p.size else 0.0 for p in lep["phi"]])
    spread = 0.6 if signal else np.pi
    met_phi = (lead_phi + rng.uniform(-spread, spread, n) + np.pi) % (2 * np.pi) - np.pi
    if role == "data":
        mc_weight = np.zeros(n, dtype=np.float32)
    else:
        mc_weight = np.abs(rng.normal(1.0, 0.2, n)).astype(np.float32)
        mc_weight[rng.random(n) < negative] *= -1
    branches = {
        "runNumber": np.full(n, 284500, dtype=np.int32),
        "eventNumber": np.arange(n, dtype=np.int32),
        "channelNumber": np.zeros(n, dtype=np.int32),
        "mcWeight": mc_weight,
        "XSection": np.full(n, xsec, dtype=np.float32),
        "SumWeights": np.full(n, sum_weights(mc_weight, xsec), dtype=np.float32),
        "trigE": rng.random(n) < 0.5,
        "trigM": rng.random(n) < 0.8,
        "lep_n": lep_n,
        "tau_n": tau_n,
        "met_et": met_et,
        "met_phi": met_phi.astype(np.float32),
    }
    for name in SCALE_FACTORS:
        values = rng.normal(1.0, 0.03, n) if role != "data" else np.zeros(n)
        branches[f"scaleFactor_{name}"] = values.astype(np.float32)
    for key, values in lep.items():
        branches[f"lep_{key}"] = values
    for key, values in tau.items():
        branches[f"tau_{key}"] = values
    return branches


def write_tree(path: Path, branches: dict, basket: int = 10_000) -> None:
    """Write one ``mini`` tree with uproot: vectors as jagged branches with a counter, in
    baskets of ``basket`` entries (a reader in steps then holds about one basket per branch)."""
    import awkward as ak
    import uproot

    path.parent.mkdir(parents=True, exist_ok=True)
    flat = {k: v for k, v in branches.items() if isinstance(v, np.ndarray)}
    jagged = {k: v for k, v in branches.items() if not isinstance(v, np.ndarray)}
    data = dict(flat)
    for prefix in ("lep", "tau"):
        fields = {
            k[len(prefix) + 1 :]: ak.unflatten(
                np.concatenate(v) if len(v) else np.zeros(0), [len(x) for x in v]
            )
            for k, v in jagged.items()
            if k.startswith(prefix + "_")
        }
        data[prefix] = ak.zip(fields)
    types = {k: v.dtype if isinstance(v, np.ndarray) else v.type.content for k, v in data.items()}
    with uproot.recreate(path) as handle:  # a TTree (uproot's default for a dict is an RNTuple)
        tree = handle.mktree("mini", types)
        entries = len(next(iter(flat.values())))
        for start in range(0, max(entries, 1), basket):
            tree.extend({k: v[start : start + basket] for k, v in data.items()})


def write_fixture(root: Path, seed: int = 2016, events: float = 1.0) -> dict[str, list[dict]]:
    """Write every sample of :data:`SAMPLES` under ``root``; returns sample -> the branches of
    each of its files, in file order (what was written, for independent checks)."""
    rng = np.random.default_rng(seed)
    written = {}
    for name, (files, role, n_events, negative, muons) in SAMPLES.items():
        written[name] = []
        for relative, xsec in files:
            branches = generate_events(
                rng, max(1, int(n_events * events)), role, negative, muons, xsec
            )
            write_tree(Path(root) / relative, branches)
            written[name].append(branches)
    return written
