"""Muon simulator: throughput on one core against the 100k events/min target, and the proxies
that check the default settings tell the paper's story (cones lose to the cell information).

Throughput: ``simulate_muons`` over ``--events`` events in chunks of 10,000 (weights reference
included), one thread; ratio = events per minute / 100,000. Peak resident memory is reported
to show that it does not grow with the number of events.

Proxies (docs/reference.md 2; weighted test AUCs, scikit-learn HistGradientBoosting, seeded): on the
isolation cones + pT, and on the same plus per-ring sums, maxima, cell counts and ET of cells
above 3 GeV in five rings of Delta R - information a cone sum throws away. The gap is
the room the CNN and the PFN have over the cone DNN. Writes results/bench/muon_sim.json.

    python benchmarks/bench_muon_sim.py [--events 100000] [--proxy-events 40000]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from hepml.geometry import MUON  # noqa: E402
from hepml.sources.simulate.muons import MuonSimSettings, simulate_muons  # noqa: E402

TARGET_PER_MIN = 100_000
RING_EDGES = (0.0, 0.1, 0.2, 0.3, 0.4, 0.6)


def throughput(n_events: int, seed: int) -> dict:
    start = time.perf_counter()
    done = sum(
        len(chunk.arrays["pt"])
        for chunk in simulate_muons(n_events, seed, MuonSimSettings(), chunk_size=10_000)
    )
    seconds = time.perf_counter() - start
    per_min = done / seconds * 60
    return {
        "events": done,
        "seconds": round(seconds, 2),
        "events_per_min": round(per_min),
        "target_per_min": TARGET_PER_MIN,
        "ratio_to_target": round(per_min / TARGET_PER_MIN, 2),
        "peak_rss_mb": round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024, 1),
    }


def ring_features(images: np.ndarray) -> np.ndarray:
    """(N, 4 x rings): per ring the ET sum, the hottest cell, the cell count, ET of cells > 3."""
    delta_r = MUON.delta_r().ravel()
    flat = images.reshape(len(images), -1)
    columns = []
    for low, high in zip(RING_EDGES[:-1], RING_EDGES[1:], strict=True):
        cells = flat[:, (delta_r >= low) & (delta_r < high)]
        columns += [
            cells.sum(1),
            cells.max(1),
            (cells > 0).sum(1),
            np.where(cells > 3, cells, 0).sum(1),
        ]
    return np.stack(columns, axis=1)


def proxies(n_events: int, seed: int) -> dict:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    splits: dict = {}
    for chunk in simulate_muons(n_events, seed, MuonSimSettings()):
        part = splits.setdefault(chunk.split, {"y": [], "x_iso": [], "x_rings": [], "w": []})
        n = len(chunk.arrays["pt"])
        cones = np.c_[chunk.arrays["iso"], chunk.arrays["pt"]]
        part["y"].append(np.full(n, 1 if chunk.label == "signal" else 0))
        part["x_iso"].append(cones)
        part["x_rings"].append(np.c_[cones, ring_features(chunk.arrays["images"])])
        part["w"].append(chunk.arrays["weights"])
    data = {s: {k: np.concatenate(v) for k, v in part.items()} for s, part in splits.items()}
    result = {}
    for name in ("x_iso", "x_rings"):
        model = HistGradientBoostingClassifier(max_iter=300, early_stopping=True, random_state=0)
        model.fit(data["train"][name], data["train"]["y"], sample_weight=data["train"]["w"])
        score = model.predict_proba(data["test"][name])[:, 1]
        test = data["test"]
        result[name] = roc_auc_score(test["y"], score, sample_weight=test["w"])
    return {
        "events": n_events,
        "n_test": int(len(data["test"]["y"])),
        "auc_iso_pt": round(result["x_iso"], 4),
        "auc_iso_pt_rings": round(result["x_rings"], 4),
        "gap": round(result["x_rings"] - result["x_iso"], 4),
        "paper": {"cnn_images": 0.8475, "dnn_cones": 0.794},
    }


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--proxy-events", type=int, default=40_000)
    parser.add_argument("--seed", type=int, default=20211)
    args = parser.parse_args()
    out = {
        "benchmark": "muon_sim",
        "machine": {"python": platform.python_version(), "cpus": os.cpu_count()},
        "throughput": throughput(args.events, args.seed),
        "proxies": proxies(args.proxy_events, args.seed),
    }
    path = REPO / "results" / "bench" / "muon_sim.json"
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_text(json.dumps(out, indent=2) + "\n")
    os.replace(tmp, path)
    print(json.dumps(out, indent=2))
    return 0 if out["throughput"]["ratio_to_target"] >= 1 else 1


if __name__ == "__main__":
    sys.exit(main())
