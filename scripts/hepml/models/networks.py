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

``dnn`` and ``shallow`` are the networks of Baldi, Sadowski & Whiteson, Nature Commun. 5, 4308
(2014), arXiv:1402.4735, on one flat feature vector (docs/tabular.md "Models"): tanh hidden
layers (``network.dense_layers`` x ``network.units``; shallow: one), weights drawn from normal
distributions of standard deviation 0.1 (first layer), 0.05 (other hidden layers) and 0.001
(output), zero biases, an L2 penalty ``network.weight_decay`` on every kernel, as in the
authors' public code (github.com/uci-igb/higgs-susy, higgs/layers4_width300_*.py). With
``network.optimizer: sgd`` they train with :class:`PaperSGD`, the authors' schedule.
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


# Initial weights of the authors' networks (pylearn2 ``istdev``, higgs-susy code): first hidden
# layer, the other hidden layers, the output unit.
PAPER_INIT_STDDEV = (0.1, 0.05, 0.001)


def flat_tanh_network(
    specs: Sequence[InputSpec], network: NetworkSettings, hidden_layers: int, name: str
) -> keras.Model:
    """Tanh MLP of Baldi et al. (2014) on flat inputs (module docstring)."""
    if not specs:
        raise ValueError(f"build_{name}: no inputs")
    not_flat = [(spec.name, spec.shape) for spec in specs if len(spec.shape) != 1]
    if not_flat:
        raise ValueError(f"build_{name}: flat inputs (N, d) only, got {not_flat}")
    inputs = {spec.name: keras.Input(shape=spec.shape, name=spec.name) for spec in specs}
    parts = list(inputs.values())
    x = parts[0] if len(parts) == 1 else keras.layers.Concatenate(name="join")(parts)
    regularizer = keras.regularizers.L2(network.weight_decay) if network.weight_decay else None
    first, hidden, last = PAPER_INIT_STDDEV
    for layer in range(hidden_layers):
        x = keras.layers.Dense(
            network.units,
            activation="tanh",
            kernel_initializer=keras.initializers.RandomNormal(
                stddev=first if layer == 0 else hidden
            ),
            kernel_regularizer=regularizer,
            name=f"dense{layer}",
        )(x)
    output = keras.layers.Dense(
        1,
        activation="sigmoid",
        dtype="float32",
        kernel_initializer=keras.initializers.RandomNormal(stddev=last),
        kernel_regularizer=regularizer,
        name="score",
    )(x)
    return keras.Model(inputs=inputs, outputs=output, name=name)


@register_builder("dnn")
def build_dnn(specs: Sequence[InputSpec], network: NetworkSettings) -> keras.Model:
    """The authors' deep network: ``network.dense_layers`` tanh layers of ``network.units``
    (their best: 4 x 300 hidden, five weight layers with the output)."""
    return flat_tanh_network(specs, network, network.dense_layers, "dnn")


@register_builder("shallow")
def build_shallow(specs: Sequence[InputSpec], network: NetworkSettings) -> keras.Model:
    """The authors' shallow network: one tanh hidden layer of ``network.units`` (their 300)."""
    return flat_tanh_network(specs, network, 1, "shallow")


