"""Training: preprocessing on train only, LR/early-stopping state, seeding, weights, BDT, GPU."""

import dataclasses
import json
import math

import numpy as np
import pytest
from hepml import metrics
from hepml.settings import (
    BdtSettings,
    FeatureSet,
    NetworkSettings,
    TrainingSettings,
    TuningSettings,
)
from hepml.training import bdt
from hepml.training.fit import (
    HISTORY_COLUMNS,
    STATE_FILE,
    _Run,
    configure_tensorflow,
    predict_scores,
    train_network,
)
from hepml.training.preprocess import Preprocessor
from hepml.training.tuning import tune_network

NETWORK = NetworkSettings(
    conv_blocks=1, filters=2, dense_layers=1, units=8, learning_rate=3e-3, dropout=0.0
)
SETTINGS = TrainingSettings(batch_size=64, epochs=3, patience=5, lr_factor=0.3, lr_patience=2)


def flat_split(n: int, seed: int, decoys: bool = False) -> dict[str, np.ndarray]:
    """hl-like (N, 7) and mass-like (N, 1) inputs whose first hl column separates the classes.

    decoys: append a copy of every event with the opposite label and weight 0, so that only
    a fit that uses the weights can learn anything.
    """
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int8)
    hl = rng.normal(size=(n, 7)) * [1, 5, 0.01, 1, 1, 1, 1] + [10, 0, 0, 0, 0, 0, 0]
    hl[:, 0] += 1.5 * y
    arrays = {"hl": hl, "mass": rng.exponential(size=(n, 1)), "y": y, "weight": np.ones(n)}
    if decoys:
        arrays = {key: np.concatenate([value, value]) for key, value in arrays.items()}
        arrays["y"][n:] = 1 - arrays["y"][n:]
        arrays["weight"][n:] = 0.0
    return arrays


def image_split(n: int, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.int8)
    et = rng.exponential(size=(n, 31, 31, 1)) * 0.1
    et[:, 15, 15, 0] += 20 + 20 * y  # signal: a hotter central cell
    return {"et": et, "y": y, "weight": np.ones(n)}


HL = FeatureSet("hl", ("hl",), NETWORK, models=("nn", "bdt"))


def test_preprocessor_is_fitted_on_train_only_and_round_trips():
    train = {**flat_split(500, 1), **image_split(500, 1)}
    valid = {**flat_split(300, 2), **image_split(300, 2)}
    valid["hl"] = valid["hl"] + 100.0  # a shifted valid split must not move the constants
    pre = Preprocessor.fit(train, ["et", "hl", "mass"])
    np.testing.assert_allclose(pre.mean["hl"], train["hl"].mean(axis=0))
    np.testing.assert_allclose(pre.std["hl"], train["hl"].std(axis=0))
    assert pre.image_scale["et"] == pytest.approx(train["et"].sum(axis=(1, 2, 3)).mean())
    x = pre.transform(valid)
    assert x["et"].dtype == np.float32 and x["et"].shape == (300, 31, 31, 1)
    np.testing.assert_allclose(x["hl"].mean(axis=0)[0], 100 / pre.std["hl"][0], rtol=0.1)
    again = Preprocessor.from_dict(json.loads(json.dumps(pre.to_dict())))
    for key in x:
        np.testing.assert_array_equal(again.transform(valid)[key], x[key])


def test_preprocessor_rejects_non_finite_and_empty_images():
    train = flat_split(50, 1)
    train["hl"][3, 2] = np.nan
    with pytest.raises(ValueError, match="'hl'.*NaN"):
        Preprocessor.fit(train, ["hl"])
    with pytest.raises(ValueError, match="'et'.*mean image sum"):
        Preprocessor.fit({"et": np.zeros((4, 31, 31, 1))}, ["et"])


class _FakeOptimizer:
    learning_rate = 1.0


class _FakeModel:
    def __init__(self):
        self.optimizer = _FakeOptimizer()
        self.stop_training = False
        self.weights = [np.zeros(2)]

    def get_weights(self):
        return [w.copy() for w in self.weights]


