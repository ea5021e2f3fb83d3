"""Training: preprocessing fitted on train, a fit loop that checkpoints and resumes, the BDT
baseline and the optional optuna search.

Splits (docs/reference.md 3, "Known mistakes"): preprocessing is fitted on the train split only,
valid drives early stopping and the LR schedule, test is never seen here.

Checkpoints: after every epoch ``{checkpoint_dir}/epoch-NNNN/`` receives the model with its
optimizer state (``model.keras``) and the best weights so far (``best_weights.npz``), then
``state.json`` (epoch, history, learning rate, early-stopping state, timings, a fingerprint of
the settings and data) is replaced atomically to point at it. A rerun with the same
fingerprint resumes after the last completed epoch; a different fingerprint starts over.
The directory is removed once the outputs are written.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from leptonid import io, metrics
from leptonid.dataset import LABEL, WEIGHT, SplitInput, input_names, split_files
from leptonid.models import InputSpec, build_model, compile_model, input_specs
from leptonid.settings import (
    SEED_OFFSETS,
    BdtSettings,
    FeatureSet,
    NetworkSettings,
    TrainingSettings,
    TuningSettings,
)

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["epoch", "loss", "val_loss", "auc", "val_auc", "lr"]
FIT_BLOCK_EVENTS = 16384  # events per block when fitting the image scales (bounded memory)
PREDICT_BLOCK_EVENTS = 8192  # events scaled and scored at a time by predict_scores
PREDICT_BATCH = 512  # activations of a paper-size CNN: ~90 MB per conv layer output
STATE_FILE = "state.json"
CKPT_MODEL = "model.keras"
CKPT_BEST = "best_weights.npz"


# --------------------------------------------------------------------------- TensorFlow set-up
def configure_tensorflow(
    threads: int, require_gpu: bool = False, mixed_precision: bool = False
) -> dict:
    """Threads, GPU memory growth and precision, before any TensorFlow op runs.

    Returns the device record stored in train_info.json. Raises RuntimeError naming
    CUDA_VISIBLE_DEVICES and TensorFlow's device list when require_gpu and no GPU is visible.
    """
    import keras
    import tensorflow as tf

    try:
        tf.config.threading.set_intra_op_parallelism_threads(int(threads))
        tf.config.threading.set_inter_op_parallelism_threads(max(1, min(2, int(threads))))
    except RuntimeError:  # already initialised in this process (tests): keep the first setting
        log.info("TensorFlow already initialised; thread settings unchanged")
    gpus = tf.config.list_physical_devices("GPU")
    cuda_visible = os.environ.get("CUDA_VISIBLE_DEVICES")
    if require_gpu and not gpus:
        raise RuntimeError(
            "training.require_gpu is true but TensorFlow sees no GPU: "
            f"CUDA_VISIBLE_DEVICES={cuda_visible!r}, "
            f"TensorFlow devices={[d.name for d in tf.config.list_physical_devices()]}, "
            f"built with CUDA={tf.test.is_built_with_cuda()}"
        )
    for gpu in gpus:
        try:
            tf.config.experimental.set_memory_growth(gpu, True)
        except RuntimeError:
            log.info("memory growth of %s already fixed", gpu.name)
    use_mixed = bool(mixed_precision and gpus)
    if mixed_precision and not gpus:
        log.warning("training.mixed_precision ignored: no GPU visible, training in float32")
    keras.mixed_precision.set_global_policy("mixed_float16" if use_mixed else "float32")
    if gpus:
        details = tf.config.experimental.get_device_details(gpus[0])
        device = f"GPU {details.get('device_name', gpus[0].name)}"
    else:
        device = f"CPU ({int(threads)} threads)"
    return {
        "device": device,
        "gpus": [gpu.name for gpu in gpus],
        "cuda_visible_devices": cuda_visible,
        "threads": int(threads),
        "mixed_precision": use_mixed,
        "tensorflow": tf.__version__,
        "keras": keras.__version__,
    }


def seed_everything(seed: int) -> None:
    """Seed Python, NumPy and TensorFlow and make TensorFlow ops deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()


