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

    python benchmarks/bench_generate.py [--events 300] [--candidates 60] [--cores 2]
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

from hepml.sources.pythia import electrons, muons  # noqa: E402
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


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=300)
    parser.add_argument("--candidates", type=int, default=60)
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--config", default=str(REPO / "config" / "generated.yaml"))
    args = parser.parse_args()
    config = yaml.safe_load(Path(args.config).read_text())
    result = {
        "machine": {
            "cpu_count": os.cpu_count(),
            "python": platform.python_version(),
            "load_average_1min": round(os.getloadavg()[0], 2),
        },
        "rates": "per CPU second of one thread (time.process_time)",
        "config": os.path.relpath(args.config, REPO),
        "datasets": {},
    }
    for name, module, cls in (
        ("electrons", electrons, electrons.ElectronGenSettings),
        ("muons", muons, muons.MuonGenSettings),
    ):
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
