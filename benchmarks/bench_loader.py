"""Training throughput through the workflow's loader vs the same model fed in-memory tensors.

Path "loader": Feather files (written with hepml.io) -> dataset.load_split (memory-mapped)
-> Preprocessor (fitted on train) -> model.fit, all inside the timed region, as
train_model does it. Path "memory": the same preprocessed arrays held as TensorFlow tensors
before the clock starts -> model.fit. Same model (the default et_and_ht CNN), same seed, same
batch size and epochs; the two paths alternate, the median of the repeats is compared. The
loader must keep at least 90 % of the in-memory throughput. Writes results/bench/loader.json.

    python benchmarks/bench_loader.py [--events 8000] [--epochs 2] [--repeats 3]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hepml import io  # noqa: E402
from hepml.io.dataset import load_split, split_files  # noqa: E402
from hepml.models.networks import build_model, compile_model  # noqa: E402
from hepml.settings import SEED_OFFSETS, TrainingSettings, feature_sets_from_config  # noqa: E402
from hepml.training.fit import configure_tensorflow, seed_everything  # noqa: E402
from hepml.training.preprocess import Preprocessor  # noqa: E402

MIN_RATIO = 0.9
FEATURE_SET = "et_and_ht"


def write_fake_split(root: Path, n: int, seed: int) -> None:
    """Electron-shaped arrays (et (N,31,31,1), ht (N,32,32,1) float32, y, weight)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int8)
    et = rng.exponential(0.2, size=(n, 31, 31, 1)).astype(np.float32)
    et[:, 15, 15, 0] += 30 * (1 + y)
    ht = rng.exponential(0.2, size=(n, 32, 32, 1)).astype(np.float32)
    (root / "train").mkdir(parents=True)
    for key, values in {"et": et, "ht": ht, "y": y, "weight": np.ones(n)}.items():
        io.write_array(root / "train" / f"{key}.feather", values)


def fit_seconds(feature_set, x, y, w, settings, seed: int, epochs: int) -> float:
    """Wall seconds of model.fit on a freshly built model."""
    import keras

    keras.backend.clear_session()
    seed_everything(seed)
    specs = Preprocessor.fit({k: v[:2] for k, v in x.items()}, list(x)).specs
    model = compile_model(
        build_model("nn", specs, feature_set.network), feature_set.network.learning_rate
    )
    start = time.perf_counter()
    model.fit(x, y, sample_weight=w, batch_size=settings.batch_size, epochs=epochs, verbose=0)
    return time.perf_counter() - start


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=8000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--out", type=Path, default=REPO / "results" / "bench" / "loader.json")
    args = parser.parse_args()

    import tensorflow as tf

    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    feature_set = feature_sets_from_config(config["datasets"]["electrons"])[FEATURE_SET]
    settings = TrainingSettings.from_config(config["training"])
    seed = int(config["seed"]) + SEED_OFFSETS["training"]
    device = configure_tensorflow(args.threads)

    with tempfile.TemporaryDirectory() as tmp:
        root = Path(tmp) / "feather"
        write_fake_split(root, args.events, seed)

        def loader_run() -> float:
            start = time.perf_counter()
            train = load_split(split_files(root, "train", feature_set.inputs), feature_set.inputs)
            pre = Preprocessor.fit(train, list(feature_set.inputs))
            x = pre.transform(train)
            y = np.asarray(train["y"], dtype=np.float32)
            w = np.asarray(train["weight"], dtype=np.float32)
            prepare = time.perf_counter() - start
            return prepare + fit_seconds(feature_set, x, y, w, settings, seed, args.epochs)

        train = load_split(split_files(root, "train", feature_set.inputs), feature_set.inputs)
        pre = Preprocessor.fit(train, list(feature_set.inputs))
        x_mem = {k: tf.constant(v) for k, v in pre.transform(train).items()}
        y_mem = tf.constant(np.asarray(train["y"], dtype=np.float32))
        w_mem = tf.constant(np.asarray(train["weight"], dtype=np.float32))

        def memory_run() -> float:
            return fit_seconds(feature_set, x_mem, y_mem, w_mem, settings, seed, args.epochs)

        loader_run()  # warm-up of both paths: first graph traces, thread pools
        memory_run()
        loader, memory = [], []
        for repeat in range(args.repeats):
            loader.append(loader_run())
            memory.append(memory_run())
            print(f"repeat {repeat + 1}: loader {loader[-1]:.2f} s, memory {memory[-1]:.2f} s")

    samples = args.events * args.epochs
    loader_rate = samples / statistics.median(loader)
    memory_rate = samples / statistics.median(memory)
    ratio = loader_rate / memory_rate
    result = {
        "benchmark": "training samples/s: Feather -> dataset.load_split -> model.fit vs tensors",
        "feature_set": FEATURE_SET,
        "network": feature_set.network.to_dict(),
        "events": args.events,
        "epochs": args.epochs,
        "batch_size": settings.batch_size,
        "repeats": args.repeats,
        "loader_seconds": loader,
        "memory_seconds": memory,
        "loader_samples_per_s": round(loader_rate, 1),
        "memory_samples_per_s": round(memory_rate, 1),
        "ratio": round(ratio, 4),
        "min_ratio": MIN_RATIO,
        "passed": ratio >= MIN_RATIO,
        "device": device["device"],
        "machine": {"cpus": os.cpu_count(), "platform": platform.platform()},
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    io.write_json(args.out, result)
    print(json.dumps(result, indent=2))
    return 0 if result["passed"] else 1


if __name__ == "__main__":
    sys.exit(main())
