"""One Keras 3 model builder for every feature set.

``build_model(feature_set.primary_model, specs, network)`` looks the builder up in
``BUILDERS``. The ``nn`` builder (docs/reference.md "Networks") gives every image input its own
conv tower - blocks of two 3x3 same-padded ReLU convolutions and a 2x2 max-pool with same
padding - flattens the towers, concatenates them with the flat inputs, then applies dense ReLU
layers with dropout after each and a sigmoid output. It is a CNN when any input is an image
and a DNN otherwise.

Extension point: another model kind (``pfn``, ``efn`` for the muon paper) is added by
decorating its builder with ``@register_builder("pfn")`` in its own module and listing that
module in ``BUILDER_MODULES``; the builder gets the same (specs, network) arguments and must
return an uncompiled ``keras.Model`` whose inputs are named after ``InputSpec.name`` and whose
output is a (N, 1) probability. ``compile_model`` is shared.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import keras
import numpy as np

from hepml.geometry import PARTICLE_KEYS
from hepml.settings import NetworkSettings

# kind -> module that registers it on import (for builders living outside this file).
BUILDER_MODULES: dict[str, str] = {
    "pfn": "hepml.models.particles",
    "efn": "hepml.models.particles",
}
BUILDERS: dict[str, Callable[[Sequence[InputSpec], NetworkSettings], keras.Model]] = {}


@dataclass(frozen=True)
class InputSpec:
    """One model input: its name (an unpacked key or ``efps``) and per-event shape.

    shape: (rows, columns, channels) for images, (particles, features) for particle lists
    (the keys of hepml.geometry.PARTICLE_KEYS, e.g. jet constituents), (d,) for flat inputs.
    """

    name: str
    shape: tuple[int, ...]

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3

    @property
    def is_particles(self) -> bool:
        return len(self.shape) == 2


def input_specs(arrays: Mapping[str, np.ndarray], names: Sequence[str]) -> list[InputSpec]:
    """Specs of the model inputs ``names`` from arrays of shape (N, ...).

    A 1-D array (N,) becomes a flat input of width 1; (N, d) flat of width d; (N, r, c) an
    image with one channel, or a particle list (N, particles, features) for the keys of
    hepml.geometry.PARTICLE_KEYS; (N, r, c, ch) an image.
    """
    specs = []
    for name in names:
        array = arrays[name]
        shape = tuple(int(s) for s in array.shape[1:])
        if len(shape) == 0:
            shape = (1,)
        elif len(shape) == 2 and name not in PARTICLE_KEYS:
            shape = (*shape, 1)
        elif len(shape) not in (1, 2, 3):
            raise ValueError(
                f"input {name!r}: expected (N,), (N, d), (N, rows, cols) or (N, rows, cols, ch), "
                f"got {array.shape}"
            )
        specs.append(InputSpec(name, shape))
    return specs


def register_builder(kind: str):
    """Decorator registering ``builder(specs, network) -> keras.Model`` for a model kind."""

    def decorate(builder):
        BUILDERS[kind] = builder
        return builder

    return decorate


def build_model(kind: str, specs: Sequence[InputSpec], network: NetworkSettings) -> keras.Model:
    """An uncompiled model of ``kind`` (nn, pfn, ...) for the given inputs."""
    if kind not in BUILDERS and kind in BUILDER_MODULES:
        importlib.import_module(BUILDER_MODULES[kind])
    if kind not in BUILDERS:
        raise KeyError(f"no model builder for kind {kind!r}; known: {sorted(BUILDERS)}")
    return BUILDERS[kind](specs, network)


def conv_tower(image: keras.KerasTensor, network: NetworkSettings, name: str) -> keras.KerasTensor:
    """Blocks of Conv3x3-ReLU, Conv3x3-ReLU, MaxPool2x2 (same padding), flattened."""
    x = image
    for block in range(network.conv_blocks):
        for layer in range(2):
            x = keras.layers.Conv2D(
                network.filters,
                3,
                padding="same",
                activation="relu",
                name=f"{name}_conv{block}_{layer}",
            )(x)
        x = keras.layers.MaxPooling2D(2, padding="same", name=f"{name}_pool{block}")(x)
    return keras.layers.Flatten(name=f"{name}_flatten")(x)


def tutorial_cnn(spec: InputSpec) -> keras.Model:
    """The top-tagging tutorial's CNN on one 40 x 40 jet image (docs/jets.md "Models"; the
    ML4HEP school notebook, solution/top_tagging_sol.ipynb): Conv2D(64, 4x4, same, ReLU),
    MaxPool 2x2, Conv2D(32, 4x4, same, ReLU), Conv2D(32, 4x4, same, ReLU), MaxPool 2x2,
    Flatten, Dense(32, ReLU), Dense(1, sigmoid)."""
    image = keras.Input(shape=spec.shape, name=spec.name)
    x = keras.layers.Conv2D(64, 4, padding="same", activation="relu", name="conv0")(image)
    x = keras.layers.MaxPooling2D(2, name="pool0")(x)
    x = keras.layers.Conv2D(32, 4, padding="same", activation="relu", name="conv1")(x)
    x = keras.layers.Conv2D(32, 4, padding="same", activation="relu", name="conv2")(x)
    x = keras.layers.MaxPooling2D(2, name="pool1")(x)
    x = keras.layers.Flatten(name="flatten")(x)
    x = keras.layers.Dense(32, activation="relu", name="dense0")(x)
    output = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="score")(x)
    return keras.Model(inputs={spec.name: image}, outputs=output, name="tutorial_cnn")


@register_builder("nn")
def build_nn(specs: Sequence[InputSpec], network: NetworkSettings) -> keras.Model:
    """CNN/DNN of docs/reference.md "Networks": conv tower per image, flat inputs joined, dense;
    or, with network.architecture "tutorial", :func:`tutorial_cnn` on one image."""
    if not specs:
        raise ValueError("build_nn: no inputs")
    if network.architecture == "tutorial":
        if len(specs) != 1 or not specs[0].is_image:
            raise ValueError(
                "build_nn: architecture 'tutorial' takes exactly one image input, got "
                f"{[(spec.name, spec.shape) for spec in specs]}"
            )
        return tutorial_cnn(specs[0])
    particles = [spec.name for spec in specs if spec.is_particles]
    if particles:
        raise ValueError(
            f"build_nn: {particles} are particle lists; train them with models: [pfn] or [efn]"
        )
    inputs = {spec.name: keras.Input(shape=spec.shape, name=spec.name) for spec in specs}
    parts = [
        conv_tower(inputs[spec.name], network, spec.name) if spec.is_image else inputs[spec.name]
        for spec in specs
    ]
    x = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="join")(parts)
    for layer in range(network.dense_layers):
        x = keras.layers.Dense(network.units, activation="relu", name=f"dense{layer}")(x)
        if network.dropout > 0:
            x = keras.layers.Dropout(network.dropout, name=f"dropout{layer}")(x)
    # float32 output even under a mixed_float16 policy, for a stable sigmoid and loss.
    output = keras.layers.Dense(1, activation="sigmoid", dtype="float32", name="score")(x)
    kind = "cnn" if any(spec.is_image for spec in specs) else "dnn"
    return keras.Model(inputs=inputs, outputs=output, name=kind)


def compile_model(model: keras.Model, learning_rate: float) -> keras.Model:
    """Adam + binary cross-entropy; weighted AUC as the monitored metric."""
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=learning_rate),
        loss="binary_crossentropy",
        weighted_metrics=[keras.metrics.AUC(name="auc", num_thresholds=500)],
    )
    return model