# ------------------------------------------------------------------------------ preprocessing
@dataclass(frozen=True)
class Preprocessor:
    """Input scaling fitted on the train split, saved beside the model (preprocess.json).

    Images are divided by one constant per key: the mean over train events of the total image
    sum (for ET images, the mean total ET in GeV), so a typical image sums to about 1. Flat
    inputs are standardised per column with the train mean and standard deviation (a constant
    column gets std 1).
    """

    specs: tuple[InputSpec, ...]
    image_scale: Mapping[str, float]
    mean: Mapping[str, tuple[float, ...]]
    std: Mapping[str, tuple[float, ...]]

    @classmethod
    def fit(cls, arrays: Mapping[str, np.ndarray], names: Sequence[str]) -> Preprocessor:
        """Fit on the train arrays (N, ...) of the model inputs ``names``."""
        specs = tuple(input_specs(arrays, names))
        scale, mean, std = {}, {}, {}
        for spec in specs:
            if spec.is_image:
                # image sums in blocks of events: no float64 copy of the whole split
                source = arrays[spec.name]
                sums = np.empty(len(source), dtype=np.float64)
                for start in range(0, len(source), FIT_BLOCK_EVENTS):
                    block = np.asarray(source[start : start + FIT_BLOCK_EVENTS], dtype=np.float64)
                    if not np.isfinite(block).all():
                        raise ValueError(f"train input {spec.name!r} contains NaN or infinity")
                    sums[start : start + len(block)] = block.reshape(len(block), -1).sum(axis=1)
                total = float(sums.mean())
                if not total > 0:
                    raise ValueError(
                        f"train input {spec.name!r}: mean image sum is {total}, expected > 0"
                    )
                scale[spec.name] = total
            else:
                values = np.asarray(arrays[spec.name], dtype=np.float64)
                if not np.isfinite(values).all():
                    raise ValueError(f"train input {spec.name!r} contains NaN or infinity")
                flat = values.reshape(values.shape[0], -1)
                sd = flat.std(axis=0)
                if (sd == 0).any():
                    log.warning("%s: constant column(s) %s", spec.name, np.flatnonzero(sd == 0))
                mean[spec.name] = tuple(float(m) for m in flat.mean(axis=0))
                std[spec.name] = tuple(float(s) if s > 0 else 1.0 for s in sd)
        return cls(specs, scale, mean, std)

    def transform(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Model inputs as float32 arrays (N, *spec.shape), scaled with the train constants."""
        out = {}
        for spec in self.specs:
            array = np.asarray(arrays[spec.name])
            values = array.reshape(array.shape[0], *spec.shape).astype(np.float32)
            if spec.is_image:
                values /= np.float32(self.image_scale[spec.name])
            else:
                values -= np.asarray(self.mean[spec.name], dtype=np.float32)
                values /= np.asarray(self.std[spec.name], dtype=np.float32)
            out[spec.name] = values
        return out

    def to_dict(self) -> dict:
        return {
            "inputs": [
                {"name": s.name, "shape": list(s.shape), "kind": "image" if s.is_image else "flat"}
                for s in self.specs
            ],
            "image_scale": dict(self.image_scale),
            "mean": {k: list(v) for k, v in self.mean.items()},
            "std": {k: list(v) for k, v in self.std.items()},
            "fitted_on": "train",
        }

    @classmethod
    def from_dict(cls, values: Mapping) -> Preprocessor:
        specs = tuple(InputSpec(i["name"], tuple(i["shape"])) for i in values["inputs"])
        return cls(
            specs,
            dict(values["image_scale"]),
            {k: tuple(v) for k, v in values["mean"].items()},
            {k: tuple(v) for k, v in values["std"].items()},
        )


# ------------------------------------------------------------------------------ file helpers


def _save_model(model, path: Path) -> None:
    """model.save via a temporary name (Keras needs the .keras suffix)."""
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fingerprint(values: Mapping) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def _data_digest(*parts) -> str:
    """Digest of the input arrays (dicts or arrays, also ``io.ArrayRows``), read in blocks of
    events, so that changed data restarts training."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        for array in part.values() if isinstance(part, Mapping) else [part]:
            for start in range(0, len(array), FIT_BLOCK_EVENTS):
                digest.update(np.ascontiguousarray(array[start : start + FIT_BLOCK_EVENTS]).data)
    return digest.hexdigest()


def _batches(
    arrays: Mapping[str, np.ndarray],
    preprocessor: Preprocessor,
    batch_size: int,
    seed: int | None = None,
    epoch: int = 0,
):
    """A keras PyDataset of (x, y, weight) batches read from ``arrays`` (load_split arrays,
    images as ``io.ArrayRows``) and scaled batch by batch: memory holds a few batches of model
    inputs, never the split. With a seed the events are shuffled anew every epoch, with
    ``default_rng(seed + epoch)`` (a resumed run continues the same sequence)."""
    import keras

    names = [spec.name for spec in preprocessor.specs]
    y = np.asarray(arrays[LABEL], dtype=np.float32)
    w = np.asarray(arrays[WEIGHT], dtype=np.float32)

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False, max_queue_size=4)
            self.epoch = int(epoch)
            self._shuffle()

        def _shuffle(self) -> None:
            n = len(y)
            self.order = (
                np.arange(n)
                if seed is None
                else np.random.default_rng(int(seed) + self.epoch).permutation(n)
            )

        def __len__(self) -> int:
            return math.ceil(len(y) / batch_size)

        def __getitem__(self, index: int):
            rows = np.sort(self.order[index * batch_size : (index + 1) * batch_size])
            x = preprocessor.transform({name: arrays[name][rows] for name in names})
            return x, y[rows], w[rows]

        def on_epoch_end(self) -> None:
            if seed is not None:
                self.epoch += 1
                self._shuffle()

    return Batches()


