"""EFP engine (hepml.efp.engine.EFPEngine) vs energyflow's EFPSet.batch_compute, single process.

Both compute the same EFPs of the same simulated ECal images (the workflow's built-in electron
simulator, 2,000 events by default, about 25 non-zero cells each), one thread each (OMP,
OpenBLAS and MKL limited to 1 before numpy is imported), at three (kappa, beta) pairs, the
paper's picks (2, 0.5), (1, 0.5), (1, 2), one EFPSet / one engine per pair:
  - the d <= 5 prime graphs (54): the engine must be >= 10x faster;
  - the d <= 7 prime graphs (490): >= 3x. energyflow runs on the first --ef-events events only
    and its time is scaled to all events (said in the JSON).
Times are process CPU seconds (the machine may be shared; wall-clock ratios are written too),
the best of --repeats runs, engine and energyflow alternating. The engine's time includes
turning images into particles; energyflow gets its particle arrays ready-made (not timed).
Values are compared on the events both computed. Writes results/bench/efp.json; exits 1 when
a ratio misses its target.

    python benchmarks/bench_efp.py [--events 2000] [--ef-events 200] [--repeats 2]
"""

from __future__ import annotations

import os

for _variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ[_variable] = "1"

import argparse  # noqa: E402
import json  # noqa: E402
import platform  # noqa: E402
import sys  # noqa: E402
import time  # noqa: E402
from pathlib import Path  # noqa: E402

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from hepml.efp.engine import EFPEngine  # noqa: E402
from hepml.efp.graphs import select_graphs  # noqa: E402
from hepml.geometry import ECAL  # noqa: E402
from hepml.sources.simulate.electrons import ElectronSimSettings, simulate_block  # noqa: E402

PAIRS = ((2.0, 0.5), (1.0, 0.5), (1.0, 2.0))  # (kappa, beta): docs/reference.md, guided picks
CASES = (("d<=5", 10.0, False), ("d<=7", 3.0, True))  # selection, target ratio, subsample ef
SEED = 20211


def particles(image: np.ndarray) -> np.ndarray:
    """(M, 3) [ET fraction, eta, phi] of the non-zero pixels: energyflow's ptyphim input."""
    eta, phi = ECAL.pixel_coordinates()
    flat = np.asarray(image, dtype=np.float64).reshape(ECAL.shape)
    mask = flat > 0
    return np.stack([flat[mask] / flat[mask].sum(), eta[mask], phi[mask]], axis=1)


def timed(function):
    """(CPU seconds of this process, wall seconds, result) of function()."""
    cpu, wall = time.process_time(), time.perf_counter()
    result = function()
    return time.process_time() - cpu, time.perf_counter() - wall, result


def run_case(selection: str, images: np.ndarray, events: list, n_reference: int, repeats: int):
    """Engine and energyflow, alternating, `repeats` times each; the best time of each.

    Returns (engine (cpu, wall), energyflow (cpu, wall), engine values, energyflow values,
    the EFPSets). Engines and EFPSets are built outside the clock.
    """
    import energyflow

    graphs = select_graphs([[selection, "p==1"]])
    engines = [EFPEngine(graphs, [kappa], [beta], ECAL) for kappa, beta in PAIRS]
    sets = [
        energyflow.EFPSet(selection, "p==1", measure="hadr", kappa=k, beta=b, normed=False)
        for k, b in PAIRS
    ]
    ours_best, theirs_best = (np.inf, np.inf), (np.inf, np.inf)
    for _ in range(repeats):
        *ours_time, ours = timed(lambda: [engine.compute(images)[0] for engine in engines])
        *theirs_time, theirs = timed(
            lambda: [s.batch_compute(events[:n_reference], n_jobs=1) for s in sets]
        )
        ours_best = tuple(min(a, b) for a, b in zip(ours_best, ours_time, strict=True))
        theirs_best = tuple(min(a, b) for a, b in zip(theirs_best, theirs_time, strict=True))
    return graphs, ours_best, theirs_best, ours, theirs, sets


def max_relative_difference(ours, reference, sets, graphs) -> float:
    """Largest |ours - energyflow| / |energyflow| over events, graphs and pairs."""
    column = {graph.ndk: i for i, graph in enumerate(graphs)}
    worst = 0.0
    for mine, theirs, efpset in zip(ours, reference, sets, strict=True):
        order = [column[tuple(int(x) for x in spec[[0, 2, 4]])] for spec in efpset.specs]
        mine = mine[: len(theirs)][:, order]
        scale = np.maximum(np.abs(theirs), np.finfo(float).tiny)
        worst = max(worst, float(np.max(np.abs(mine - theirs) / scale)))
    return worst


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=2000)
    parser.add_argument("--ef-events", type=int, default=200, help="energyflow events, d<=7")
    parser.add_argument("--repeats", type=int, default=2, help="runs of each (best kept)")
    args = parser.parse_args()

    images = simulate_block(SEED, 0, args.events, ElectronSimSettings())["et"]
    events = [particles(image) for image in images]
    multiplicity = [len(event) for event in events]
    result = {
        "events": args.events,
        "images": "ECal et, built-in electron simulator (signal and background), seed 20211",
        "particles_per_event": {
            "mean": float(np.mean(multiplicity)),
            "max": int(np.max(multiplicity)),
        },
        "pairs_kappa_beta": [list(pair) for pair in PAIRS],
        "threads": 1,
        "timing": "process CPU time (single thread), best of --repeats runs alternating "
        "engine and energyflow; engine: images -> EFPs, energyflow: particles ready-made; "
        "events/s count all three pairs together; ratio_wall_clock for comparison",
        "machine": {"python": platform.python_version(), "processor": platform.machine()},
        "cases": {},
    }
    failed = []
    for selection, target, subsample in CASES:
        n_reference = min(args.ef_events, args.events) if subsample else args.events
        graphs, ours, theirs, ours_values, theirs_values, sets = run_case(
            selection, images, events, n_reference, args.repeats
        )
        scale = args.events / n_reference
        ratio_cpu = theirs[0] * scale / ours[0]
        ratio_wall = theirs[1] * scale / ours[1]
        case = {
            "graphs": len(graphs),
            "engine_events_per_s": args.events / ours[0],
            "energyflow_events_per_s": n_reference / theirs[0],
            "energyflow_events_timed": n_reference,
            "energyflow_time_scaled_to_all_events": n_reference != args.events,
            "ratio": ratio_cpu,
            "ratio_wall_clock": ratio_wall,
            "target_ratio": target,
            "passed": ratio_cpu >= target,
            "max_relative_difference": max_relative_difference(
                ours_values, theirs_values, sets, graphs
            ),
        }
        result["cases"][f"{selection}, p==1"] = case
        print(
            f"{selection}: engine {case['engine_events_per_s']:.1f} ev/s, energyflow "
            f"{case['energyflow_events_per_s']:.1f} ev/s ({n_reference} events): "
            f"{ratio_cpu:.1f}x CPU time, {ratio_wall:.1f}x wall clock (target {target:g}x), "
            f"max rel. diff {case['max_relative_difference']:.1e}",
            flush=True,
        )
        if not case["passed"]:
            failed.append(selection)
    out = REPO / "results" / "bench" / "efp.json"
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(result, indent=2) + "\n")
    if failed:
        print(f"below target: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
