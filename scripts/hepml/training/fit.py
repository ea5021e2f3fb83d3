"""The network fit loop: TensorFlow set-up, a fit that checkpoints every epoch and resumes, scores.

Splits (docs/reference.md 3, "Known mistakes"): preprocessing is fitted on the train split only,
valid drives early stopping and the LR schedule, test is never seen here.

Checkpoints: after every epoch ``{checkpoint_dir}/epoch-NNNN/`` receives the model with its
optimizer state (``model.keras``: weights, Adam's iteration counter, moments and learning
rate), the best weights so far (``best_weights.npz``) and every random state that decides the
next epoch (``rng.npz``, :func:`rng_state`: the model's seed generators, e.g. dropout's, which
``model.save`` does not write, and the TensorFlow, NumPy and Python global generators), then
``state.json`` (epoch, history, learning rate, early-stopping state, timings, a fingerprint of
the settings, the data, the training code and the TensorFlow/Keras versions) is replaced
atomically to point at it. The events of epoch e are read in the order of a permutation drawn
from (seed, e) alone and Keras does not reorder the batches, so the data stream needs no
state. A rerun with the same fingerprint resumes after the last completed epoch and ends
bit-identical to an uninterrupted run on the same machine with the same thread count
(docs/cluster.md "Preemption, time limits, resume"); a different fingerprint starts over.
The directory is kept once the outputs are written: Snakemake may still mark them incomplete
(Ctrl-C to the workflow), and the rerun writes the same model, history and scores from the
finished checkpoint without training; the next run with another fingerprint replaces it.
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
import os
import shutil
import sys
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

from hepml import io
from hepml.io.dataset import LABEL, WEIGHT, input_names
from hepml.models.networks import build_model, compile_model
from hepml.settings import FeatureSet, TrainingSettings
from hepml.training.outputs import json_safe, score_table  # noqa: F401 (re-exported)
from hepml.training.preprocess import FIT_BLOCK_EVENTS, Preprocessor

log = logging.getLogger(__name__)

HISTORY_COLUMNS = ["epoch", "loss", "val_loss", "auc", "val_auc", "lr"]
PREDICT_BLOCK_EVENTS = 8192  # events scaled and scored at a time by predict_scores
PREDICT_BATCH = 512  # activations of a paper-size CNN: ~90 MB per conv layer output
STATE_FILE = "state.json"
CKPT_MODEL = "model.keras"
CKPT_BEST = "best_weights.npz"
CKPT_RNG = "rng.npz"


# --------------------------------------------------------------------------- TensorFlow set-up
def configure_tensorflow(
    threads: int, require_gpu: bool = False, mixed_precision: bool = False
) -> dict:
    """Threads, GPU memory growth and precision, before any TensorFlow op runs.

    Returns the device record stored in train_info.json. Raises RuntimeError naming
    CUDA_VISIBLE_DEVICES and TensorFlow's device list when require_gpu and no GPU is visible.
    """
    import gc

    import keras
    import tensorflow as tf

    # Importing TensorFlow and Keras made about a million objects that live as long as the
    # process. Freeze them out of the cycle collector, which would otherwise walk them all at
    # every full collection and again while the interpreter exits: on these 2-core machines
    # that walk was a fifth of a short network job's CPU time (the garbage of the import is
    # collected first, so nothing collectable is kept).
    gc.collect()
    gc.freeze()
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
    """Seed Python, NumPy, Keras and TensorFlow (its global generator too) and make TensorFlow
    ops deterministic."""
    import keras
    import tensorflow as tf

    keras.utils.set_random_seed(int(seed))
    tf.config.experimental.enable_op_determinism()
    # With op determinism TensorFlow refuses to create its global generator from the clock.
    tf.random.set_global_generator(tf.random.Generator.from_seed(int(seed)))


def _seed_states(model) -> list:
    """The model's random-seed variables (Keras SeedGenerator states, e.g. of Dropout):
    ``model.variables`` less ``model.weights``, in layer order; ``model.save`` omits them."""
    weights = {id(weight) for weight in model.weights}
    return [variable for variable in model.variables if id(variable) not in weights]


def rng_state(model) -> dict[str, np.ndarray]:
    """Every random state that can decide the next epoch, as arrays (``rng.npz``): the model's
    seed generators, Keras' global seed generator (if created), TensorFlow's global generator,
    NumPy's and Python's global generators."""
    import random

    import tensorflow as tf
    from keras.src.backend.common import global_state  # Keras has no public getter

    _, python_mt, python_gauss = random.getstate()
    _, numpy_keys, numpy_pos, numpy_has_gauss, numpy_gauss = np.random.get_state()  # noqa: NPY002
    seeds = [np.asarray(variable.numpy()) for variable in _seed_states(model)]
    keras_global = global_state.get_global_attribute("global_seed_generator")
    return {
        "model_seeds": np.stack(seeds) if seeds else np.zeros((0, 2), dtype=np.int64),
        "keras_global": np.asarray(
            [] if keras_global is None else keras_global.state.numpy(), dtype=np.int64
        ),
        "tensorflow": tf.random.get_global_generator().state.numpy(),
        "numpy_keys": numpy_keys,
        "numpy_pos": np.asarray([numpy_pos, numpy_has_gauss], dtype=np.int64),
        "numpy_gauss": np.asarray([numpy_gauss], dtype=np.float64),
        "python_mt": np.asarray(python_mt, dtype=np.int64),
        "python_gauss": np.asarray([] if python_gauss is None else [python_gauss]),
    }


def set_rng_state(model, state: Mapping[str, np.ndarray]) -> None:
    """Restore what :func:`rng_state` saved. Python's generator comes last: creating Keras'
    global seed generator draws from it. Raises ValueError when the model has another number
    of seed generators than the saved state."""
    import random

    import tensorflow as tf
    from keras.src.backend.common import global_state
    from keras.src.random.seed_generator import global_seed_generator

    variables = _seed_states(model)
    if len(variables) != len(state["model_seeds"]):
        raise ValueError(
            f"model has {len(variables)} seed generators, the saved state "
            f"{len(state['model_seeds'])}"
        )
    for variable, value in zip(variables, state["model_seeds"], strict=True):
        variable.assign(value)
    if len(state["keras_global"]):
        global_seed_generator().state.assign(state["keras_global"])
    else:
        global_state.set_global_attribute("global_seed_generator", None)
    tf.random.get_global_generator().reset(state["tensorflow"])
    pos, has_gauss = (int(v) for v in state["numpy_pos"])
    np.random.set_state(  # noqa: NPY002 (the legacy global generator is what is restored)
        ("MT19937", state["numpy_keys"], pos, has_gauss, float(state["numpy_gauss"][0]))
    )
    gauss = state["python_gauss"]
    python_mt = tuple(int(v) for v in state["python_mt"])
    random.setstate((random.getstate()[0], python_mt, float(gauss[0]) if len(gauss) else None))


# ------------------------------------------------------------------------------ file helpers


def save_model(model, path: Path) -> None:
    """model.save via a temporary name (Keras needs the .keras suffix)."""
    tmp = path.with_name(f".{path.stem}.tmp.keras")
    try:
        model.save(tmp)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def _fingerprint(values: Mapping) -> str:
    return hashlib.sha256(json.dumps(values, sort_keys=True).encode()).hexdigest()[:16]


def _code_digest() -> str:
    """Digest of the training and model code (every module of ``hepml.training`` and
    ``hepml.models``) and the TensorFlow and Keras versions: a checkpoint written by other
    code starts over instead of being resumed, or reused, as if it were this code's."""
    import keras
    import tensorflow as tf

    from hepml import models, training

    digest = hashlib.blake2b(digest_size=16)
    digest.update(f"tensorflow {tf.__version__} keras {keras.__version__}".encode())
    for package in (training, models):
        for path in sorted(Path(package.__file__).parent.glob("*.py")):
            digest.update(f"{package.__name__}.{path.stem}".encode())
            digest.update(path.read_bytes())
    return digest.hexdigest()