# -------------------------------------------------------------------------------- callbacks
def _plateau_state(best=math.inf, best_epoch=0, wait=0, lr_wait=0, stopped=False) -> dict:
    return {
        "best": best,
        "best_epoch": best_epoch,
        "wait": wait,
        "lr_wait": lr_wait,
        "stopped": stopped,
    }


def _make_callback_class():
    import keras

    class TrainingControl(keras.callbacks.Callback):
        """Early stopping + LR reduction on val_loss, history, timing and checkpoints.

        One callback so that its whole state can be saved and restored between runs: the
        Keras EarlyStopping/ReduceLROnPlateau callbacks reset their state at train start.
        """

        def __init__(self, run: _Run):
            super().__init__()
            self.run = run

        def on_epoch_begin(self, epoch, logs=None):
            self.t_epoch = time.perf_counter()
            self.t_train = None

        def on_test_begin(self, logs=None):
            if self.t_train is None:
                self.t_train = time.perf_counter() - self.t_epoch

        def on_epoch_end(self, epoch, logs=None):
            self.run.end_epoch(self.model, epoch + 1, logs or {}, self.t_epoch, self.t_train)

    return TrainingControl


@dataclass
class _Run:
    """Mutable state of one training run (restored from, and saved to, the checkpoint)."""

    settings: TrainingSettings
    n_train: int
    epochs_total: int
    checkpoint_dir: Path | None
    fingerprint: str
    history: list[dict] = field(default_factory=list)
    plateau: dict = field(default_factory=_plateau_state)
    best_weights: list | None = None
    fit_seconds: float = 0.0
    train_seconds: float = 0.0
    samples_trained: int = 0
    resumed_from_epoch: int | None = None

    def end_epoch(self, model, epoch, logs, t_epoch, t_train) -> None:
        import keras

        elapsed = time.perf_counter() - t_epoch
        train_time = t_train if t_train is not None else elapsed
        self.fit_seconds += elapsed
        self.train_seconds += train_time
        self.samples_trained += self.n_train
        lr = float(keras.ops.convert_to_numpy(model.optimizer.learning_rate))
        row = {
            "epoch": epoch,
            "loss": float(logs.get("loss", math.nan)),
            "val_loss": float(logs.get("val_loss", math.nan)),
            "auc": float(logs.get("auc", math.nan)),
            "val_auc": float(logs.get("val_auc", math.nan)),
            "lr": lr,
        }
        self.history.append(row)
        p = self.plateau
        if math.isfinite(row["val_loss"]) and row["val_loss"] < p["best"]:
            p.update(best=row["val_loss"], best_epoch=epoch, wait=0, lr_wait=0)
            self.best_weights = [np.array(w) for w in model.get_weights()]
        else:
            p["wait"] += 1
            p["lr_wait"] += 1
            if p["lr_wait"] >= self.settings.lr_patience:
                model.optimizer.learning_rate = lr * self.settings.lr_factor
                p["lr_wait"] = 0
                log.info(
                    "epoch %d: learning rate %.3g -> %.3g", epoch, lr, lr * self.settings.lr_factor
                )
            if p["wait"] >= self.settings.patience:
                p["stopped"] = True
                model.stop_training = True
                log.info("epoch %d: early stop, best val_loss at epoch %d", epoch, p["best_epoch"])
        log.info(
            "epoch %d/%d: loss %.4f val_loss %.4f val_auc %.4f lr %.2g (%.1f s, %.0f samples/s)",
            epoch,
            self.epochs_total,
            row["loss"],
            row["val_loss"],
            row["val_auc"],
            lr,
            elapsed,
            self.n_train / train_time if train_time > 0 else math.nan,
        )
        if self.checkpoint_dir is not None:
            self.save_checkpoint(model, epoch)

    # ---- checkpoint files
    def state(self, epoch: int, model) -> dict:
        import keras

        return {
            "fingerprint": self.fingerprint,
            "epoch": epoch,
            "directory": f"epoch-{epoch:04d}",
            "lr": float(keras.ops.convert_to_numpy(model.optimizer.learning_rate)),
            "plateau": self.plateau,
            "history": self.history,
            "fit_seconds": self.fit_seconds,
            "train_seconds": self.train_seconds,
            "samples_trained": self.samples_trained,
        }

    def save_checkpoint(self, model, epoch: int) -> None:
        state = self.state(epoch, model)
        directory = self.checkpoint_dir / state["directory"]
        if directory.exists():
            shutil.rmtree(directory)
        directory.mkdir(parents=True)
        _save_model(model, directory / CKPT_MODEL)
        if self.best_weights is not None:
            np.savez(directory / CKPT_BEST, *self.best_weights)
        io.write_json(self.checkpoint_dir / STATE_FILE, _json_safe(state))
        for old in self.checkpoint_dir.glob("epoch-*"):
            if old.name != state["directory"]:
                shutil.rmtree(old, ignore_errors=True)
        log.info("checkpoint saved: epoch %d", epoch)


