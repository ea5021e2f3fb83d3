"""The one model builder: one-epoch smoke test per default feature set, architecture checks."""

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
