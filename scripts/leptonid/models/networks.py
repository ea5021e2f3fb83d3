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

from leptonid.settings import NetworkSettings

# kind -> module that registers it on import (for builders living outside this file).
BUILDER_MODULES: dict[str, str] = {
    "pfn": "leptonid.models.particles",
    "efn": "leptonid.models.particles",
}
BUILDERS: dict[str, Callable[[Sequence[InputSpec], NetworkSettings], keras.Model]] = {}


@dataclass(frozen=True)
class InputSpec:
    """One model input: its name (an unpacked key or ``efps``) and per-event shape.

    shape: (rows, columns, channels) for images, (d,) for flat inputs.
    """

    name: str
    shape: tuple[int, ...]

    @property
    def is_image(self) -> bool:
        return len(self.shape) == 3


def input_specs(arrays: Mapping[str, np.ndarray], names: Sequence[str]) -> list[InputSpec]:
    """Specs of the model inputs ``names`` from arrays of shape (N, ...).

    A 1-D array (N,) becomes a flat input of width 1; (N, d) flat of width d; (N, r, c) an
    image with one channel; (N, r, c, ch) an image.
    """
    specs = []
    for name in names:
        array = arrays[name]
        shape = tuple(int(s) for s in array.shape[1:])
        if len(shape) == 0:
            shape = (1,)
        elif len(shape) == 2:
            shape = (*shape, 1)
        elif len(shape) not in (1, 3):
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


@register_builder("nn")
def build_nn(specs: Sequence[InputSpec], network: NetworkSettings) -> keras.Model:
    """CNN/DNN of docs/reference.md "Networks": conv tower per image, flat inputs joined, dense."""
    if not specs:
        raise ValueError("build_nn: no inputs")
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