def _json_safe(values):
    """Replace inf/nan floats by None (strict JSON)."""
    if isinstance(values, dict):
        return {k: _json_safe(v) for k, v in values.items()}
    if isinstance(values, list):
        return [_json_safe(v) for v in values]
    if isinstance(values, float) and not math.isfinite(values):
        return None
    return values


def _restore(run: _Run) -> tuple[object | None, int]:
    """(model, completed epochs) from the checkpoint directory, or (None, 0) to start over."""
    import keras

    if run.checkpoint_dir is None:
        return None, 0
    state_path = run.checkpoint_dir / STATE_FILE
    if not state_path.exists():
        if run.checkpoint_dir.exists():
            shutil.rmtree(run.checkpoint_dir)  # leftovers of a run killed before epoch 1
        return None, 0
    state = json.loads(state_path.read_text())
    if state.get("fingerprint") != run.fingerprint:
        log.warning(
            "%s: checkpoint is from other settings or data; starting over", run.checkpoint_dir
        )
        shutil.rmtree(run.checkpoint_dir)
        return None, 0
    directory = run.checkpoint_dir / state["directory"]
    try:
        model = keras.models.load_model(directory / CKPT_MODEL)
    except (OSError, ValueError) as error:
        log.warning("%s: unreadable checkpoint (%s); starting over", directory, error)
        shutil.rmtree(run.checkpoint_dir)
        return None, 0
    model.optimizer.learning_rate = state["lr"]
    best = directory / CKPT_BEST
    if best.exists():
        with np.load(best, allow_pickle=False) as weights:
            run.best_weights = [weights[f"arr_{i}"] for i in range(len(weights.files))]
    plateau = state["plateau"]
    plateau["best"] = math.inf if plateau["best"] is None else plateau["best"]
    run.plateau = plateau
    run.history = [
        {k: (math.nan if v is None else v) for k, v in row.items()} for row in state["history"]
    ]
    run.fit_seconds = state["fit_seconds"]
    run.train_seconds = state["train_seconds"]
    run.samples_trained = state["samples_trained"]
    run.resumed_from_epoch = int(state["epoch"])
    log.info("resuming from checkpoint after epoch %d (%s)", state["epoch"], directory)
    return model, int(state["epoch"])


# ------------------------------------------------------------------------------ network fit
@dataclass
class TrainResult:
    """A trained network: model (best weights), its preprocessing, history and a record."""

    model: object
    preprocessor: Preprocessor
    history: pd.DataFrame
    info: dict


def _xyw(arrays: Mapping[str, np.ndarray], preprocessor: Preprocessor):
    x = preprocessor.transform(arrays)
    y = np.asarray(arrays[LABEL], dtype=np.float32)
    w = np.asarray(arrays[WEIGHT], dtype=np.float32)
    return x, y, w


