"""Electron simulator: throughput on one core against the 100k events/min target, the cost of
writing the two published files, image sparsity, and the proxies that check that the default
settings tell the paper's story.

Throughput: ``simulate_electrons`` over ``--events`` events (chunks of 10,000, one thread);
ratio = events per minute / 100,000.  Side by side, ``write_electron_dataset`` on
``--write-events`` events (both files, into a temporary directory) gives the cost of the
writer relative to the generation alone.

Proxies (docs/reference.md 1; test AUCs of scikit-learn HistGradientBoosting, seeded, trained on the
train split of ``--proxy-events`` events): HL; HL + the two ECal observables of the authors'
guided search, EFP 1_0_0 (kappa 2) = sum_i z_i^2 and 2_1_0 (kappa 2, beta 0.5) =
sum_ij z_i^2 z_j^2 Delta R_ij^0.5 with z = ET / sum ET; HL + mass; mass; the two observables
alone.  ``--cnn`` adds small Keras CNNs (2 conv blocks of 8 filters, 2 x 32 dense, 6 epochs,
log(1 + ET) inputs) on et + ht, et and ht - minutes of CPU.  Writes results/bench/simulator.json.

    python benchmarks/bench_simulator.py [--events 100000] [--write-events 20000]
        [--proxy-events 25000] [--cnn]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

os.environ.setdefault("OMP_NUM_THREADS", "1")
os.environ.setdefault("OPENBLAS_NUM_THREADS", "1")
os.environ.setdefault("MKL_NUM_THREADS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from hepml.geometry import ECAL  # noqa: E402
from hepml.io.publish import split_sizes  # noqa: E402
from hepml.sources.simulate.electrons import (  # noqa: E402
    ElectronSimSettings,
    simulate_electrons,
)
from hepml.steps.data import write_electron_dataset  # noqa: E402

TARGET_PER_MIN = 100_000
SEED = 20211


def concentration_observables(et: np.ndarray) -> np.ndarray:
    """(N, 2): ECal EFP 1_0_0 (kappa 2) and 2_1_0 (kappa 2, beta 0.5) of (N, 31, 31, 1) ET."""
    et = et[..., 0].astype(np.float64)
    z = et / et.sum(axis=(1, 2), keepdims=True)
    eta, phi = ECAL.pixel_coordinates()
    out = np.empty((len(et), 2))
    for i, image in enumerate(z):
        hit = image > 0
        w = image[hit] ** 2
        d_eta = eta[hit][:, None] - eta[hit][None, :]
        d_phi = phi[hit][:, None] - phi[hit][None, :]
        out[i] = w.sum(), w @ np.hypot(d_eta, d_phi) ** 0.5 @ w
    return out


def throughput(n_events: int, settings: ElectronSimSettings) -> dict:
    start = time.perf_counter()
    n = 0
    for chunk in simulate_electrons(n_events, SEED, settings, chunk_size=10_000):
        n += len(chunk["y"])
    seconds = time.perf_counter() - start
    per_min = 60.0 * n / seconds
    return {
        "events": n,
        "seconds": round(seconds, 2),
        "events_per_minute": round(per_min),
        "ratio_to_target": round(per_min / TARGET_PER_MIN, 2),
    }


def write_cost(n_events: int, settings: ElectronSimSettings) -> dict:
    start = time.perf_counter()
    for _ in simulate_electrons(n_events, SEED, settings, chunk_size=10_000):
        pass
    generate = time.perf_counter() - start
    with tempfile.TemporaryDirectory() as folder:
        unscaled, scaled = Path(folder) / "unscaled_data.h5", Path(folder) / "data.h5"
        start = time.perf_counter()
        write_electron_dataset(n_events, SEED, settings, unscaled, scaled)
        total = time.perf_counter() - start
        sizes = {
            "unscaled_mb": unscaled.stat().st_size / 2**20,
            "data_mb": scaled.stat().st_size / 2**20,
        }
    return {
        "events": n_events,
        "generate_seconds": round(generate, 2),
        "generate_and_write_seconds": round(total, 2),
        "ratio_total_to_generate": round(total / generate, 2),
        **{key: round(value, 1) for key, value in sizes.items()},
    }


def sparsity(sample: dict) -> dict:
    result = {}
    for label, name in ((1, "electrons"), (0, "jets")):
        mask = sample["y"] == label
        ecal = (sample["et"][mask] > 0).sum(axis=(1, 2, 3))
        hcal = (sample["ht"][mask] > 0).sum(axis=(1, 2, 3))
        result[name] = {
            "ecal_nonzero_pixels": round(float(ecal.mean()), 1),
            "hcal_nonzero_pixels": round(float(hcal.mean()), 1),
            "hcal_nonzero_cells": round(float(hcal.mean()) / 16, 2),
        }
    return result


def hgb_auc(train_x, train_y, test_x, test_y) -> float:
    from sklearn.ensemble import HistGradientBoostingClassifier
    from sklearn.metrics import roc_auc_score

    model = HistGradientBoostingClassifier(max_iter=300, early_stopping=True, random_state=0)
    model.fit(train_x, train_y)
    return round(float(roc_auc_score(test_y, model.predict_proba(test_x)[:, 1])), 4)


def cnn_aucs(sample: dict, train: slice, valid: slice, test: slice) -> dict:
    import keras
    from sklearn.metrics import roc_auc_score

    y = sample["y"].astype("float32")
    result = {}
    for name, keys in (("et_and_ht", ("et", "ht")), ("et", ("et",)), ("ht", ("ht",))):
        keras.utils.set_random_seed(SEED)
        inputs = [keras.Input(sample[key].shape[1:]) for key in keys]
        towers = []
        for tensor in inputs:
            x = tensor
            for _ in range(2):
                x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
                x = keras.layers.Conv2D(8, 3, padding="same", activation="relu")(x)
                x = keras.layers.MaxPooling2D(2, padding="same")(x)
            towers.append(keras.layers.Flatten()(x))
        x = keras.layers.Concatenate()(towers) if len(towers) > 1 else towers[0]
        for _ in range(2):
            x = keras.layers.Dense(32, activation="relu")(x)
        model = keras.Model(inputs, keras.layers.Dense(1, activation="sigmoid")(x))
        model.compile(keras.optimizers.Adam(1e-3), "binary_crossentropy")
        arrays = [np.log1p(sample[key]).astype("float32") for key in keys]
        start = time.perf_counter()
        model.fit(
            [a[train] for a in arrays],
            y[train],
            validation_data=([a[valid] for a in arrays], y[valid]),
            batch_size=128,
            epochs=6,
            verbose=0,
            callbacks=[keras.callbacks.EarlyStopping(patience=2, restore_best_weights=True)],
        )
        score = model.predict([a[test] for a in arrays], verbose=0, batch_size=1024)[:, 0]
        result[f"cnn_{name}"] = round(float(roc_auc_score(y[test], score)), 4)
        result[f"cnn_{name}_seconds"] = round(time.perf_counter() - start, 1)
    return result


def proxies(n_events: int, settings: ElectronSimSettings, cnn: bool) -> tuple[dict, dict]:
    chunks = list(simulate_electrons(n_events, SEED + 1, settings, chunk_size=n_events))
    sample = chunks[0]
    sizes = split_sizes(n_events)
    train = slice(0, sizes["train"])
    valid = slice(sizes["train"], sizes["train"] + sizes["valid"])
    test = slice(sizes["train"] + sizes["valid"], n_events)
    hl, mass, y = sample["hl"], sample["mass"], sample["y"]
    efps = concentration_observables(sample["et"])
    sets = {
        "hl": hl,
        "hl_and_2_efps": np.hstack([hl, efps]),
        "hl_and_sum_z2": np.hstack([hl, efps[:, :1]]),
        "hl_and_mass": np.hstack([hl, mass]),
        "mass": mass,
        "2_efps": efps,
    }
    aucs = {name: hgb_auc(x[train], y[train], x[test], y[test]) for name, x in sets.items()}
    aucs["n_test"] = test.stop - test.start
    if cnn:
        aucs.update(cnn_aucs(sample, train, valid, test))
    return aucs, sparsity(sample)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--events", type=int, default=100_000)
    parser.add_argument("--write-events", type=int, default=20_000)
    parser.add_argument("--proxy-events", type=int, default=25_000)
    parser.add_argument("--cnn", action="store_true", help="also train the small CNNs (minutes)")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "bench" / "simulator.json")
    args = parser.parse_args()

    settings = ElectronSimSettings()
    result = {
        "machine": platform.platform(),
        "processor": platform.processor() or platform.machine(),
        "settings": "ElectronSimSettings() defaults (= config/config.yaml)",
        "throughput": throughput(args.events, settings),
        "write": write_cost(args.write_events, settings),
    }
    result["proxy_aucs"], result["sparsity"] = proxies(args.proxy_events, settings, args.cnn)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
