"""The one model builder: one-epoch smoke test per default feature set, architecture checks."""

import re
from pathlib import Path

import numpy as np
import pytest
import yaml
from hepml.models.networks import (
    BUILDERS,
    InputSpec,
    build_model,
    compile_model,
    input_specs,
    register_builder,
)
from hepml.settings import FeatureSet, NetworkSettings, SettingsError, feature_sets_from_config

REPO = Path(__file__).resolve().parents[1]
SHAPES = {"et": (31, 31, 1), "ht": (32, 32, 1), "ee": (31, 31, 1), "hl": (7,), "mass": (1,)}


def fake_arrays(n: int, seed: int = 0) -> dict[str, np.ndarray]:
    """Random arrays with the unpacked electron shapes (values are meaningless)."""
    rng = np.random.default_rng(seed)
    arrays = {
        key: rng.exponential(size=(n, *shape)).astype(np.float32) for key, shape in SHAPES.items()
    }
    arrays["y"] = rng.integers(0, 2, n).astype(np.int8)
    return arrays


def default_feature_sets() -> dict[str, FeatureSet]:
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    return feature_sets_from_config(config["datasets"]["electrons"])


@pytest.mark.slow
@pytest.mark.parametrize("name", list(default_feature_sets()))
def test_one_epoch_smoke_per_default_feature_set(name):
    import keras

    feature_set = default_feature_sets()[name]
    arrays = fake_arrays(48)
    specs = input_specs(arrays, feature_set.inputs)
    keras.utils.set_random_seed(1)
    model = compile_model(
        build_model(feature_set.primary_model, specs, feature_set.network),
        feature_set.network.learning_rate,
    )
    x = {spec.name: arrays[spec.name] for spec in specs}
    history = model.fit(x, arrays["y"], batch_size=16, epochs=1, verbose=0)
    assert np.isfinite(history.history["loss"][0])
    score = model.predict(x, verbose=0)
    assert score.shape == (48, 1)
    assert ((score >= 0) & (score <= 1)).all()
    expected = "cnn" if feature_set.image_inputs else "dnn"
    assert model.name == expected
    keras.backend.clear_session()


def test_architecture_follows_the_paper_description():
    network = NetworkSettings(
        conv_blocks=3, filters=5, dense_layers=2, units=7, learning_rate=1e-3, dropout=0.25
    )
    specs = [InputSpec("et", (31, 31, 1)), InputSpec("hl", (7,))]
    model = build_model("nn", specs, network)
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    pools = [layer for layer in model.layers if layer.__class__.__name__ == "MaxPooling2D"]
    assert len(convs) == 6 and all(c.kernel_size == (3, 3) and c.padding == "same" for c in convs)
    assert len(pools) == 3 and all(p.padding == "same" for p in pools)
    # 31 -> 16 -> 8 -> 4 with same-padded pooling; 4 * 4 * 5 conv features + 7 flat inputs.
    assert model.get_layer("join").output.shape[-1] == 4 * 4 * 5 + 7
    dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert [d.units for d in dense] == [7, 7, 1]
    assert [layer.rate for layer in model.layers if hasattr(layer, "rate")] == [0.25, 0.25]
    assert model.get_layer("score").activation.__name__ == "sigmoid"


def test_input_specs_shapes():
    arrays = {"a": np.zeros((3,)), "b": np.zeros((3, 4)), "c": np.zeros((3, 5, 5))}
    specs = input_specs(arrays, ["a", "b", "c"])
    assert [s.shape for s in specs] == [(1,), (4,), (5, 5, 1)]
    assert [s.is_image for s in specs] == [False, False, True]
    with pytest.raises(ValueError, match="'d'"):
        input_specs({"d": np.zeros((3, 2, 2, 2, 2))}, ["d"])


def test_unknown_model_kind_names_the_known_ones():
    with pytest.raises(KeyError, match="'no_such_kind'.*known: .*'nn'"):
        build_model("no_such_kind", [InputSpec("hl", (7,))], None)


def test_builder_registry_is_the_extension_point():
    calls = []

    @register_builder("toy")
    def build_toy(specs, network):
        calls.append([s.name for s in specs])
        return "a model"

    try:
        assert build_model("toy", [InputSpec("hl", (7,))], None) == "a model"
        assert calls == [["hl"]]
    finally:
        BUILDERS.pop("toy")