def train_network(
    train: Mapping[str, np.ndarray],
    valid: Mapping[str, np.ndarray],
    feature_set: FeatureSet,
    settings: TrainingSettings,
    seed: int,
    checkpoint_dir: str | Path | None = None,
) -> TrainResult:
    """Fit the feature set's primary network on ``train``, early-stopping on ``valid``.

    train/valid: load_split dicts (input keys, ``efps`` if any, ``y`` (N,), ``weight`` (N,));
    images may be ``io.ArrayRows`` (load_split on_demand): the fit streams batches.
    Per-event weights are sample weights of the loss and the AUC metric. With a
    checkpoint_dir the run checkpoints every epoch and resumes from a previous run's last
    epoch. The returned model carries the best (lowest val_loss) weights.
    """

    names = input_names(feature_set.inputs, feature_set.efps)
    preprocessor = Preprocessor.fit(train, names)
    n_train, n_valid = len(train[LABEL]), len(valid[LABEL])
    fingerprint = _fingerprint(
        {
            "feature_set": feature_set.to_dict(),
            "training": {k: v for k, v in settings.to_dict().items() if k != "threads"},
            "seed": seed,
            "n_train": n_train,
            "n_valid": n_valid,
            "preprocess": preprocessor.to_dict(),
            "data": _data_digest(
                {k: train[k] for k in [*names, LABEL, WEIGHT]},
                {k: valid[k] for k in [*names, LABEL, WEIGHT]},
            ),
        }
    )
    run = _Run(
        settings,
        n_train,
        settings.epochs,
        Path(checkpoint_dir) if checkpoint_dir is not None else None,
        fingerprint,
    )
    model, initial_epoch = _restore(run)
    # A resumed run draws its shuffles from seed + epoch: deterministic, if not the same
    # sequence as an uninterrupted run.
    seed_everything(seed + initial_epoch)
    if model is None:
        model = build_model(feature_set.primary_model, preprocessor.specs, feature_set.network)
        compile_model(model, feature_set.network.learning_rate)
    if run.checkpoint_dir is not None:
        run.checkpoint_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    if initial_epoch < settings.epochs and not run.plateau["stopped"]:
        log.info(
            "training %s (%s, %d parameters) on %d events, validating on %d",
            feature_set.name,
            model.name,
            model.count_params(),
            n_train,
            n_valid,
        )
        # batches are read from the files and scaled one at a time (_batches)
        model.fit(
            _batches(train, preprocessor, settings.batch_size, seed=seed, epoch=initial_epoch),
            validation_data=_batches(valid, preprocessor, settings.batch_size),
            epochs=settings.epochs,
            initial_epoch=initial_epoch,
            verbose=1 if sys.stderr.isatty() else 0,
            callbacks=[_make_callback_class()(run)],
        )
    if run.best_weights is not None:
        model.set_weights(run.best_weights)
    history = pd.DataFrame(run.history, columns=HISTORY_COLUMNS)
    info = {
        "name": feature_set.name,
        "feature_set": feature_set.name,
        "model": feature_set.primary_model,
        "architecture": model.name,
        "n_parameters": int(model.count_params()),
        "n_train": n_train,
        "n_valid": n_valid,
        "seed": int(seed),
        "epochs_run": len(run.history),
        "best_epoch": int(run.plateau["best_epoch"]),
        "stopped_early": bool(run.plateau["stopped"]),
        "resumed_from_epoch": run.resumed_from_epoch,
        "training_time_s": run.fit_seconds,
        "train_samples_per_s": (
            run.samples_trained / run.train_seconds if run.train_seconds > 0 else None
        ),
        "wall_time_this_run_s": time.perf_counter() - start,
        "network": feature_set.network.to_dict(),
        "training": settings.to_dict(),
        "fingerprint": fingerprint,
    }
    return TrainResult(model, preprocessor, history, info)


def predict_scores(
    model, preprocessor: Preprocessor, arrays: Mapping[str, np.ndarray]
) -> np.ndarray:
    """(N,) float64 classifier scores in [0, 1] for load_split arrays.

    Scored in blocks of PREDICT_BLOCK_EVENTS events, each read from the (memory-mapped)
    arrays and scaled on its own, so memory holds one block of model inputs, not the split.
    """
    names = [spec.name for spec in preprocessor.specs]
    n = len(arrays[names[0]])
    scores = np.empty(n, dtype=np.float64)
    for start in range(0, n, PREDICT_BLOCK_EVENTS):
        block = {name: arrays[name][start : start + PREDICT_BLOCK_EVENTS] for name in names}
        x = preprocessor.transform(block)
        values = model.predict(x, batch_size=PREDICT_BATCH, verbose=0)
        scores[start : start + len(values)] = np.asarray(values, dtype=np.float64).reshape(-1)
    return scores


# --------------------------------------------------------------------------- files of a model
@dataclass(frozen=True)
class ModelFiles:
    """Where train_model writes: results/{dataset}/models/{feature_set}/..."""

    model: Path
    preprocess: Path
    history: Path
    info: Path


def save_result(result: TrainResult, files: ModelFiles) -> None:
    """Write model.keras, preprocess.json, history.csv and train_info.json (each atomically)."""
    files.model.parent.mkdir(parents=True, exist_ok=True)
    _save_model(result.model, files.model)
    io.write_json(files.preprocess, result.preprocessor.to_dict())
    io.write_text(files.history, result.history.to_csv(index=False))
    io.write_json(files.info, _json_safe(result.info))


