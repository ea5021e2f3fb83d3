"""Frozen settings built from the workflow configuration; unknown keys raise.

Every model, training and evaluation setting the library uses comes through one of these
dataclasses, built from the validated config (config/schema.yaml). Building them again here
(not only in the schema) keeps the library usable from tests and benchmarks without Snakemake:
a misspelt key raises ``SettingsError`` naming the key and the keys that are allowed.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field

from hepml.geometry import GEOMETRIES

PRIMARY_MODELS = ("nn", "pfn", "efn")
ARCHITECTURES = ("paper", "tutorial")
SECONDARY_MODELS = ("bdt",)
NAME_SEPARATOR = "-"
# The one input of a tabular feature set: its columns of the unpacked ``features`` table
# (hepml.io.tabular, docs/tabular.md).
TABULAR_INPUT = "features"

# The workflow's splits, in this order everywhere (files, rules, tables).
SPLITS = ("train", "valid", "test")

# sqrt(s) in GeV of the collisions when the config does not give one (docs/reference.md
# "Physical bounds"): the electron and muon papers' data are 13 TeV pp, the top-tagging
# benchmark's 14 TeV. hepml.plan.collision_energy reads a dataset's own value.
DEFAULT_ECM_GEV = {"electrons": 13000.0, "muons": 13000.0, "jets": 14000.0}

# Per-purpose offsets added to the master ``seed`` (config): every random draw of the workflow
# takes its seed from this one table. generate and training share 300 since their first
# versions; they seed different generators (Pythia's per-chunk streams, TensorFlow), so the
# draws are unrelated, and changing either value would change every published number.
SEED_OFFSETS = {
    "simulate": 100,  # the built-in simulators
    "shuffle": 200,  # merging the muon files' classes at unpacking
    "generate": 300,  # Pythia 8 chunks (hepml.sources.pythia.pythia.pythia_seed)
    "training": 300,  # weight initialisation, batch order
    "bootstrap": 400,  # AUC intervals
    "tuning": 500,  # optuna
    "bdt": 600,
    "guided_pairs": 700,  # the guided search's pair draws
    "efp_dedup": 800,  # the train events deduplication samples
    "table_split": 900,  # tabular datasets: the seeded valid (and test) rows at unpacking
}


class SettingsError(ValueError):
    """A configuration block does not fit the dataclass it should build."""


def reject_unknown_keys(values: Mapping, allowed, where: str) -> None:
    """SettingsError ``<where>: unknown key(s) [...] (allowed: [...])`` when ``values`` has a
    key outside ``allowed``: the one check of every config block the library reads."""
    unknown = sorted(set(values) - set(allowed))
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {unknown} (allowed: {sorted(allowed)})")


def dataclass_from_config(cls, values: Mapping, where: str, ignore=()):
    """``cls(**values)`` for a frozen settings dataclass: unknown keys rejected (the ``ignore``
    ones skipped, e.g. n_events passed apart), lists made tuples, omitted fields defaulted."""
    values = {key: value for key, value in values.items() if key not in ignore}
    reject_unknown_keys(values, [field.name for field in dataclasses.fields(cls)], where)
    return cls(**{k: tuple(v) if isinstance(v, list) else v for k, v in values.items()})


def _check_keys(cls, values: Mapping, where: str) -> None:
    reject_unknown_keys(values, [field.name for field in dataclasses.fields(cls)], where)


def _build(cls, values: Mapping, where: str):
    _check_keys(cls, values, where)
    try:
        return cls(**values)
    except TypeError as error:  # a required field is missing
        raise SettingsError(f"{where}: {error}") from None


@dataclass(frozen=True)
class NetworkSettings:
    """Hyper-parameters of one network (docs/reference.md "Networks").

    conv_blocks: blocks of two 3x3 convolutions + 2x2 max-pool per image tower.
    filters: convolution filters in every layer of a tower.
    dense_layers, units: dense ReLU layers after the towers and flat inputs.
    learning_rate: Adam step size; dropout: rate after every dense hidden layer.
    max_particles, latent_size: PFN/EFN only (hepml.models.particles): the hottest cells
    kept as particles, and the width of the per-particle latent space (None = units).
    architecture: nn only: "paper" (the papers' conv towers, the fields above) or "tutorial"
    (the top-tagging tutorial's fixed CNN, hepml.models.networks.tutorial_cnn; it reads
    only learning_rate).
    The defaults are the default run's small networks (config/config.yaml network_defaults).
    """

    conv_blocks: int = 2
    filters: int = 8
    dense_layers: int = 2
    units: int = 32
    learning_rate: float = 1e-3
    dropout: float = 0.0
    max_particles: int = 64
    latent_size: int | None = None
    architecture: str = "paper"

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise SettingsError(
                f"network.architecture: {self.architecture!r}, expected one of {ARCHITECTURES}"
            )

    @classmethod
    def from_config(cls, *layers: Mapping | None, where: str = "network") -> NetworkSettings:
        """Merge config layers (later wins: defaults, feature-set network, tuned values)."""
        merged: dict = {}
        for layer in layers:
            if layer:
                _check_keys(cls, layer, where)
                merged.update(layer)
        settings = _build(cls, merged, where)
        return dataclasses.replace(
            settings,
            conv_blocks=int(settings.conv_blocks),
            filters=int(settings.filters),
            dense_layers=int(settings.dense_layers),
            units=int(settings.units),
            learning_rate=float(settings.learning_rate),
            dropout=float(settings.dropout),
            max_particles=int(settings.max_particles),
            latent_size=None if settings.latent_size is None else int(settings.latent_size),
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FeatureSet:
    """One feature set: the unpacked keys (and EFP names) a model sees, and its model kinds.

    ``models[0]`` is the primary model (nn: CNN when any input is an image, else DNN; pfn, efn);
    ``bdt`` may follow for flat-only inputs (docs/architecture.md "Feature sets").
    ``columns``: a tabular dataset's feature set (docs/tabular.md) names columns of its
    ``features`` table instead of keys; its one input is then ``features``, the
    (N, len(columns)) array of those columns (hepml.dataset.load_split).
    """

    name: str
    inputs: tuple[str, ...]
    network: NetworkSettings
    efps: tuple[str, ...] = ()
    models: tuple[str, ...] = ("nn",)
    columns: tuple[str, ...] = ()

    def __post_init__(self) -> None:
        where = f"feature set {self.name!r}"
        if not self.inputs and not self.efps:
            raise SettingsError(f"{where}: no inputs")
        if self.columns and self.inputs != (TABULAR_INPUT,):
            raise SettingsError(
                f"{where}: columns select from the tabular input {TABULAR_INPUT!r}; inputs "
                f"{list(self.inputs)} cannot be combined with them"
            )
        if len(set(self.columns)) != len(self.columns):
            raise SettingsError(f"{where}: repeated column in {list(self.columns)}")
        if self.models[0] not in PRIMARY_MODELS:
            raise SettingsError(
                f"{where}: models[0] is {self.models[0]!r}, expected one of {PRIMARY_MODELS}"
            )
        for extra in self.models[1:]:
            if extra not in SECONDARY_MODELS:
                raise SettingsError(
                    f"{where}: model {extra!r} cannot follow the primary model "
                    f"(allowed after models[0]: {SECONDARY_MODELS})"
                )
        if "bdt" in self.models and self.image_inputs:
            raise SettingsError(
                f"{where}: a bdt needs flat inputs, but {list(self.image_inputs)} are images"
            )
        if len(set(self.models)) != len(self.models):
            raise SettingsError(f"{where}: repeated model in {list(self.models)}")

    @classmethod
    def from_config(
        cls,
        name: str,
        values: Mapping,
        network_defaults: Mapping | None = None,
        tuned_network: Mapping | None = None,
    ) -> FeatureSet:
        """Build from ``feature_sets.<name>``; the network falls back to network_defaults."""
        where = f"feature set {name!r}"
        reject_unknown_keys(values, ("inputs", "efps", "models", "network", "columns"), where)
        network = NetworkSettings.from_config(
            network_defaults, values.get("network"), tuned_network, where=f"{where} network"
        )
        columns = tuple(values.get("columns") or ())
        default_inputs = (TABULAR_INPUT,) if columns else ()
        return cls(
            name=name,
            inputs=tuple(values.get("inputs") or default_inputs),
            network=network,
            efps=tuple(values.get("efps", ())),
            models=tuple(values.get("models", ("nn",))),
            columns=columns,
        )

    @property
    def primary_model(self) -> str:
        return self.models[0]

    @property
    def image_inputs(self) -> tuple[str, ...]:
        """Inputs that are calorimeter images (keys with a geometry in geometry.py)."""
        return tuple(key for key in self.inputs if key in GEOMETRIES)

    @property
    def names(self) -> tuple[str, ...]:
        """Result names of every model of this set: ``hl`` (primary), ``hl-bdt`` ..."""
        return tuple(model_name(self.name, model, self.primary_model) for model in self.models)

    def to_dict(self) -> dict:
        values = {
            "name": self.name,
            "inputs": list(self.inputs),
            "efps": list(self.efps),
            "models": list(self.models),
            "network": self.network.to_dict(),
        }
        if self.columns:  # only tabular sets: the other kinds' rule params stay as they were
            values["columns"] = list(self.columns)
        return values


def model_name(feature_set: str, model: str, primary_model: str = "nn") -> str:
    """The result name of (feature set, model): the feature set itself for the primary model."""
    return feature_set if model == primary_model else f"{feature_set}{NAME_SEPARATOR}{model}"


def split_name(name: str) -> tuple[str, str | None]:
    """Inverse of ``model_name``: ``hl-bdt`` -> (``hl``, ``bdt``); ``hl`` -> (``hl``, None)."""
    feature_set, sep, model = name.partition(NAME_SEPARATOR)
    if not feature_set or (sep and not model):
        raise SettingsError(f"malformed result name {name!r}: expected <feature_set>[-<model>]")
    return feature_set, (model or None)


def feature_sets_from_config(dataset_config: Mapping) -> dict[str, FeatureSet]:
    """Every feature set of one dataset block (``datasets.<dataset>``), keyed by name."""
    defaults = dataset_config.get("network_defaults")
    return {
        name: FeatureSet.from_config(name, values, defaults)
        for name, values in dataset_config["feature_sets"].items()
    }


@dataclass(frozen=True)
class BdtSettings:
    """sklearn HistGradientBoostingClassifier settings (the flat-input baseline).

    max_iter: boosting iterations at most; n_iter_no_change: early stopping on the valid split.
    """

    max_iter: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    n_iter_no_change: int = 10

    @classmethod
    def from_config(cls, values: Mapping | None) -> BdtSettings:
        """Build from ``training.bdt``; unknown keys raise SettingsError."""
        return _build(cls, values or {}, "training.bdt")


@dataclass(frozen=True)
class TrainingSettings:
    """The ``training`` block: fit loop, early stopping, LR schedule, devices.

    epochs is an upper limit; early stopping on val_loss after ``patience`` epochs without
    improvement restores the best weights; the learning rate is multiplied by ``lr_factor``
    after ``lr_patience`` epochs without improvement (docs/reference.md "Networks").
    threads: CPU threads of one training job (the rules' ``threads:``; 2, the default run's).
    """

    batch_size: int
    epochs: int
    patience: int
    lr_factor: float
    lr_patience: int
    mixed_precision: bool = False
    require_gpu: bool = False
    threads: int = 2
    bdt: BdtSettings = field(default_factory=BdtSettings)

    @classmethod
    def from_config(cls, values: Mapping) -> TrainingSettings:
        values = dict(values)
        bdt = BdtSettings.from_config(values.pop("bdt", None))
        return _build(cls, {**values, "bdt": bdt}, "training")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class EvaluationSettings:
    """The ``evaluation`` block.

    bootstrap_resamples, confidence_level: central bootstrap interval of the test AUC.
    signal_efficiencies: where background rejection 1/eps_B is reported.
    collapse_tolerance: |AUC - 0.5| below this (or a constant score) marks a collapsed model.
    """

    bootstrap_resamples: int
    confidence_level: float
    signal_efficiencies: tuple[float, ...]
    collapse_tolerance: float

    @classmethod
    def from_config(cls, values: Mapping) -> EvaluationSettings:
        values = dict(values)
        values["signal_efficiencies"] = tuple(float(e) for e in values["signal_efficiencies"])
        return _build(cls, values, "evaluation")


@dataclass(frozen=True)
class SearchSpace:
    """Hyper-parameter ranges of the authors' Bayesian search (docs/reference.md "Networks")."""

    conv_blocks: tuple[int, int] = (1, 4)
    filters: tuple[int, int] = (8, 128)
    dense_layers_cnn: tuple[int, int] = (1, 3)
    dense_layers_dnn: tuple[int, int] = (1, 8)
    units: tuple[int, int] = (1, 200)
    learning_rate: tuple[float, float] = (1e-4, 1e-2)
    dropout: tuple[float, float] = (0.0, 0.5)


@dataclass(frozen=True)
class TuningSettings:
    """The ``tuning`` block: optional optuna search run before training.

    feature_sets: names tuned (in any dataset that has them); the others keep their config.
    epochs: training epochs per trial; n_trials: TPE trials per feature set.
    max_batches: at most this many training batches per trial epoch (None: the whole train
    split); a budget cap for large splits, e.g. the paper-scale rehearsal's 2 tiny trials.
    """

    enabled: bool = False
    n_trials: int = 10
    epochs: int = 3
    max_batches: int | None = None
    feature_sets: tuple[str, ...] = ()
    space: SearchSpace = field(default_factory=SearchSpace)

    @classmethod
    def from_config(cls, values: Mapping | None) -> TuningSettings:
        values = dict(values or {})
        if "space" in values:
            raise SettingsError("tuning: unknown key(s) ['space'] (ranges are docs/reference.md's)")
        values["feature_sets"] = tuple(values.get("feature_sets", ()))
        return _build(cls, values, "tuning")

    def applies_to(self, feature_set: str) -> bool:
        return self.enabled and feature_set in self.feature_sets