def _data_digest(*parts) -> str:
    """Digest of the input arrays (dicts or arrays, also ``io.ArrayRows``), read in blocks of
    events, so that changed data restarts training."""
    digest = hashlib.blake2b(digest_size=16)
    for part in parts:
        for array in part.values() if isinstance(part, Mapping) else [part]:
            for start in range(0, len(array), FIT_BLOCK_EVENTS):
                digest.update(np.ascontiguousarray(array[start : start + FIT_BLOCK_EVENTS]).data)
    return digest.hexdigest()


def epoch_order(n: int, seed: int, epoch: int, block_rows: int | None = None) -> np.ndarray:
    """The order in which epoch ``epoch`` reads the n events, from ``default_rng([seed, epoch])``.

    Without block_rows, or when the n events fit in one block: ``permutation(n)``. Otherwise
    block-shuffled (inputs read a block of rows at a time, ``io.TableRows``): the blocks of
    block_rows consecutive events are taken in a permuted order, and the events of each block
    in a permuted order, so a batch falls in at most two blocks and each block is read once
    per epoch (docs/tabular.md "Memory at the paper's size"). Both are functions of (seed,
    epoch) only, as a resumed run needs.
    """
    rng = np.random.default_rng([int(seed), int(epoch)])
    if not block_rows or n <= block_rows:
        return rng.permutation(n)
    starts = np.arange(0, n, block_rows, dtype=np.int64)
    return np.concatenate(
        [start + rng.permutation(min(block_rows, n - start)) for start in rng.permutation(starts)]
    )