def load_model(model_path: str | Path, preprocess_path: str | Path):
    """(keras model, Preprocessor) saved by save_result."""
    import keras

    model = keras.models.load_model(model_path)
    preprocessor = Preprocessor.from_dict(json.loads(Path(preprocess_path).read_text()))
    return model, preprocessor


def run_training(
    train: SplitInput,
    valid: SplitInput,
    feature_set: FeatureSet,
    settings: TrainingSettings,
    seed: int,
    files: ModelFiles,
    checkpoint_dir: str | Path,
    threads: int | None = None,
) -> dict:
    """The training entry: load train/valid, fit (resuming), write the files, drop checkpoints.

    Returns the train_info record (also written to ``files.info``).
    """
    device = configure_tensorflow(
        threads or settings.threads, settings.require_gpu, settings.mixed_precision
    )
    log.info("device: %s", device["device"])
    train_arrays, valid_arrays = (
        split.load(feature_set.inputs, feature_set.efps, on_demand=True) for split in (train, valid)
    )
    result = train_network(train_arrays, valid_arrays, feature_set, settings, seed, checkpoint_dir)
    result.info.update(device=device["device"], device_info=device)
    result.info["training"] = {**result.info["training"], "threads": device["threads"]}
    save_result(result, files)
    shutil.rmtree(checkpoint_dir, ignore_errors=True)
    return result.info


def score_table(arrays: Mapping[str, np.ndarray], score: np.ndarray) -> pd.DataFrame:
    """The scores file of one split: columns y (int8), score, weight (float64)."""
    return pd.DataFrame(
        {
            "y": np.asarray(arrays[LABEL], dtype=np.int8),
            "score": np.asarray(score, dtype=np.float64),
            "weight": np.asarray(arrays[WEIGHT], dtype=np.float64),
        }
    )


def score_network(
    model_path: str | Path,
    preprocess_path: str | Path,
    data: SplitInput,
    feature_set: FeatureSet,
    threads: int = 1,
) -> pd.DataFrame:
    """Scores of a saved network on one split: a table with columns y, score, weight."""
    configure_tensorflow(threads)
    arrays = data.load(feature_set.inputs, feature_set.efps, on_demand=True)
    model, preprocessor = load_model(model_path, preprocess_path)
    return score_table(arrays, predict_scores(model, preprocessor, arrays))


def score_bdt(trees_path: str | Path, data: SplitInput, feature_set: FeatureSet) -> pd.DataFrame:
    """Scores of a saved BDT (trees.npz, ``leptonid.bdt``) on one split: y, score, weight."""
    from leptonid.bdt import predict_trees

    arrays = data.load(feature_set.inputs, feature_set.efps)
    trees = io.read_npz(trees_path)
    x = flat_matrix(arrays, input_names(feature_set.inputs, feature_set.efps))
    return score_table(arrays, predict_trees(trees, x))


# ------------------------------------------------------------------------------------- BDT
def flat_matrix(arrays: Mapping[str, np.ndarray], names: Sequence[str]) -> np.ndarray:
    """(N, n_features) float64: the flat inputs ``names`` side by side, in order."""
    columns = [
        np.asarray(arrays[name], dtype=np.float64).reshape(len(arrays[name]), -1) for name in names
    ]
    return np.concatenate(columns, axis=1)