def test_plateau_state_reduces_lr_and_stops_like_keras():
    settings = TrainingSettings(batch_size=1, epochs=20, patience=4, lr_factor=0.3, lr_patience=2)
    run = _Run(settings, 10, 20, None, "x")
    model = _FakeModel()
    losses = [1.0, 0.9, 0.95, 0.95, 0.8, 0.85, 0.85, 0.85, 0.85]
    for epoch, loss in enumerate(losses, start=1):
        model.weights = [np.full(2, epoch)]
        run.end_epoch(model, epoch, {"loss": loss, "val_loss": loss}, 0.0, None)
        if model.stop_training:
            break
    assert run.plateau["best_epoch"] == 5 and run.best_weights[0][0] == 5
    assert epoch == 9 and run.plateau["stopped"]  # 4 epochs without improvement after 5
    lrs = [row["lr"] for row in run.history]
    assert lrs == pytest.approx([1, 1, 1, 1, 0.3, 0.3, 0.3, 0.09, 0.09])


@pytest.mark.slow
def test_seeded_training_weights_and_checkpoint_reuse(tmp_path, caplog, monkeypatch):
    from hepml.training import fit as fit_module

    train, valid = flat_split(1000, 1, decoys=True), flat_split(400, 2)

    def fit(arrays, checkpoint, feature_set=HL):
        result = train_network(
            arrays, valid, feature_set, SETTINGS, seed=5, checkpoint_dir=checkpoint
        )
        score = predict_scores(result.model, result.preprocessor, valid)
        return result, score, metrics.auc(valid["y"], score, valid["weight"])

    first, score, auc = fit(train, tmp_path / "a")
    assert list(first.history.columns) == HISTORY_COLUMNS
    assert len(first.history) == SETTINGS.epochs and first.info["resumed_from_epoch"] is None
    # Every event has a weight-0 twin with the opposite label: only the weights make the
    # classes separable (the best possible AUC here is about 0.86).
    assert auc > 0.75
    # Same seed, fresh checkpoint directory, another name and no secondary model (what a
    # guided scan's pass 0 is, guided.names.pass_zero_is_start): the same scores, bit for bit.
    renamed = dataclasses.replace(HL, name="guided_hl_pass0", models=("nn",))
    np.testing.assert_array_equal(fit(train, tmp_path / "b", renamed)[1], score)
    # Same settings and data on a finished checkpoint: nothing is retrained.
    state = json.loads((tmp_path / "a" / STATE_FILE).read_text())
    assert state["epoch"] == SETTINGS.epochs
    again, again_score, _ = fit(train, tmp_path / "a")
    assert again.info["resumed_from_epoch"] == SETTINGS.epochs
    np.testing.assert_array_equal(again_score, score)
    # Other training code (or TensorFlow/Keras versions) on that checkpoint: it starts over.
    with monkeypatch.context() as patch:
        patch.setattr(fit_module, "_code_digest", lambda: "other code")
        recoded = fit(train, tmp_path / "a")[0]
    assert recoded.info["resumed_from_epoch"] is None and "starting over" in caplog.text
    caplog.clear()
    # Other data (unit weights) on that checkpoint: it starts over, and without the weights
    # nothing can be learnt.
    unweighted = {**train, "weight": np.ones_like(train["weight"])}
    other, _, other_auc = fit(unweighted, tmp_path / "a")
    assert other.info["resumed_from_epoch"] is None and "starting over" in caplog.text
    assert abs(other_auc - 0.5) < 0.1


def test_rng_state_restores_every_generator_that_draws_in_training():
    """rng_state / set_rng_state (the checkpoint's rng.npz): after a restore, dropout (a seed
    generator model.save does not write), TensorFlow's, NumPy's and Python's global
    generators draw again what they drew after the save; a model with another number of
    seed generators is refused."""
    import random

    import keras
    import tensorflow as tf
    from hepml.training.fit import rng_state, seed_everything, set_rng_state

    def model(dropouts: int):
        inputs = keras.Input((64,))
        x = inputs
        for _ in range(dropouts):
            x = keras.layers.Dropout(0.5)(x)
        return keras.Model(inputs, x)

    def draws(net) -> list:
        ones = np.ones((4, 64), dtype=np.float32)
        return [
            np.asarray(net(ones, training=True)),
            tf.random.get_global_generator().normal((3,)).numpy(),
            np.random.random(3),  # noqa: NPY002 (the legacy global generator is the subject)
            [random.random() for _ in range(3)],
        ]

    seed_everything(11)
    net = model(2)
    saved = rng_state(net)
    first = draws(net)
    set_rng_state(net, saved)
    again = draws(net)
    for a, b in zip(first, again, strict=True):
        np.testing.assert_array_equal(a, b)
    assert not np.array_equal(draws(net)[0], first[0])  # without a restore: other draws
    with pytest.raises(ValueError, match="1 seed generators, the saved state 2"):
        set_rng_state(model(1), saved)


