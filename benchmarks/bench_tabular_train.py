"""Training throughput of the tabular kind's deep network (docs/tabular.md "Models").

Throughput: the authors' network (4 tanh layers of 300, PaperSGD, batch 100; Baldi, Sadowski &
Whiteson 2014) on 28 synthetic features, fed as train_model feeds it (hepml.training.fit:
training_batches -> Preprocessor -> model.fit), mixed precision off. One warm-up epoch
(tracing), then the samples/s of timed epochs on the CPU with --threads threads; on a GPU
when TensorFlow sees one (otherwise "gpu": null and "gpu_absent" the reason).

Rehearsal (--rehearsal-rows N, the paper's 10,500,000): N + 500,000 synthetic rows in the UCI
layout (Parquet) go through the Higgs benchmark's rules as Snakemake runs them, each step of
hepml.steps in a fresh process: unpack_table (the last 500,000 rows test, the 500,000 before
them valid, as the authors' code), train_bdt (config/higgs.yaml's bdt, at most
--bdt-iterations trees), train_model (the authors' deep network, one epoch) and score_model of
both on the train split. Per rule: wall time, CPU time (user + system, all threads) and peak
RSS (ru_maxrss), which must stay under 2 GB (issue 20); the deep network's CPU samples/s.

    python benchmarks/bench_tabular_train.py [--threads 2] [--rows 20000] [--epochs 2]
        [--rehearsal-rows 0] [--bdt-iterations 50] [--no-score] [--skip-throughput]
        [--out results/bench/tabular_train.json]
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
from hepml.settings import FeatureSet, NetworkSettings  # noqa: E402

N_FEATURES = 28
BATCH = 100
RSS_LIMIT_MB = 2048.0  # issue 20: every rule job under 2 GB
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


# One rule's step in a fresh interpreter (bench_unpack.run_child): its peak RSS (VmHWM, the
# high-water mark of the process's own memory: ru_maxrss would keep the forking parent's RSS
# across exec) and CPU time (user + system, every thread) are the rule job's; argv[1] is a
# JSON of the step's inputs, outputs and params.
_STEP = """
import json, logging, resource, sys, time
logging.basicConfig(level=logging.INFO, stream=sys.stderr)
call = json.loads(sys.argv[1])
from hepml.steps import {module} as steps
start = time.perf_counter()
params = {{"settings": call["settings"]}}
result = steps.{step}(call["inputs"], call["outputs"], params, **call["kw"])
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
status = dict(line.split(":", 1) for line in open("/proc/self/status"))
print(json.dumps({{"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "peak_rss_mb": int(status["VmHWM"].split()[0]) / 1024}}))
"""


def run_step(module: str, step: str, call: dict) -> dict:
    """``hepml.steps.<module>.<step>`` as its rule runs it, in a fresh interpreter."""
    from bench_unpack import run_child  # benchmarks/ is the script's directory

    result = run_child(_STEP.format(module=module, step=step), json.dumps(call))
    print(f"  {step}: {result}", flush=True)
    return {key: round(value, 2) for key, value in result.items()}


def write_uci_parquet(path: Path, rows: int, seed: int) -> None:
    """rows synthetic events in the UCI layout (column 0 the label, then 28 features; the
    signal's first seven shifted, values meaningless), as Parquet in row groups."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    names = [f"c{i}" for i in range(N_FEATURES + 1)]
    with pq.ParquetWriter(str(path), pa.schema([(n, pa.float32()) for n in names])) as writer:
        for start in range(0, rows, 500_000):
            block = synthetic(min(500_000, rows - start), seed + start // 500_000)
            columns = [block["y"].astype(np.float32), *block["features"].T]
            writer.write_table(pa.table(dict(zip(names, columns, strict=True))))


def rehearsal(n: int, threads: int, directory: Path, bdt_iterations: int, score: bool) -> dict:
    """The Higgs benchmark's rules at n training rows (paper: 10,500,000, of which the authors'
    code validates on the last 500,000): a synthetic table in the UCI layout unpacked by
    unpack_table, then train_bdt (config/higgs.yaml's bdt, at most bdt_iterations trees), one
    epoch of train_model (the authors' deep network) and score_model of both on the train
    split, each a fresh process (per-rule peak RSS and CPU time)."""
    import yaml

    config = yaml.safe_load((REPO / "config" / "higgs.yaml").read_text())
    dataset = config["datasets"]["higgs"]
    valid_rows, test_rows = 500_000, 500_000
    if n <= valid_rows:
        raise ValueError(f"--rehearsal-rows {n}: expected more than {valid_rows} (valid rows)")
    table = directory / "HIGGS.parquet"
    start = time.perf_counter()
    write_uci_parquet(table, n + test_rows, seed=10)
    write_s = time.perf_counter() - start
    feather = directory / "feather"
    outputs = {
        f"{split}_{key}": str(feather / split / f"{key}.feather")
        for split in ("train", "valid", "test")
        for key in ("features", "y", "weight")
    }
    spec = {**dataset["table"], "test_rows": test_rows, "valid_rows": valid_rows}
    rules = {}
    rules["unpack_table"] = run_step(
        "tabular",
        "unpack_table",
        {"inputs": {"table": str(table)}, "outputs": outputs, "kw": {},
         "settings": {"table": spec, "seed": config["seed"]}},
    )  # fmt: skip
    table.unlink()
    feature_set = FeatureSet.from_config(
        "complete", dataset["feature_sets"]["complete"], dataset["network_defaults"]
    )
    splits = {
        split: [outputs[f"{split}_{key}"] for key in ("features", "y", "weight")]
        for split in ("train", "valid")
    }
    models = directory / "models"
    training = {**config["training"], "epochs": 1, "threads": threads}
    bdt_block = {**training["bdt"], "max_iter": min(bdt_iterations, training["bdt"]["max_iter"])}
    rules["train_bdt"] = run_step(
        "models",
        "train_bdt",
        {"inputs": splits, "kw": {"threads": threads},
         "outputs": {k: str(models / f"bdt.{k}") for k in ("model", "history", "info")},
         "settings": {"feature_set": feature_set.to_dict(), "model": "bdt", "bdt": bdt_block,
                      "seed": config["seed"]}},
    )  # fmt: skip
    bdt_info = json.loads((models / "bdt.info").read_text())
    files = {k: str(models / f"dnn.{k}") for k in ("preprocess", "history", "info")}
    rules["train_model"] = run_step(
        "models",
        "train_model",
        {"inputs": splits, "kw": {"threads": threads},
         "outputs": {"model": str(models / "dnn.keras"), **files},
         "settings": {"feature_set": feature_set.to_dict(), "training": training,
                      "seed": config["seed"], "checkpoint_dir": str(models / "checkpoint")}},
    )  # fmt: skip
    dnn_info = json.loads((models / "dnn.info").read_text())
    if score:
        for model, extra in (
            ("bdt", {"trees": str(models / "bdt.model")}),
            ("dnn", {"model": str(models / "dnn.keras"), "preprocess": files["preprocess"]}),
        ):
            rules[f"score_model ({model}, train)"] = run_step(
                "models",
                "score_model",
                {"inputs": {"train": splits["train"], **extra},
                 "outputs": {"scores": str(models / f"{model}.scores.feather")},
                 "kw": {"split": "train", "threads": threads},
                 "settings": {"feature_set": feature_set.to_dict(), "model": model}},
            )  # fmt: skip
    return {
        "rows_train": n - valid_rows,
        "rows_valid": valid_rows,
        "rows_test": test_rows,
        "table": "synthetic UCI layout (Parquet, 29 float32 columns), unpacked by unpack_table",
        "write_s": round(write_s, 1),
        "rules": rules,
        "rss_limit_mb": RSS_LIMIT_MB,
        "rss_within_limit": all(r["peak_rss_mb"] < RSS_LIMIT_MB for r in rules.values()),
        "bdt_iterations_run": bdt_info["iterations_run"],
        "bdt_seconds_per_iteration": round(
            bdt_info["training_time_s"] / max(bdt_info["iterations_run"], 1), 2
        ),
        "dnn_samples_per_s_cpu": round(dnn_info["train_samples_per_s"]),
        "dnn_epoch_s": round(dnn_info["training_time_s"], 1),
        "threads": threads,
        "load_average_at_end": os.getloadavg(),
    }


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--rows", type=int, default=20_000)
    parser.add_argument("--epochs", type=int, default=2)
    parser.add_argument("--rehearsal-rows", type=int, default=0)
    parser.add_argument("--bdt-iterations", type=int, default=50)
    parser.add_argument("--no-score", action="store_true", help="rehearsal without score_model")
    parser.add_argument("--skip-throughput", action="store_true")
    parser.add_argument(
        "--out", type=Path, default=REPO / "results" / "bench" / "tabular_train.json"
    )
    args = parser.parse_args(argv)

    report = {
        "network": PAPER_NETWORK.to_dict(),
        "features": N_FEATURES,
        "mixed_precision": False,
        "machine": {"platform": platform.platform(), "cpus": os.cpu_count()},
        "threads": args.threads,
    }
    if args.rehearsal_rows:  # first: its steps run in fresh processes forked from this light one
        with tempfile.TemporaryDirectory() as directory:
            report["rehearsal"] = rehearsal(
                args.rehearsal_rows,
                args.threads,
                Path(directory),
                args.bdt_iterations,
                not args.no_score,
            )
        print(json.dumps(report["rehearsal"], indent=2), flush=True)
    import tensorflow as tf
    from hepml.training.fit import configure_tensorflow

    configure_tensorflow(args.threads, mixed_precision=False)
    if not args.skip_throughput:
        report["cpu"] = throughput(args.rows, args.epochs, "/CPU:0")
        report["cpu_in_memory"] = throughput(args.rows, args.epochs, "/CPU:0", in_memory=True)
        print(
            f"CPU: {report['cpu']['samples_per_s']:.0f} samples/s "
            f"(in memory {report['cpu_in_memory']['samples_per_s']:.0f})",
            flush=True,
        )
    gpus = tf.config.list_physical_devices("GPU")
    report["gpu"] = throughput(args.rows, args.epochs, "/GPU:0") if gpus else None
    if not gpus:
        report["gpu_absent"] = (
            "no GPU visible to TensorFlow on this machine (none was lent to the session that "
            "ran it): GPU samples/s not measured"
        )
    io.write_json(args.out, report)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
