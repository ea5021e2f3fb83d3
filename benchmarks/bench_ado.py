"""ADO of many candidates with one black box: hepml.guided.ado.ado_columns against two
references.

Paths, all on the same pairs and candidates, timed side by side (alternating, median of the
repeats): "vectorised" = ado.ado_columns (sign products of every candidate column in blocks,
integer sums); "per_column" = the average-decision-ordering package's calc_do (its heaviside of
the product of differences) called once per candidate, as the authors' loop did; "pair_loop" =
plain Python over pairs (on a 1/20 subset of the pairs, scaled up). The three must agree.
Writes results/bench/ado.json.

    python benchmarks/bench_ado.py [--events 20000] [--pairs 100000] [--candidates 300]
"""

from __future__ import annotations

import argparse
import json
import platform
import statistics
import sys
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from hepml.guided import ado  # noqa: E402

LOOP_FRACTION = 20  # the pair loop runs on 1/LOOP_FRACTION of the pairs


def per_column(values, black_box, signal, background) -> np.ndarray:
    """The package's DO, one candidate at a time, folded."""
    from average_decision_ordering import calc_do

    out = np.empty(values.shape[1])
    for column in range(values.shape[1]):
        f = values[:, column]
        out[column] = calc_do(
            f[background], f[signal], black_box[background], black_box[signal]
        ).mean()
    return np.maximum(out, 1 - out)


def pair_loop(values, black_box, signal, background) -> np.ndarray:
    """Python over pairs and candidates, folded."""
    out = []
    for column in range(values.shape[1]):
        f = values[:, column]
        total = 0.0
        for i, j in zip(signal.tolist(), background.tolist(), strict=True):
            product = (f[i] - f[j]) * (black_box[i] - black_box[j])
            total += 1.0 if product > 0 else 0.0 if product < 0 else 0.5
        out.append(total / len(signal))
    out = np.array(out)
    return np.maximum(out, 1 - out)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=20000)
    parser.add_argument("--pairs", type=int, default=100000)
    parser.add_argument("--candidates", type=int, default=300)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--out", type=Path, default=REPO / "results" / "bench" / "ado.json")
    args = parser.parse_args()

    rng = np.random.default_rng(args.seed)
    y = rng.integers(0, 2, args.events)
    black_box = rng.normal(size=args.events) + y
    values = rng.normal(size=(args.events, args.candidates)) + 0.3 * y[:, None]
    values[:, ::7] = np.round(values[:, ::7])  # some candidates with ties
    signal, background = ado.draw_pairs(y, args.pairs, args.seed)
    subset = slice(0, args.pairs // LOOP_FRACTION)

    reference = per_column(values, black_box, signal, background)
    vectorised = ado.ado_columns(values, black_box, signal, background)
    looped = pair_loop(values, black_box, signal[subset], background[subset])
    on_subset = ado.ado_columns(values, black_box, signal[subset], background[subset])
    assert np.allclose(vectorised, reference, atol=1e-12), "vectorised != package"
    assert np.allclose(on_subset, looped, atol=1e-12), "vectorised != pair loop"

    timings: dict[str, list[float]] = {"vectorised": [], "per_column": [], "pair_loop": []}
    for _ in range(args.repeats):
        for name, run in (
            ("vectorised", lambda: ado.ado_columns(values, black_box, signal, background)),
            ("per_column", lambda: per_column(values, black_box, signal, background)),
            (
                "pair_loop",
                lambda: pair_loop(values, black_box, signal[subset], background[subset]),
            ),
        ):
            start = time.perf_counter()
            run()
            elapsed = time.perf_counter() - start
            timings[name].append(elapsed * (LOOP_FRACTION if name == "pair_loop" else 1))
    median = {name: statistics.median(values_) for name, values_ in timings.items()}
    result = {
        "benchmark": "ado",
        "events": args.events,
        "pairs": args.pairs,
        "candidates": args.candidates,
        "repeats": args.repeats,
        "median_s": median,
        "speedup_vs_per_column": median["per_column"] / median["vectorised"],
        "speedup_vs_pair_loop": median["pair_loop"] / median["vectorised"],
        "pair_loop_note": f"timed on 1/{LOOP_FRACTION} of the pairs, scaled up",
        "python": platform.python_version(),
        "numpy": np.__version__,
        "machine": platform.machine(),
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    return 0


if __name__ == "__main__":
    sys.exit(main())