def train_bdt(
    train: Mapping[str, np.ndarray],
    valid: Mapping[str, np.ndarray],
    feature_set: FeatureSet,
    settings: BdtSettings,
    seed: int,
    threads: int = 1,
) -> tuple[dict[str, np.ndarray], pd.DataFrame, dict]:
    """Boosted decision tree baseline on the flat inputs, early-stopped on valid.

    Returns (the fitted trees as arrays, ``leptonid.bdt.export_trees``; history with
    iteration, loss, val_loss (weighted log-loss per boosting iteration); a train_info record).
    The test split is not seen here: a later job scores it from the saved trees.
    """
    from sklearn.ensemble import HistGradientBoostingClassifier
    from threadpoolctl import threadpool_limits

    from leptonid.bdt import export_trees

    if feature_set.image_inputs:
        raise ValueError(f"feature set {feature_set.name!r}: a bdt needs flat inputs only")
    names = input_names(feature_set.inputs, feature_set.efps)
    x_train, x_valid = (flat_matrix(a, names) for a in (train, valid))
    classifier = HistGradientBoostingClassifier(
        learning_rate=settings.learning_rate,
        max_iter=settings.max_iter,
        max_leaf_nodes=settings.max_leaf_nodes,
        early_stopping=True,
        n_iter_no_change=settings.n_iter_no_change,
        scoring="loss",
        random_state=int(seed),
    )
    start = time.perf_counter()
    with threadpool_limits(limits=int(threads)):
        classifier.fit(
            x_train,
            train[LABEL],
            sample_weight=train[WEIGHT],
            X_val=x_valid,
            y_val=valid[LABEL],
            sample_weight_val=valid[WEIGHT],
        )
    fit_seconds = time.perf_counter() - start
    n_iter = int(classifier.n_iter_)
    history = pd.DataFrame(
        {
            "iteration": np.arange(len(classifier.train_score_)),
            "loss": -classifier.train_score_,
            "val_loss": -classifier.validation_score_,
        }
    )
    info = {
        "name": feature_set.names[feature_set.models.index("bdt")],
        "feature_set": feature_set.name,
        "model": "bdt",
        "architecture": "HistGradientBoostingClassifier",
        "n_train": int(len(x_train)),
        "n_valid": int(len(x_valid)),
        "n_features": int(x_train.shape[1]),
        "seed": int(seed),
        "iterations": n_iter,
        "training_time_s": fit_seconds,
        "train_samples_per_s": len(x_train) * n_iter / fit_seconds if fit_seconds > 0 else None,
        "device": f"CPU ({int(threads)} threads)",
        "bdt": dict(vars(settings)),
    }
    log.info("bdt %s: %d iterations in %.1f s", info["name"], n_iter, fit_seconds)
    return export_trees(classifier), history, info


def run_bdt(
    train: SplitInput,
    valid: SplitInput,
    feature_set: FeatureSet,
    settings: BdtSettings,
    seed: int,
    trees_path: str | Path,
    history_path: str | Path,
    info_path: str | Path,
    threads: int = 1,
) -> dict:
    """The BDT entry: train on train (early stopping on valid), write the trees (npz),
    history and train_info. Returns train_info."""
    arrays = [split.load(feature_set.inputs, feature_set.efps) for split in (train, valid)]
    trees, history, info = train_bdt(*arrays, feature_set, settings, seed, threads)
    io.write_npz(trees_path, trees)
    io.write_text(Path(history_path), history.to_csv(index=False))
    io.write_json(info_path, _json_safe(info))
    return info


# ---------------------------------------------------------------------------------- tuning
def _score_eagerly(model, x: Mapping[str, np.ndarray], batch: int = 4096) -> np.ndarray:
    """(N,) scores from direct model calls in chunks: no predict-function tracing per trial."""
    n = len(next(iter(x.values())))
    chunks = [
        np.asarray(model({k: v[i : i + batch] for k, v in x.items()}, training=False))
        for i in range(0, n, batch)
    ]
    return np.concatenate(chunks).reshape(-1).astype(np.float64)


def tune_network(
    train: Mapping[str, np.ndarray],
    valid: Mapping[str, np.ndarray],
    feature_set: FeatureSet,
    settings: TrainingSettings,
    tuning: TuningSettings,
    seed: int,
) -> tuple[dict, pd.DataFrame]:
    """Optuna TPE search (seeded) over docs/reference.md's ranges; objective: weighted valid AUC.

    Each trial trains ``tuning.epochs`` epochs (no early stopping). Returns (best network
    settings, one row per trial with its parameters and valid AUC). Conv settings are only
    searched for feature sets with image inputs; dense layers range 1-3 (CNN) or 1-8 (DNN).
    """
    import keras
    import optuna

    optuna.logging.set_verbosity(optuna.logging.WARNING)
    names = input_names(feature_set.inputs, feature_set.efps)
    preprocessor = Preprocessor.fit(train, names)
    x_train, y_train, w_train = _xyw(train, preprocessor)
    x_valid, y_valid, w_valid = _xyw(valid, preprocessor)
    has_images = any(spec.is_image for spec in preprocessor.specs)
    space = tuning.space

    def suggest(trial) -> dict:
        values = {}
        if has_images:
            values["conv_blocks"] = trial.suggest_int("conv_blocks", *space.conv_blocks)
            values["filters"] = trial.suggest_int("filters", *space.filters, log=True)
        dense = space.dense_layers_cnn if has_images else space.dense_layers_dnn
        values["dense_layers"] = trial.suggest_int("dense_layers", *dense)
        values["units"] = trial.suggest_int("units", *space.units, log=True)
        values["learning_rate"] = trial.suggest_float(
            "learning_rate", *space.learning_rate, log=True
        )
        values["dropout"] = trial.suggest_float("dropout", *space.dropout)
        return values

    def objective(trial) -> float:
        values = suggest(trial)
        network = NetworkSettings.from_config(feature_set.network.to_dict(), values)
        keras.backend.clear_session()
        seed_everything(seed + trial.number)
        model = compile_model(
            build_model(feature_set.primary_model, preprocessor.specs, network),
            network.learning_rate,
        )
        model.fit(
            x_train,
            y_train,
            sample_weight=w_train,
            batch_size=settings.batch_size,
            epochs=tuning.epochs,
            shuffle=True,
            verbose=0,
        )
        score = _score_eagerly(model, x_valid)
        if not np.isfinite(score).all() or np.ptp(score) == 0:
            value = 0.5
        else:
            value = metrics.auc(y_valid, score, w_valid)
        log.info(
            "trial %d/%d: valid AUC %.4f with %s", trial.number + 1, tuning.n_trials, value, values
        )
        return value

    study = optuna.create_study(
        direction="maximize", sampler=optuna.samplers.TPESampler(seed=int(seed))
    )
    study.optimize(objective, n_trials=tuning.n_trials)
    trials = study.trials_dataframe(attrs=("number", "value", "params"))
    best = {**study.best_params, "valid_auc": float(study.best_value)}
    return best, trials