def test_bdt_trains_on_flat_inputs_and_refuses_images(tmp_path):
    from hepml import io

    train, valid, test = flat_split(2000, 1), flat_split(500, 2), flat_split(1000, 3)
    hl_mass = FeatureSet("hl_and_mass", ("hl", "mass"), NETWORK, models=("nn", "bdt"))
    text, history, info = bdt.train_bdt(train, valid, hl_mass, BdtSettings(max_iter=30), seed=1)
    x_test = bdt.flat_matrix(test, ["hl", "mass"])
    score = bdt.predict_text(text, x_test)
    assert metrics.auc(test["y"], score) > 0.8
    assert list(history.columns) == ["iteration", "loss", "val_loss"]
    assert info["name"] == "hl_and_mass-bdt" and info["n_features"] == 8
    assert info["train_samples_per_s"] > 0
    # LightGBM's own text format, no pickle: written, read back, scores bit-identical
    assert text.startswith("tree\n")
    io.write_text(tmp_path / "model.txt", text)
    np.testing.assert_array_equal(
        bdt.predict_text(io.read_text(tmp_path / "model.txt"), x_test), score
    )
    # seeded and deterministic: a second fit writes the same model
    again, _, _ = bdt.train_bdt(train, valid, hl_mass, BdtSettings(max_iter=30), seed=1)
    assert again == text
    with pytest.raises(ValueError, match="bdt needs flat inputs"):
        bdt.train_bdt(train, valid, FeatureSet("et", ("et",), NETWORK), BdtSettings(), 1)
    with pytest.raises(
        ValueError, match="m.txt: the model was trained on 8 features, the inputs have 7"
    ):
        bdt.predict_text(text, x_test[:, :7], source="m.txt")
    with pytest.raises(ValueError, match="m.txt: not a LightGBM text model"):
        bdt.predict_text("tree\nnot a model\n", x_test, source="m.txt")


def test_bdt_early_stops_on_valid_and_keeps_the_best_iteration():
    """Labels of the training events are noise: valid's log-loss rises from the first trees,
    so early stopping ends the fit n_iter_no_change iterations after its best one, and the
    saved model holds the trees up to the best iteration only."""
    train, valid = flat_split(2000, 1), flat_split(1000, 2)
    train["y"] = np.random.default_rng(5).integers(0, 2, len(train["y"])).astype(np.int8)
    hl = FeatureSet("hl", ("hl",), NETWORK, models=("nn", "bdt"))
    settings = BdtSettings(max_iter=200, n_iter_no_change=5, learning_rate=0.3)
    text, history, info = bdt.train_bdt(train, valid, hl, settings, seed=1)
    assert info["iterations_run"] == info["iterations"] + 5 < 200
    best = int(history["val_loss"].idxmin()) + 1
    assert info["iterations"] == best
    assert text.count("Tree=") == best


def test_bdt_uses_the_event_weights():
    """Every event is copied with the opposite label and weight 0: only a fit that reads the
    weights separates the classes (negative control: the same data without the weights)."""
    train, valid = flat_split(2000, 1, decoys=True), flat_split(500, 2, decoys=True)
    test = flat_split(1000, 3)
    hl = FeatureSet("hl", ("hl",), NETWORK, models=("nn", "bdt"))
    settings = BdtSettings(max_iter=30)
    text, _, _ = bdt.train_bdt(train, valid, hl, settings, seed=1)
    x_test = bdt.flat_matrix(test, ["hl"])
    assert metrics.auc(test["y"], bdt.predict_text(text, x_test)) > 0.8
    unweighted = [{**a, "weight": np.ones_like(a["weight"])} for a in (train, valid)]
    blind, _, _ = bdt.train_bdt(*unweighted, hl, settings, seed=1)
    assert abs(metrics.auc(test["y"], bdt.predict_text(blind, x_test)) - 0.5) < 0.1