def test_feature_set_settings_names_and_errors():
    defaults = {"conv_blocks": 2, "filters": 8, "dense_layers": 2, "units": 32}
    defaults |= {"learning_rate": 1e-3, "dropout": 0.0}
    hl = FeatureSet.from_config("hl", {"inputs": ["hl"], "models": ["nn", "bdt"]}, defaults)
    assert hl.names == ("hl", "hl-bdt")
    mass = FeatureSet.from_config("mass", {"inputs": ["mass"], "network": {"units": 10}}, defaults)
    assert mass.network.units == 10 and mass.network.filters == 8
    with pytest.raises(SettingsError, match="unknown key.*'unit'"):
        FeatureSet.from_config("m", {"inputs": ["mass"], "network": {"unit": 10}}, defaults)
    with pytest.raises(SettingsError, match="bdt needs flat inputs"):
        FeatureSet.from_config("et", {"inputs": ["et"], "models": ["nn", "bdt"]}, defaults)
    # keys the config leaves out take the dataclass defaults (the one source of defaults)
    partial = FeatureSet.from_config("hl", {"inputs": ["hl"]}, {"conv_blocks": 1})
    assert partial.network == NetworkSettings(conv_blocks=1)


def test_tutorial_cnn_is_the_tutorials_layer_stack():
    """architecture: tutorial builds the top-tagging tutorial's CNN on one 40 x 40 image:
    Conv 64, pool, Conv 32, Conv 32, pool, Dense 32, sigmoid (docs/jets.md)."""
    network = NetworkSettings(architecture="tutorial")
    model = build_model("nn", [InputSpec("jet", (40, 40, 1))], network)
    convs = [layer for layer in model.layers if layer.__class__.__name__ == "Conv2D"]
    assert [(c.filters, c.kernel_size) for c in convs] == [(64, (4, 4)), (32, (4, 4)), (32, (4, 4))]
    dense = [layer.units for layer in model.layers if layer.__class__.__name__ == "Dense"]
    assert dense == [32, 1]
    assert model.output_shape == (None, 1)
    # 40 -> 20 -> 10 after the two poolings: 10 x 10 x 32 into the dense layer
    assert model.get_layer("flatten").output.shape[-1] == 10 * 10 * 32
    with pytest.raises(ValueError, match="exactly one image"):
        build_model("nn", [InputSpec("hl", (4,))], network)
    with pytest.raises(SettingsError, match="architecture"):
        NetworkSettings(architecture="resnet")


# The authors' deep network on the Higgs benchmark (docs/tabular.md "Models").
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


def test_dnn_and_shallow_are_the_authors_tanh_networks():
    """dnn: 4 tanh layers of 300 (5 weight layers with the output), shallow: one of 300;
    initial weights N(0, 0.1), N(0, 0.05), N(0, 0.001), zero biases, an L2 penalty of 1e-5
    on every kernel, as the authors' pylearn2 scripts (github.com/uci-igb/higgs-susy)."""
    import keras

    keras.utils.set_random_seed(3)
    specs = [InputSpec("features", (28,))]
    dnn = build_model("dnn", specs, PAPER_NETWORK)
    shallow = build_model("shallow", specs, PAPER_NETWORK)
    for model, hidden in ((dnn, 4), (shallow, 1)):
        dense = [layer for layer in model.layers if layer.__class__.__name__ == "Dense"]
        assert [d.units for d in dense] == [300] * hidden + [1]
        assert [d.activation.__name__ for d in dense] == ["tanh"] * hidden + ["sigmoid"]
        assert all(d.kernel_regularizer.l2 == pytest.approx(1e-5) for d in dense)
        stds = [float(np.std(d.get_weights()[0])) for d in dense]
        expected = [0.1] + [0.05] * (hidden - 1) + [0.001]
        np.testing.assert_allclose(stds, expected, rtol=0.15)
        assert all(not d.get_weights()[1].any() for d in dense)
    assert dnn.count_params() == 28 * 300 + 3 * 300 * 300 + 300 + 4 * 300 + 1
    with pytest.raises(ValueError, match="flat inputs"):
        build_model("dnn", [InputSpec("et", (31, 31, 1))], PAPER_NETWORK)
    # no weight decay: no penalty (the nn kind's networks are unchanged)
    plain = build_model("shallow", specs, NetworkSettings(units=8))
    assert all(layer.losses == [] for layer in plain.layers)