def shuffle_block_rows(arrays: Mapping[str, np.ndarray], names) -> int | None:
    """The smallest ``block_rows`` of the inputs read in blocks (``io.TableRows``), or None."""
    blocks = [getattr(arrays[name], "block_rows", None) for name in names]
    blocks = [int(b) for b in blocks if b]
    return min(blocks) if blocks else None


def training_batches(
    arrays: Mapping[str, np.ndarray],
    preprocessor: Preprocessor,
    batch_size: int,
    seed: int | None = None,
):
    """A keras PyDataset of (x, y, weight) batches read from ``arrays`` (load_split arrays,
    images as ``io.ArrayRows``) and scaled batch by batch: memory holds a few batches of model
    inputs, never the split. With a seed the events of epoch e are read in the order of
    ``epoch_order`` (``default_rng([seed, e]).permutation``, block-shuffled when an input is
    read in blocks of rows; ``set_epoch(e)``, called by the fit loop before the epoch starts):
    a function of (seed, epoch) only, so a resumed run reads what an uninterrupted one would.
    Without a seed the order is the stored one."""
    import keras

    names = [spec.name for spec in preprocessor.specs]
    block_rows = shuffle_block_rows(arrays, names)
    y = np.asarray(arrays[LABEL], dtype=np.float32)
    w = np.asarray(arrays[WEIGHT], dtype=np.float32)

    class Batches(keras.utils.PyDataset):
        def __init__(self):
            super().__init__(workers=1, use_multiprocessing=False, max_queue_size=4)
            self.set_epoch(0)

        def set_epoch(self, epoch: int) -> None:
            n = len(y)
            self.epoch = int(epoch)
            self.order = (
                np.arange(n) if seed is None else epoch_order(n, seed, self.epoch, block_rows)
            )

        def __len__(self) -> int:
            return math.ceil(len(y) / batch_size)

        def __getitem__(self, index: int):
            rows = np.sort(self.order[index * batch_size : (index + 1) * batch_size])
            x = preprocessor.transform({name: arrays[name][rows] for name in names})
            return x, y[rows], w[rows]

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
        Keras EarlyStopping/ReduceLROnPlateau callbacks reset their state at train start. It
        also tells the training batches which epoch begins (their shuffle, ``training_batches``).
        """

        def __init__(self, run: _Run, batches):
            super().__init__()
            self.run = run
            self.batches = batches

        def on_epoch_begin(self, epoch, logs=None):
            # Keras calls this before it asks the PyDataset for the epoch's first batch.
            self.batches.set_epoch(epoch)
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
        save_model(model, directory / CKPT_MODEL)
        if self.best_weights is not None:
            np.savez(directory / CKPT_BEST, *self.best_weights)
        io.write_npz(directory / CKPT_RNG, rng_state(model))
        io.write_json(self.checkpoint_dir / STATE_FILE, json_safe(state))
        for old in self.checkpoint_dir.glob("epoch-*"):
            if old.name != state["directory"]:
                shutil.rmtree(old, ignore_errors=True)
        log.info("checkpoint saved: epoch %d", epoch)


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
        set_rng_state(model, io.read_npz(directory / CKPT_RNG))
    except (OSError, ValueError) as error:  # io.DataError is a ValueError
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


def xyw(arrays: Mapping[str, np.ndarray], preprocessor: Preprocessor):
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
    model_kind: str | None = None,
) -> TrainResult:
    """Fit the feature set's primary network (or its network ``model_kind``, e.g. the
    ``shallow`` that follows a ``dnn``) on ``train``, early-stopping on ``valid``.

    train/valid: load_split dicts (input keys, ``efps`` if any, ``y`` (N,), ``weight`` (N,));
    images may be ``io.ArrayRows`` (load_split on_demand): the fit streams batches.
    Per-event weights are sample weights of the loss and the AUC metric. With a
    checkpoint_dir the run checkpoints every epoch and resumes from a previous run's last
    epoch, bit-identical to an uninterrupted run (module docstring). The returned model
    carries the best (lowest val_loss) weights.
    """

    kind = model_kind or feature_set.primary_model
    if kind not in feature_set.models:
        raise ValueError(f"feature set {feature_set.name!r} has no model {kind!r}")
    names = input_names(feature_set.inputs, feature_set.efps)
    preprocessor = Preprocessor.fit(train, names)
    n_train, n_valid = len(train[LABEL]), len(valid[LABEL])
    steps_per_epoch = math.ceil(n_train / settings.batch_size)
    fingerprint = _fingerprint(
        {
            "code": _code_digest(),
            "feature_set": feature_set.to_dict(),
            **({"model": kind} if kind != feature_set.primary_model else {}),
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
    # Seeded before a restore too: loading draws seeds that the checkpoint's states replace.
    seed_everything(seed)
    model, initial_epoch = _restore(run)
    if model is None:
        seed_everything(seed)  # whatever a failed restore drew
        model = build_model(kind, preprocessor.specs, feature_set.network)
        compile_model(
            model, feature_set.network.learning_rate, feature_set.network, steps_per_epoch
        )
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
        # batches are read from the files and scaled one at a time, in an order drawn from
        # (seed, epoch) (training_batches); shuffle=False: Keras would reorder them with Python's
        # global generator
        batches = training_batches(train, preprocessor, settings.batch_size, seed=seed)
        model.fit(
            batches,
            validation_data=training_batches(valid, preprocessor, settings.batch_size),
            epochs=settings.epochs,
            initial_epoch=initial_epoch,
            shuffle=False,
            verbose=1 if sys.stderr.isatty() else 0,
            callbacks=[_make_callback_class()(run, batches)],
        )
    if run.best_weights is not None:
        model.set_weights(run.best_weights)
    history = pd.DataFrame(run.history, columns=HISTORY_COLUMNS)
    info = {
        "name": feature_set.names[feature_set.models.index(kind)],
        "feature_set": feature_set.name,
        "model": kind,
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
