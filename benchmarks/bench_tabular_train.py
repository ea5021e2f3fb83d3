"""Training throughput of the tabular kind's deep network (docs/tabular.md "Models").

Throughput: the authors' network (4 tanh layers of 300, PaperSGD, batch 100; Baldi, Sadowski &
Whiteson 2014) on 28 synthetic features, fed as train_model feeds it (hepml.training.fit:
training_batches -> Preprocessor -> model.fit), mixed precision off. One warm-up epoch
(tracing), then the samples/s of timed epochs on the CPU with --threads threads; on a GPU
when TensorFlow sees one (skipped otherwise, said so in the JSON).

Rehearsal (--rehearsal-rows N): N synthetic rows written as the unpacked Feather layout
(features (N, 28) float32, y, weight), then one epoch of hepml.training.fit.train_network
streamed from the memory-mapped files and one LightGBM fit (hepml.training.bdt) on them: wall
time and the process's peak RSS after each. The paper's size is 10,500,000 training rows.

    python benchmarks/bench_tabular_train.py [--threads 2] [--rows 20000] [--epochs 2]
        [--rehearsal-rows 0] [--out results/bench/tabular_train.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

from hepml import io  # noqa: E402
from hepml.io.dataset import load_split, split_files  # noqa: E402
from hepml.settings import (  # noqa: E402
    BdtSettings,
    FeatureSet,
    NetworkSettings,
    TrainingSettings,
)

N_FEATURES = 28
BATCH = 100
# The authors' deep network (docs/tabular.md "Models": higgs-susy layers4_width300_*.py).
PAPER_NETWORK = NetworkSettings(
    dense_layers=4,
    units=300,
    learning_rate=0.05,
    optimizer="sgd",
    momentum=0.9,
    final_momentum=0.99,
    momentum_epochs=200,
    lr_decay=1.0000002,
    min_learning_rate=1e-6,
    weight_decay=1e-5,
)


def synthetic(n: int, seed: int) -> dict[str, np.ndarray]:
    """n events: 28 Gaussian features, the signal's first seven shifted (values meaningless)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int8)
    x = rng.normal(size=(n, N_FEATURES)).astype(np.float32)
    x[:, :7] += 0.3 * y[:, None]
    return {"features": x, "y": y, "weight": np.ones(n, dtype=np.float32)}


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def throughput(rows: int, epochs: int, device: str, in_memory: bool = False) -> dict:
    """samples/s of the paper's network on ``device`` after one warm-up epoch, fed as
    train_model feeds it (training_batches) or, in_memory, the scaled arrays as one tensor
    (the loader's overhead is the difference)."""
    import keras
    import tensorflow as tf
    from hepml.models.networks import build_model, compile_model
    from hepml.training.fit import seed_everything, training_batches
    from hepml.training.preprocess import Preprocessor

    arrays = synthetic(rows, 1)
    preprocessor = Preprocessor.fit(arrays, ["features"])
    times: list[float] = []

    class Clock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_epoch_end(self, epoch, logs=None):
            times.append(time.perf_counter() - self.start)

    with tf.device(device):
        seed_everything(1)
        model = build_model("dnn", preprocessor.specs, PAPER_NETWORK)
        steps = int(np.ceil(rows / BATCH))
        compile_model(model, PAPER_NETWORK.learning_rate, PAPER_NETWORK, steps)
        fit = {"epochs": 1 + epochs, "shuffle": False, "verbose": 0, "callbacks": [Clock()]}
        if in_memory:
            x = preprocessor.transform({"features": arrays["features"]})
            model.fit(x, arrays["y"].astype(np.float32), batch_size=BATCH, **fit)
        else:
            model.fit(training_batches(arrays, preprocessor, BATCH, seed=1), **fit)
    timed = times[1:]
    keras.backend.clear_session()
    return {
        "device": device,
        "feed": "in-memory tensors" if in_memory else "training_batches (as train_model)",
        "rows": rows,
        "batch_size": BATCH,
        "epochs_timed": len(timed),
        "n_parameters": int(model.count_params()),
        "samples_per_s": rows * len(timed) / sum(timed),
        "epoch_seconds": timed,
    }


def rehearsal(n: int, threads: int, directory: Path) -> dict:
    """One streamed epoch of the deep network and one LightGBM fit on n synthetic rows."""
    from hepml.training import bdt
    from hepml.training.fit import train_network

    chunk = 500_000
    feather = directory / "feather"
    start = time.perf_counter()
    for split, rows, seed in (("train", n, 10), ("valid", max(n // 20, 1000), 11)):
        for key in ("features", "y", "weight"):  # each block drawn again per key: one in memory
            blocks = (
                synthetic(min(chunk, rows - s), seed + s // chunk)[key]
                for s in range(0, rows, chunk)
            )
            io.write_array_chunks(feather / split / f"{key}.feather", rows, blocks)
    write_s = time.perf_counter() - start
    rss_write = peak_rss_mb()
    train, valid = (
        load_split(split_files(feather, split, ["features"]), ["features"], on_demand=True)
        for split in ("train", "valid")
    )
    feature_set = FeatureSet("complete", ("features",), PAPER_NETWORK, models=("dnn", "gbdt"))
    settings = TrainingSettings(
        batch_size=BATCH, epochs=1, patience=10, lr_factor=0.5, lr_patience=1000, threads=threads
    )
    start = time.perf_counter()
    result = train_network(train, valid, feature_set, settings, seed=1)
    dnn_s = time.perf_counter() - start
    rss_dnn = peak_rss_mb()
    start = time.perf_counter()
    _, _, info = bdt.train_bdt(
        train, valid, feature_set, BdtSettings(max_iter=50), seed=1, threads=threads, model="gbdt"
    )
    bdt_s = time.perf_counter() - start
    return {
        "rows_train": n,
        "rows_valid": len(valid["y"]),
        "write_s": write_s,
        "peak_rss_mb_after_write": rss_write,
        "dnn_one_epoch_s": dnn_s,
        "dnn_samples_per_s": result.info["train_samples_per_s"],
        "peak_rss_mb_after_dnn": rss_dnn,
        "gbdt_50_iterations_s": bdt_s,
        "gbdt_iterations_run": info["iterations_run"],
        "peak_rss_mb_after_gbdt": peak_rss_mb(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rehearsal-rows", type=int, default=0)
    parser.add_argument(
        "--out", type=Path, default=REPO / "results" / "bench" / "tabular_train.json"
    )
    args = parser.parse_args(argv)

    import tensorflow as tf
    from hepml.training.fit import configure_tensorflow

    configure_tensorflow(args.threads, mixed_precision=False)
    report = {
        "network": PAPER_NETWORK.to_dict(),
        "features": N_FEATURES,
        "mixed_precision": False,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "threads": args.threads,
        "cpu": throughput(args.rows, args.epochs, "/CPU:0"),
        "cpu_in_memory": throughput(args.rows, args.epochs, "/CPU:0", in_memory=True),
    }
    gpus = tf.config.list_physical_devices("GPU")
    report["gpu"] = (
        throughput(args.rows, args.epochs, "/GPU:0") if gpus else {"skipped": "no GPU visible"}
    )
    print(
        f"CPU: {report['cpu']['samples_per_s']:.0f} samples/s "
        f"(in memory {report['cpu_in_memory']['samples_per_s']:.0f})",
        flush=True,
    )
    if args.rehearsal_rows:
        with tempfile.TemporaryDirectory() as directory:
            report["rehearsal"] = rehearsal(args.rehearsal_rows, args.threads, Path(directory))
        print(json.dumps(report["rehearsal"], indent=2))
    io.write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