def run_tuning(
    train: SplitInput,
    valid: SplitInput,
    feature_set: FeatureSet,
    settings: TrainingSettings,
    tuning: TuningSettings,
    seed: int,
    tuned_path: str | Path,
    trials_path: str | Path,
    threads: int = 1,
) -> dict:
    """The tuning entry: search on train/valid and write the best network settings as a YAML
    config fragment (``network: {...}``, read by train_model) plus the trial table."""
    import yaml

    configure_tensorflow(threads, settings.require_gpu, settings.mixed_precision)
    train_arrays, valid_arrays = (
        split.load(feature_set.inputs, feature_set.efps) for split in (train, valid)
    )
    best, trials = tune_network(train_arrays, valid_arrays, feature_set, settings, tuning, seed)
    network = {key: value for key, value in best.items() if key != "valid_auc"}
    header = (
        f"# optuna TPE search (seed {seed}) for feature set {feature_set.name}: "
        f"{tuning.n_trials} trials of {tuning.epochs} epoch(s), ranges of docs/reference.md "
        f'"Networks"; best valid AUC {best["valid_auc"]:.4f}.\n'
        "# train_model merges this over the feature set's network when tuning is enabled.\n"
    )
    io.write_text(Path(tuned_path), header + yaml.safe_dump({"network": network}))
    io.write_text(Path(trials_path), trials.to_csv(index=False))
    return best


# ------------------------------------------------------------------------------------- CLI
def main(argv: Sequence[str] | None = None) -> int:
    """Train one feature set outside Snakemake (the same entry the train_model rule calls).

    python -m leptonid.training --config config/config.yaml --dataset electrons
        --feature-set hl --feather-dir results/electrons/feather --out-dir DIR
        --checkpoint-dir DIR
    """
    import yaml

    parser = argparse.ArgumentParser(description=main.__doc__.splitlines()[0])
    parser.add_argument("--config", required=True, type=Path)
    parser.add_argument("--dataset", required=True)
    parser.add_argument("--feature-set", required=True)
    parser.add_argument("--feather-dir", required=True, type=Path)
    parser.add_argument("--efp-dir", type=Path)
    parser.add_argument("--out-dir", required=True, type=Path)
    parser.add_argument("--checkpoint-dir", required=True, type=Path)
    parser.add_argument("--threads", type=int)
    args = parser.parse_args(argv)
    logging.basicConfig(
        stream=sys.stdout, level=logging.INFO, format="%(asctime)s %(name)s %(message)s"
    )
    config = yaml.safe_load(args.config.read_text())
    dataset = config["datasets"][args.dataset]
    feature_set = FeatureSet.from_config(
        args.feature_set, dataset["feature_sets"][args.feature_set], dataset.get("network_defaults")
    )
    files = ModelFiles(
        args.out_dir / "model.keras",
        args.out_dir / "preprocess.json",
        args.out_dir / "history.csv",
        args.out_dir / "train_info.json",
    )
    keys = feature_set.inputs
    efp_tables = {
        split: str(args.efp_dir / split / "index.json") if args.efp_dir else None
        for split in ("train", "valid")
    }
    run_training(
        SplitInput(
            tuple(map(str, split_files(args.feather_dir, "train", keys))), efp_tables["train"]
        ),
        SplitInput(
            tuple(map(str, split_files(args.feather_dir, "valid", keys))), efp_tables["valid"]
        ),
        feature_set,
        TrainingSettings.from_config(config["training"]),
        int(config["seed"]) + SEED_OFFSETS["training"],
        files,
        args.checkpoint_dir,
        threads=args.threads,
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