def test_bdt_settings_map_to_lightgbm_and_gbdt_has_its_own_defaults():
    from hepml.settings import GBDT_DEFAULTS, SettingsError, tree_settings

    params = bdt.lightgbm_params(
        BdtSettings(max_leaf_nodes=8, max_depth=3, min_samples_leaf=50, max_bins=20), 7, 2
    )
    assert params["num_leaves"] == 8 and params["max_depth"] == 3
    assert params["min_data_in_leaf"] == 50 and params["max_bin"] == 20
    assert params["deterministic"] and params["force_row_wise"] and params["num_threads"] == 2
    assert params["seed"] == 7
    assert bdt.lightgbm_params(BdtSettings(), 1, 1)["max_depth"] == -1
    training = TrainingSettings.from_config(
        {**dataclasses.asdict(SETTINGS), "bdt": {"max_iter": 5}, "gbdt": {"learning_rate": 0.05}}
    )
    assert training.bdt == BdtSettings(max_iter=5)
    assert training.gbdt == BdtSettings(**{**GBDT_DEFAULTS, "learning_rate": 0.05})
    assert tree_settings("gbdt", None) == BdtSettings(**GBDT_DEFAULTS)
    with pytest.raises(SettingsError, match=r"training.gbdt: unknown key\(s\) \['depth'\]"):
        tree_settings("gbdt", {"depth": 3})


def test_require_gpu_fails_loudly_without_a_gpu(monkeypatch):
    import tensorflow as tf

    if tf.config.list_physical_devices("GPU"):
        pytest.skip("a GPU is visible")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "7")
    with pytest.raises(RuntimeError, match="require_gpu.*CUDA_VISIBLE_DEVICES='7'.*devices="):
        configure_tensorflow(1, require_gpu=True)
    device = configure_tensorflow(1, require_gpu=False, mixed_precision=True)
    assert device["device"].startswith("CPU") and device["mixed_precision"] is False


@pytest.mark.slow
def test_tuning_is_seeded_and_stays_in_the_paper_ranges():
    train, valid = flat_split(300, 1), flat_split(200, 2)
    tuning = TuningSettings(enabled=True, n_trials=2, epochs=1, feature_sets=("hl",))
    best, trials = tune_network(train, valid, HL, SETTINGS, tuning, seed=3)
    assert len(trials) == 2
    assert set(best) == {"dense_layers", "units", "learning_rate", "dropout", "valid_auc"}
    space = tuning.space
    assert space.dense_layers_dnn[0] <= best["dense_layers"] <= space.dense_layers_dnn[1]
    assert space.units[0] <= best["units"] <= space.units[1]
    assert space.learning_rate[0] <= best["learning_rate"] <= space.learning_rate[1]
    assert space.dropout[0] <= best["dropout"] <= space.dropout[1]
    assert 0 <= best["valid_auc"] <= 1 and not math.isnan(best["valid_auc"])
    # Same seed: the same first trial, parameters and valid AUC.
    one = TuningSettings(enabled=True, n_trials=1, epochs=1, feature_sets=("hl",))
    _, again = tune_network(train, valid, HL, SETTINGS, one, seed=3)
    assert again.iloc[0].to_dict() == trials.iloc[0].to_dict()


def test_train_info_records_the_threads_the_job_ran_with(tmp_path, monkeypatch):
    """The rule's threads (2) override training.threads (1) in train_info.json (issue 11)."""
    from hepml.steps import models as steps
    from hepml.training.fit import TrainResult

    used = {}

    def configure(threads, require_gpu=False, mixed_precision=False):
        used["threads"] = threads
        return {"device": f"CPU ({threads} threads)", "threads": int(threads)}

    def fit(train, valid, feature_set, settings, seed, checkpoint_dir, model_kind=None):
        return TrainResult(None, None, None, {"training": settings.to_dict()})

    class Split:
        def load(self, inputs, efps=(), on_demand=False, columns=()):
            return {}

    saved = {}
    monkeypatch.setattr(steps, "configure_tensorflow", configure)
    monkeypatch.setattr(steps, "train_network", fit)
    monkeypatch.setattr(steps, "save_result", lambda result, files: saved.update(result.info))
    settings = dataclasses.replace(SETTINGS, threads=1)
    files = steps.ModelFiles(*(tmp_path / name for name in ("m", "p", "h", "i")))
    info = steps.fit_and_save(Split(), Split(), HL, settings, 0, files, tmp_path / "c", 2)
    assert used["threads"] == 2
    assert info["training"]["threads"] == 2 and saved["training"]["threads"] == 2
    assert info["device"] == "CPU (2 threads)"
    assert settings.threads == 1  # the settings object is not modified


