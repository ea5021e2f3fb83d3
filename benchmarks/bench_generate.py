"""The generate source: Pythia 8 events per second and candidates per second, one core.

For each generator of config/generated.yaml (electron signal Z' -> e e, QCD dijets, muon
signal Z' -> mu mu, forced b bbar, minimum bias), one thread, rates per CPU second of the
process (``time.process_time``), so that other jobs on a shared machine do not lower them:

* ``pythia_events_per_s``: ``pythia.next()`` plus reading the stable particles, over
  ``--events`` events (hadronisation and multiparton interactions on, as configured);
* ``candidates_per_s``: accepted candidates per second of the whole chain of one class
  (generation, candidate search, pile-up overlay, calorimeter, images), ``--candidates`` each;
* ``projected_generation_s``: the generate_chunk time of the configured n_events on
  ``--cores`` free cores (classes split by signal_fraction), from the candidate rates.

Writes results/bench/generate.json.

The Higgs benchmark's generator (kind tabular, hepml.sources.pythia.higgs, ``--kinds higgs``)
writes results/bench/generate_higgs.json: per class (signal gg -> H0, background t tbar),
with multiparton interactions on and off, ``pythia_events_per_s`` as above,
``events_per_s`` (events Pythia made per CPU second of the whole chain: generation, leptons,
towers, jets, b-tags, features), ``accepted_per_s`` (events passing the paper's selection per
CPU second), the acceptance, Pythia's sigma x BR of the forced decays, and the generate_chunk
time of ``--higgs-events`` events per class on ``--cores`` cores.

    python benchmarks/bench_generate.py [--events 300] [--candidates 60] [--cores 2]
        [--kinds electrons muons higgs] [--higgs-accepted 40] [--higgs-events 5000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")

import numpy as np  # noqa: E402
import yaml  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from hepml.sources.pythia import electrons, higgs, muons  # noqa: E402
from hepml.sources.pythia.pileup import build_library  # noqa: E402
from hepml.sources.pythia.pythia import final_state, start_pythia  # noqa: E402

SEED = 20211


def pythia_rate(commands, n_events: int, ecm: float) -> float:
    """Events per CPU second (one thread) of Pythia generation plus reading the particles."""
    pythia = start_pythia(commands, SEED, ecm)
    start = time.process_time()
    done = 0
    while done < n_events:
        if pythia.next():
            final_state(pythia.event)
            done += 1
    return done / (time.process_time() - start)


def candidate_rate(module, settings, signal: bool, n: int) -> float:
    """Accepted candidates per CPU second of one class through the whole chain."""
    rng = np.random.default_rng(SEED)
    library = None
    if settings.pileup_mu > 0:
        library = build_library(
            settings.minbias_commands, SEED, settings.minbias_library_size, settings.ecm_gev
        )
    start = time.process_time()
    module._generate_class(n, signal, SEED, 0, settings, rng, library)
    return n / (time.process_time() - start)


def higgs_rates(n_accepted: int, n_events: int, cores: int, pythia_events: int) -> dict:
    """Rates of the Higgs benchmark's generator (module docstring), MPI on and off."""
    result = {}
    for mpi in (True, False):
        settings = higgs.HiggsGenSettings(multiparton_interactions=mpi)
        entry = {}
        projected = 0.0
        for label, signal in (("signal", True), ("background", False)):
            events = pythia_rate(settings.commands(signal), pythia_events, settings.ecm_gev)
            rng = np.random.default_rng(SEED)
            start = time.process_time()
            _, counts = higgs.generate_class(n_accepted, signal, SEED, 0, settings, rng)
            seconds = time.process_time() - start
            entry[label] = {
                "pythia_events_per_s": round(events, 1),
                "events_per_s": round(counts["tried"] / seconds, 1),
                "accepted_per_s": round(n_accepted / seconds, 2),
                "acceptance": round(n_accepted / counts["tried"], 4),
                "accepted": n_accepted,
                "tried": counts["tried"],
                "aborted": counts["failed"],
                "sigma_x_br_fb": round(counts["sigma_mb"] * 1e12, 4),
            }
            projected += n_events / entry[label]["accepted_per_s"]
            print("higgs", "mpi" if mpi else "no-mpi", label, entry[label], flush=True)
        entry["n_events_per_class"] = n_events
        entry["projected_generation_s"] = round(projected / cores, 1)
        entry["cores"] = cores
        result["mpi_on" if mpi else "mpi_off"] = entry
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--candidates", type=int, default=60)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--config", default=str(REPO / "config" / "generated.yaml"))
    parser.add_argument("--kinds", nargs="+", default=["electrons", "muons", "higgs"])
    parser.add_argument("--higgs-accepted", type=int, default=40)
    parser.add_argument("--higgs-events", type=int, default=5000)
    args = parser.parse_args()
    machine = {
        "cpu_count": os.cpu_count(),
        "python": platform.python_version(),
        "load_average_1min": round(os.getloadavg()[0], 2),
    }
    if "higgs" in args.kinds:
        rates = higgs_rates(args.higgs_accepted, args.higgs_events, args.cores, args.events)
        machine["load_average_1min_after"] = round(os.getloadavg()[0], 2)
        out = REPO / "results" / "bench" / "generate_higgs.json"
        out.parent.mkdir(parents=True, exist_ok=True)
        document = {
            "machine": machine,
            "rates": "per CPU second of one thread (time.process_time)",
            **rates,
        }
        out.write_text(json.dumps(document, indent=2) + "\n")
        print(f"wrote {out}")
    lepton_kinds = [kind for kind in ("electrons", "muons") if kind in args.kinds]
    if not lepton_kinds:
        return
    config = yaml.safe_load(Path(args.config).read_text())
    result = {
        "machine": machine,
        "rates": "per CPU second of one thread (time.process_time)",
        "config": os.path.relpath(args.config, REPO),
        "datasets": {},
    }
    for name, module, cls in (
        ("electrons", electrons, electrons.ElectronGenSettings),
        ("muons", muons, muons.MuonGenSettings),
    ):
        if name not in lepton_kinds:
            continue
        block = config["datasets"][name]["generate"]
        settings = cls.from_config(block)
        entry = {}
        projected = 0.0
        n_signal = round(settings.signal_fraction * block["n_events"])
        for label, signal, commands, n_class in (
            ("signal", True, settings.signal_commands, n_signal),
            ("background", False, settings.background_commands, block["n_events"] - n_signal),
        ):
            events = pythia_rate(commands, args.events, settings.ecm_gev)
            candidates = candidate_rate(module, settings, signal, args.candidates)
            entry[label] = {
                "pythia_events_per_s": round(events, 1),
                "candidates_per_s": round(candidates, 2),
            }
            projected += n_class / candidates
            print(name, label, entry[label], flush=True)
        entry["minbias_pythia_events_per_s"] = round(
            pythia_rate(settings.minbias_commands, args.events, settings.ecm_gev), 1
        )
        entry["n_events"] = block["n_events"]
        entry["projected_generation_s"] = round(projected / args.cores, 1)
        entry["cores"] = args.cores
        result["datasets"][name] = entry
    out = REPO / "results" / "bench" / "generate.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    print(f"wrote {out}")


if __name__ == "__main__":
    main()
