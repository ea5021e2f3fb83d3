"""Training throughput at the paper's sizes and hyper-parameters (`make bench-paper`).

For every feature set of config/paper.yaml (electrons: the authors' networks per feature set;
muons: the CNN, the isolation DNN, PFN and EFN), the model the workflow builds
(hepml.models.networks.build_model) is trained on synthetic inputs of the published shapes
with the paper's batch size, and the samples/s of the steady state is measured (the first
batches, which trace the graph, are excluded). Writes results/bench/training_paper.json with the
device, the thread count and, per feature set, samples/s, parameters, and the hours one epoch of the
paper's train split (137.5k electrons; 128k muons, 64 % of 200k) takes at that rate.

`--mixed-precision` measures float16 compute (useful only on GPUs with tensor cores).
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hepml.io.dataset import input_names  # noqa: E402
from hepml.models.networks import build_model, compile_model  # noqa: E402
from hepml.settings import feature_sets_from_config  # noqa: E402
from hepml.training.fit import configure_tensorflow, seed_everything  # noqa: E402
from hepml.training.preprocess import Preprocessor  # noqa: E402

SHAPES = {"et": (31, 31, 1), "ee": (31, 31, 1), "ht": (32, 32, 1), "he": (32, 32, 1)}
SHAPES.update(hl=(7,), mass=(1,), images=(32, 32, 1), iso=(6,), pt=(1,))
TRAIN_EVENTS = {"electrons": 137_526, "muons": 128_000}


def synthetic(names: list[str], n: int, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """Inputs of the published shapes: sparse non-negative images, flat features."""
    arrays = {}
    for name in names:
        shape = SHAPES[name]
        if len(shape) == 3:
            image = rng.exponential(1.0, size=(n, *shape)).astype(np.float32)
            image[rng.random(image.shape) < 0.9] = 0.0
            arrays[name] = image
        else:
            arrays[name] = rng.normal(size=(n, *shape)).astype(np.float32)
    return arrays


def samples_per_s(feature_set, batch: int, n_batches: int, seed: int) -> tuple[float, int]:
    """Steady-state samples/s of model.fit, and the model's parameter count."""
    import keras

    keras.backend.clear_session()
    seed_everything(seed)
    names = input_names(feature_set.inputs)
    rng = np.random.default_rng(seed)
    x = synthetic(names, batch * (n_batches + 3), rng)
    y = rng.integers(0, 2, batch * (n_batches + 3)).astype(np.float32)
    specs = Preprocessor.fit({**{k: v[:64] for k, v in x.items()}}, names).specs
    model = compile_model(
        build_model(feature_set.primary_model, specs, feature_set.network),
        feature_set.network.learning_rate,
    )
    warm = {k: v[: 3 * batch] for k, v in x.items()}
    model.fit(warm, y[: 3 * batch], batch_size=batch, epochs=1, verbose=0)
    rest = {k: v[3 * batch :] for k, v in x.items()}
    start = time.perf_counter()
    model.fit(rest, y[3 * batch :], batch_size=batch, epochs=1, verbose=0, shuffle=False)
    return batch * n_batches / (time.perf_counter() - start), int(model.count_params())


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--batches", type=int, default=20)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--mixed-precision", action="store_true")
    parser.add_argument("--out", default=str(REPO / "results" / "bench" / "training_paper.json"))
    args = parser.parse_args()
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    device = configure_tensorflow(args.threads, False, args.mixed_precision)
    batch = int(config["training"]["batch_size"])
    rows = []
    for dataset, block in config["datasets"].items():
        for name, feature_set in feature_sets_from_config(block).items():
            rate, n_params = samples_per_s(feature_set, batch, args.batches, seed=1)
            rows.append(
                {
                    "dataset": dataset,
                    "feature_set": name,
                    "model": feature_set.primary_model,
                    "parameters": n_params,
                    "samples_per_s": round(rate, 1),
                    "hours_per_epoch": round(TRAIN_EVENTS[dataset] / rate / 3600, 3),
                }
            )
            print(json.dumps(rows[-1]), flush=True)
    result = {
        "benchmark": "training samples/s at the paper's sizes and hyper-parameters",
        "device": device["device"],
        "threads": args.threads,
        "mixed_precision": args.mixed_precision,
        "batch_size": batch,
        "batches_timed": args.batches,
        "feature_sets": rows,
    }
    Path(args.out).parent.mkdir(parents=True, exist_ok=True)
    Path(args.out).write_text(json.dumps(result, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