def test_paper_sgd_schedule_and_round_trip(tmp_path):
    """Momentum 0.9 in epoch 0 rising linearly to 0.99 at epoch momentum_epochs; the learning
    rate divided by 1.0000002 every batch down to 1e-6; setting the rate (the fit loop's
    plateau step and checkpoint restore) sets the current one; model.keras keeps it all."""
    import keras
    from hepml.models.networks import PaperSGD

    network = NetworkSettings(**{**PAPER_NETWORK.to_dict(), "units": 4, "momentum_epochs": 4})
    keras.utils.set_random_seed(1)
    model = compile_model(
        build_model("dnn", [InputSpec("features", (3,))], network), 0.05, network, 5
    )
    optimizer = model.optimizer
    assert isinstance(optimizer, PaperSGD)
    assert float(optimizer.current_momentum()) == pytest.approx(0.9)
    rng = np.random.default_rng(0)
    x = rng.normal(size=(50, 3)).astype("float32")
    weights = model.trainable_variables
    for _ in range(10):  # 10 batches: 2 epochs of 5 (eager steps: no fit graph to trace)
        optimizer.apply([rng.normal(size=w.shape).astype("float32") for w in weights], weights)
    assert int(optimizer.iterations) == 10
    assert float(optimizer.current_momentum()) == pytest.approx(0.9 + 0.09 * 2 / 4)
    assert float(optimizer.learning_rate) == pytest.approx(0.05 / 1.0000002**10, rel=1e-6)
    assert float(optimizer.learning_rate) < 0.05  # it decays
    optimizer.learning_rate = 0.01
    assert float(optimizer.learning_rate) == pytest.approx(0.01, rel=1e-6)
    model.save(tmp_path / "model.keras")
    loaded = keras.models.load_model(tmp_path / "model.keras")
    assert isinstance(loaded.optimizer, PaperSGD)
    assert float(loaded.optimizer.learning_rate) == pytest.approx(0.01, rel=1e-6)
    assert float(loaded.optimizer.current_momentum()) == pytest.approx(0.945)
    np.testing.assert_array_equal(model({"features": x}), loaded({"features": x}))
    # the update itself: v += m, m = momentum(epoch) m - lr(t) g, with g = 1, one batch per
    # epoch, momentum 0 -> 0.5 over 2 epochs and the rate halved every batch (a constant
    # momentum of 0 would end at -1.75, of 0.5 at -2.75; an undecayed rate at -3.875)
    steps = PaperSGD(
        learning_rate=1.0,
        initial_momentum=0.0,
        final_momentum=0.5,
        momentum_epochs=2,
        steps_per_epoch=1,
        decay=2.0,
    )
    v = keras.Variable(np.zeros(1, dtype="float32"))
    for _ in range(3):
        steps.apply([np.ones(1, dtype="float32")], [v])
    # m: -1; -0.25 - 0.5 = -0.75; -0.375 - 0.25 = -0.625 -> v = -2.375
    np.testing.assert_allclose(keras.ops.convert_to_numpy(v), [-2.375], rtol=1e-6)
    # the floor: a rate already at its minimum stays there
    floor = PaperSGD(learning_rate=1e-7, decay=1.5, min_learning_rate=1e-6)
    assert float(floor.learning_rate) == pytest.approx(1e-6)
    with pytest.raises(ValueError, match="decay 0.5 < 1"):
        PaperSGD(decay=0.5)
    with pytest.raises(SettingsError, match="optimizer"):
        NetworkSettings(optimizer="rmsprop")


def test_tabular_model_lists_and_names():
    """models: [dnn, shallow, bdt, gbdt] on a flat set -> low, low-shallow, low-bdt, low-gbdt;
    a flat-only model on an image set is refused, naming it."""
    low = FeatureSet.from_config(
        "low", {"inputs": ["hl"], "models": ["dnn", "shallow", "bdt", "gbdt"]}
    )
    assert low.names == ("low", "low-shallow", "low-bdt", "low-gbdt")
    with pytest.raises(SettingsError, match="gbdt needs flat inputs"):
        FeatureSet.from_config("et", {"inputs": ["et"], "models": ["nn", "gbdt"]})
    with pytest.raises(SettingsError, match="cannot follow the primary model"):
        FeatureSet.from_config("low", {"inputs": ["hl"], "models": ["dnn", "pfn"]})


def test_rules_route_every_tabular_model(tmp_path):
    """A flat feature set with models [dnn, shallow, bdt, gbdt] plans train_model (dnn),
    train_secondary_network (shallow, model.keras) and train_bdt twice (LightGBM model.txt),
    and scores each through score_model."""
    import subprocess
    import sys

    config = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())
    config["datasets"]["electrons"]["feature_sets"] = {
        "hl": {"inputs": ["hl"], "models": ["dnn", "shallow", "bdt", "gbdt"]}
    }
    config["training"]["gbdt"] = {"max_iter": 20}
    path = tmp_path / "tabular_models.yaml"
    path.write_text(yaml.safe_dump(config))
    targets = [f"results/electrons/metrics/{name}.json" for name in ("hl", "hl-shallow")]
    targets += [f"results/electrons/metrics/hl-{tree}.json" for tree in ("bdt", "gbdt")]
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "1", *targets]
    result = subprocess.run(
        [*command, "--configfile", str(path)], cwd=REPO, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stderr[-3000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.MULTILINE))
    assert jobs["train_model"] == "1" and jobs["train_secondary_network"] == "1"
    assert jobs["train_bdt"] == "2" and jobs["score_model"] == "4"
    for output in ("hl-shallow/model.keras", "hl-bdt/model.txt", "hl-gbdt/model.txt"):
        assert f"results/electrons/models/{output}" in result.stdout