def test_fit_and_save_keeps_the_checkpoint_for_a_rerun(tmp_path, monkeypatch):
    """Snakemake can still mark written outputs incomplete (Ctrl-C to the workflow waits for
    the job, then does): the checkpoint must outlive the job so that the rerun reuses it."""
    from hepml.steps import models as steps
    from hepml.training.fit import TrainResult

    checkpoint = tmp_path / "checkpoints" / "hl"

    def fit(train, valid, feature_set, settings, seed, checkpoint_dir, model_kind=None):
        checkpoint.mkdir(parents=True)  # what train_network leaves after its last epoch
        (checkpoint / STATE_FILE).write_text("{}")
        return TrainResult(None, None, None, {"training": settings.to_dict()})

    class Split:
        def load(self, inputs, efps=(), on_demand=False, columns=()):
            return {}

    written = []
    monkeypatch.setattr(steps, "configure_tensorflow", lambda *a: {"device": "CPU", "threads": 1})
    monkeypatch.setattr(steps, "train_network", fit)
    monkeypatch.setattr(steps, "save_result", lambda result, files: written.append(files))
    files = steps.ModelFiles(*(tmp_path / name for name in ("m", "p", "h", "i")))
    steps.fit_and_save(Split(), Split(), HL, SETTINGS, 0, files, checkpoint, 1)
    assert written == [files]
    assert (checkpoint / STATE_FILE).exists()


def test_tuned_network_is_merged_over_the_configured_one_by_train_model(tmp_path, monkeypatch):
    """tune_model's YAML -> train_model: the tuned keys win, the
    others keep the feature set's configured network; a wrong tuned key is named."""
    import pandas as pd
    from hepml.io.dataset import SplitInput
    from hepml.settings import SettingsError
    from hepml.steps import models as steps

    best = {"dense_layers": 4, "units": 33, "learning_rate": 2e-3, "dropout": 0.25}
    trials = pd.DataFrame({"trial": [0], "valid_auc": [0.9]})
    monkeypatch.setattr(steps, "configure_tensorflow", lambda *args, **kwargs: {})
    monkeypatch.setattr(steps, "tune_network", lambda *a: ({**best, "valid_auc": 0.9}, trials))
    streamed = []  # tune_model loads both splits with images on demand (io.ArrayRows)
    monkeypatch.setattr(
        SplitInput,
        "load",
        lambda self, inputs, efps=(), on_demand=False, columns=(): streamed.append(on_demand) or {},
    )
    seen = {}
    monkeypatch.setattr(steps, "fit_and_save", lambda train, valid, fs, *a, **k: seen.update(fs=fs))
    configured = NetworkSettings(
        conv_blocks=2, filters=5, dense_layers=1, units=8, learning_rate=3e-3, dropout=0.0
    )
    feature_set = FeatureSet("hl", ("hl",), configured)
    tuned = tmp_path / "hl.yaml"
    tune_settings = {
        "feature_set": feature_set.to_dict(),
        "training": SETTINGS.to_dict(),
        "tuning": {"enabled": True, "n_trials": 1, "epochs": 1, "feature_sets": ["hl"]},
        "seed": 3,
    }
    split_files = {"train": ["y.feather"], "valid": ["y.feather"]}
    tune_outputs = {"tuned": tuned, "trials": tmp_path / "t.csv"}
    steps.tune_model(split_files, tune_outputs, {"settings": tune_settings}, threads=1)
    assert streamed == [True, True]

    inputs = {**split_files, "tuned": str(tuned)}
    outputs = {name: tmp_path / name for name in ("model", "preprocess", "history", "info")}
    settings = {
        "feature_set": feature_set.to_dict(),
        "training": SETTINGS.to_dict(),
        "seed": 0,
        "checkpoint_dir": str(tmp_path / "c"),
    }
    steps.train_model(inputs, outputs, {"settings": settings}, threads=1)
    assert seen["fs"].network == dataclasses.replace(configured, **best)
    assert seen["fs"].name == "hl" and seen["fs"].inputs == ("hl",)
    # Without a tuned file the configured network is used unchanged.
    steps.train_model({**inputs, "tuned": None}, outputs, {"settings": settings}, threads=1)
    assert seen["fs"].network == configured
    tuned.write_text("network: {unitz: 3}\n")
    with pytest.raises(SettingsError, match="unitz"):
        steps.train_model(inputs, outputs, {"settings": settings}, threads=1)