@keras.saving.register_keras_serializable(package="hepml")
class PaperSGD(keras.optimizers.SGD):
    """SGD with the schedule of Baldi et al. (2014) (pylearn2 in the authors' code):

    - momentum ``initial_momentum`` in epoch 0, rising linearly to ``final_momentum`` at epoch
      ``momentum_epochs`` and constant after (pylearn2 MomentumAdjustor, saturate 200);
    - learning rate divided by ``decay`` after every batch, never below ``min_learning_rate``
      (pylearn2 ExponentialDecay(decay_factor=1.0000002, min_lr=1e-6)).

    Both are functions of the optimizer's iteration counter, which model.keras saves, so a
    resumed fit continues the schedule. ``learning_rate`` reads the decayed rate; assigning it
    sets the rate now (the base is rescaled), so the fit loop's plateau reduction and its
    checkpoint restore work as with Adam.
    """

    def __init__(
        self,
        learning_rate=0.05,
        initial_momentum=0.9,
        final_momentum=0.99,
        momentum_epochs=200,
        steps_per_epoch=1,
        decay=1.0,
        min_learning_rate=0.0,
        **kwargs,
    ):
        kwargs.pop("momentum", None)
        kwargs.pop("nesterov", None)
        super().__init__(learning_rate=learning_rate, momentum=initial_momentum, **kwargs)
        self.initial_momentum = float(initial_momentum)
        self.final_momentum = float(final_momentum)
        self.momentum_epochs = int(momentum_epochs)
        self.steps_per_epoch = int(steps_per_epoch)
        self.decay = float(decay)
        self.min_learning_rate = float(min_learning_rate)
        if self.decay < 1.0:
            raise ValueError(f"PaperSGD: decay {self.decay} < 1 would raise the learning rate")

    def _decay_factor(self):
        # exp(-t log d): float32 cannot hold 1.0000002 ** -t to the precision the schedule needs
        t = keras.ops.cast(self.iterations, "float32")
        return keras.ops.exp(-t * float(np.log(self.decay)))

    def _get_current_learning_rate(self):
        base = super()._get_current_learning_rate()
        return keras.ops.maximum(base * self._decay_factor(), self.min_learning_rate)

    @property
    def learning_rate(self):
        return self._get_current_learning_rate()

    @learning_rate.setter
    def learning_rate(self, value):
        factor = float(keras.ops.convert_to_numpy(self._decay_factor()))
        keras.optimizers.SGD.learning_rate.fset(self, float(value) / factor)

    def current_momentum(self):
        """Momentum of the current epoch (a tensor)."""
        epoch = keras.ops.floor(
            keras.ops.cast(self.iterations, "float32") / float(max(self.steps_per_epoch, 1))
        )
        rise = keras.ops.minimum(epoch / float(max(self.momentum_epochs, 1)), 1.0)
        return self.initial_momentum + (self.final_momentum - self.initial_momentum) * rise

    def build(self, variables):
        # SGD builds no momentum slots when its momentum is 0; the schedule may start there
        if self.built:
            return
        super(keras.optimizers.SGD, self).build(variables)
        self.momentums = self.add_optimizer_variables(variables, "momentum")

    def update_step(self, gradient, variable, learning_rate):
        learning_rate = keras.ops.cast(learning_rate, variable.dtype)
        gradient = keras.ops.cast(gradient, variable.dtype)
        m = self.momentums[self._get_variable_index(variable)]
        momentum = keras.ops.cast(self.current_momentum(), variable.dtype)
        self.assign(
            m,
            keras.ops.subtract(
                keras.ops.multiply(m, momentum), keras.ops.multiply(gradient, learning_rate)
            ),
        )
        self.assign_add(variable, m)

    def get_config(self):
        config = super().get_config()
        config.pop("momentum", None)
        config.pop("nesterov", None)
        config.update(
            initial_momentum=self.initial_momentum,
            final_momentum=self.final_momentum,
            momentum_epochs=self.momentum_epochs,
            steps_per_epoch=self.steps_per_epoch,
            decay=self.decay,
            min_learning_rate=self.min_learning_rate,
        )
        return config


def make_optimizer(network: NetworkSettings, steps_per_epoch: int = 1):
    """The optimizer ``network.optimizer`` names: Adam, or :class:`PaperSGD` with the network's
    momentum and learning-rate schedule (``steps_per_epoch`` times the momentum rise)."""
    if network.optimizer == "sgd":
        return PaperSGD(
            learning_rate=network.learning_rate,
            initial_momentum=network.momentum,
            final_momentum=network.final_momentum,
            momentum_epochs=network.momentum_epochs,
            steps_per_epoch=steps_per_epoch,
            decay=network.lr_decay,
            min_learning_rate=network.min_learning_rate,
        )
    return keras.optimizers.Adam(learning_rate=network.learning_rate)


def compile_model(
    model: keras.Model,
    learning_rate: float,
    network: NetworkSettings | None = None,
    steps_per_epoch: int = 1,
) -> keras.Model:
    """Binary cross-entropy; weighted AUC as the monitored metric. Adam at ``learning_rate``,
    or, with ``network``, the optimizer it names (:func:`make_optimizer`)."""
    optimizer = (
        keras.optimizers.Adam(learning_rate=learning_rate)
        if network is None
        else make_optimizer(network, steps_per_epoch)
    )
    model.compile(
        optimizer=optimizer,
        loss="binary_crossentropy",
        weighted_metrics=[keras.metrics.AUC(name="auc", num_thresholds=500)],
    )
    return model