class RowCounter:
    """An input array that records how many rows each read returns (the largest read of a
    split shows whether it was ever materialised whole)."""

    def __init__(self, array: np.ndarray):
        self.array, self.shape, self.dtype, self.reads = array, array.shape, array.dtype, []

    ndim = property(lambda self: self.array.ndim)

    def __len__(self) -> int:
        return len(self.array)

    def __getitem__(self, key):
        rows = self.array[key]
        self.reads.append(len(rows))
        return rows

    def __array__(self, dtype=None, copy=None):
        self.reads.append(len(self.array))
        return self.array if dtype is None else self.array.astype(dtype)


def test_tuning_streams_batches_and_never_reads_a_whole_split(monkeypatch):
    """tune_network reads images in training batches, preprocessing blocks and scoring blocks,
    never a whole split (the old code scaled both splits whole, 7.7 GB for the benchmark's
    1.2 M jet images); max_batches caps the batches of a trial epoch."""
    from hepml.training import preprocess
    from hepml.training import tuning as tuning_module

    monkeypatch.setattr(preprocess, "FIT_BLOCK_EVENTS", 100)
    monkeypatch.setattr(tuning_module, "SCORE_BLOCK_EVENTS", 100)
    train, valid = image_split(400, 1), image_split(300, 2)
    train["et"], valid["et"] = RowCounter(train["et"]), RowCounter(valid["et"])
    feature_set = FeatureSet("et", ("et",), NETWORK)
    settings = dataclasses.replace(SETTINGS, batch_size=32)
    capped = TuningSettings(enabled=True, n_trials=1, epochs=2, max_batches=3)
    best, trials = tune_network(train, valid, feature_set, settings, capped, seed=3)
    assert len(trials) == 1 and 0 <= best["valid_auc"] <= 1
    assert max(train["et"].reads) <= 100 and max(valid["et"].reads) <= 100
    batch_reads = [n for n in train["et"].reads if n == 32]
    # 2 epochs of 3 batches (plus Keras' look-ahead of a few), not 2 x 12 full batches
    assert 2 * 3 <= len(batch_reads) < 12
    assert sum(valid["et"].reads) == 300  # every valid event scored once


def test_a_second_network_of_a_set_trains_under_its_own_name_with_the_paper_sgd(tmp_path):
    """models: [dnn, shallow]: train_network(model_kind="shallow") builds the shallow
    network, records it as hl-shallow, and PaperSGD decays the learning rate every batch."""
    network = NetworkSettings(
        dense_layers=2, units=8, learning_rate=0.05, optimizer="sgd", lr_decay=1.001
    )
    hl = FeatureSet("hl", ("hl",), network, models=("dnn", "shallow"))
    train, valid = flat_split(256, 1), flat_split(128, 2)
    settings = dataclasses.replace(SETTINGS, epochs=2, lr_patience=10)
    result = train_network(train, valid, hl, settings, seed=1, model_kind="shallow")
    info = result.info
    assert (info["name"], info["model"], info["architecture"]) == (
        "hl-shallow",
        "shallow",
        "shallow",
    )
    # 4 batches of 64 per epoch: the rate after epoch e is 0.05 / 1.001 ** (4 e)
    np.testing.assert_allclose(result.history["lr"], [0.05 / 1.001**4, 0.05 / 1.001**8], rtol=1e-5)
    with pytest.raises(ValueError, match="has no model 'bdt'"):
        train_network(train, valid, hl, settings, seed=1, model_kind="bdt")
