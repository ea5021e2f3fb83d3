"""Frozen settings built from the workflow configuration; unknown keys raise.

Every model, training and evaluation setting the library uses comes through one of these
dataclasses, built from the validated config (config/schema.yaml). Building them again here
(not only in the schema) keeps the library usable from tests and benchmarks without Snakemake:
a misspelt key raises ``SettingsError`` naming the key and the keys that are allowed.
"""

from __future__ import annotations

import dataclasses
import typing
from collections.abc import Mapping
from dataclasses import dataclass, field

from hepml.geometry import GEOMETRIES

PRIMARY_MODELS = ("nn", "pfn", "efn", "dnn", "shallow")
ARCHITECTURES = ("paper", "tutorial")
# Networks on one flat feature vector (the tabular kind, docs/tabular.md "Models"): the
# authors' deep network and the one-hidden-layer network of Baldi et al. (2014).
FLAT_NETWORKS = ("dnn", "shallow")
# Boosted trees (LightGBM, hepml.training.bdt): ``bdt`` reads training.bdt, ``gbdt``
# training.gbdt; each saves its model in LightGBM's text format.
TREE_MODELS = ("bdt", "gbdt")
SECONDARY_MODELS = ("shallow", *TREE_MODELS)
OPTIMIZERS = ("adam", "sgd")
NAME_SEPARATOR = "-"
# The one input of a tabular feature set: its columns of the unpacked ``features`` table
# (hepml.io.tabular, docs/tabular.md).
TABULAR_INPUT = "features"

# The workflow's splits, in this order everywhere (files, rules, tables).
SPLITS = ("train", "valid", "test")

# sqrt(s) in GeV of the collisions when the config does not give one (docs/reference.md
# "Physical bounds"): the electron and muon papers' data are 13 TeV pp, the top-tagging
# benchmark's 14 TeV. hepml.plan.collision_energy reads a dataset's own value.
DEFAULT_ECM_GEV = {"electrons": 13000.0, "muons": 13000.0, "jets": 14000.0, "tabular": 8000.0}

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
    "ntuple_split": 1000,  # source ntuples: the hashed train / valid / test split of each event
    "ntuple_ranking": 1100,  # ntuple datasets: the permutations of the variable ranking
}


class SettingsError(ValueError):
    """A configuration block does not fit the dataclass it should build."""


# ---------------------------------------------------------------------------------------------
# One source of settings (docs/architecture.md "Settings: one source")
# ---------------------------------------------------------------------------------------------
# The settings dataclasses are the one source of every config key's name, type and default:
# config/schema.yaml restates them for validation and for its readers, the rules derive their
# params and key lists from the fields, and tests/test_settings_schema.py fails, naming the key,
# the class and the place, where the schema and a class disagree. Field metadata:
#   CONFIG_KEY  the field's key path in its block when it is not the field's name
#               ("dedup.sample_size"); None: not a config key (a feature set's name)
#   READ_BY     the rules whose params carry the key; absent: every rule that builds the class
#   FALLBACK    the block the key falls back to when omitted (a guided scan's keys: "guided")
CONFIG_KEY = "config_key"
READ_BY = "read_by"
FALLBACK = "fallback"


@dataclass(frozen=True)
class ConfigSection:
    """One block of the config and the dataclass that is the source of its keys.

    path: the block's key path, ``<name>`` for a user's name; kind: the dataset kind the block
    belongs to (None: every kind); settings: ``module:Class``, imported only where needed (the
    DAG stays light); schema: the JSON pointer of its description in config/schema.yaml;
    passed_apart: keys of the block the rules read themselves (``n_events``, ``chunks``).
    """

    path: str
    settings: str
    schema: str
    kind: str | None = None
    passed_apart: tuple[str, ...] = ()


_DATASET = "datasets.<name>"
# The ntuples block of a source-ntuples dataset (hepml.io.ntuples; its sub-blocks register
# under this path, and NtupleBlock accepts their keys).
NTUPLES_PATH = f"{_DATASET}.ntuples"
_DATASET_SCHEMA = "#/$defs/dataset/properties"
_EFP_SCHEMA = f"{_DATASET_SCHEMA}/efp/properties"
# Every config block the library reads, and its dataclass (tests/test_settings_schema.py).
CONFIG_SECTIONS = (
    ConfigSection("training", "hepml.settings:TrainingSettings", "#/properties/training"),
    ConfigSection(
        "training.bdt", "hepml.settings:BdtSettings", "#/properties/training/properties/bdt"
    ),
    ConfigSection("evaluation", "hepml.settings:EvaluationSettings", "#/properties/evaluation"),
    ConfigSection("tuning", "hepml.settings:TuningSettings", "#/properties/tuning"),
    ConfigSection(
        f"{_DATASET}.network_defaults", "hepml.settings:NetworkSettings", "#/$defs/network"
    ),
    ConfigSection(
        f"{_DATASET}.feature_sets.<name>", "hepml.settings:FeatureSet", "#/$defs/feature_set"
    ),
    ConfigSection(f"{_DATASET}.efp", "hepml.efp.settings:EFPSettings", f"{_DATASET_SCHEMA}/efp"),
    ConfigSection(
        f"{_DATASET}.efp.storage", "hepml.settings:StorageSettings", f"{_EFP_SCHEMA}/storage"
    ),
    ConfigSection(
        f"{_DATASET}.efp.linear", "hepml.training.linear:LinearSettings", f"{_EFP_SCHEMA}/linear"
    ),
    ConfigSection(
        f"{_DATASET}.guided.scans.<name>",
        "hepml.guided.names:ScanSettings",
        f"{_DATASET_SCHEMA}/guided/properties/scans/additionalProperties",
    ),
    ConfigSection(
        f"{_DATASET}.simulate",
        "hepml.sources.simulate.electrons:ElectronSimSettings",
        "#/$defs/simulate_electrons",
        kind="electrons",
        passed_apart=("n_events",),
    ),
    ConfigSection(
        f"{_DATASET}.simulate",
        "hepml.sources.simulate.muons:MuonSimSettings",
        "#/$defs/simulate_muons",
        kind="muons",
        passed_apart=("n_events",),
    ),
    *(
        ConfigSection(
            f"{_DATASET}.generate",
            f"hepml.sources.pythia.{kind}:{cls}",
            f"#/$defs/generate_{kind}",
            kind=kind,
            passed_apart=("n_events", "chunks"),
        )
        for kind, cls in (
            ("electrons", "ElectronGenSettings"),
            ("muons", "MuonGenSettings"),
            ("jets", "TopGenSettings"),
        )
    ),
    ConfigSection(
        f"{_DATASET}.significance",
        "hepml.metrics:SignificanceSettings",
        "#/$defs/significance",
        kind="tabular",
    ),
    ConfigSection(
        f"{_DATASET}.generate",
        "hepml.sources.pythia.higgs:HiggsGenSettings",
        "#/$defs/generate_tabular",
        kind="tabular",
        passed_apart=("n_events", "chunks"),
    ),
    # source ntuples (docs/ntuples.md): the block, then each of its sub-blocks' own class
    ConfigSection(NTUPLES_PATH, "hepml.io.ntuples:NtupleSettings", "#/$defs/ntuples", "tabular"),
    ConfigSection(
        f"{NTUPLES_PATH}.split",
        "hepml.io.ntuples:NtupleSplitSettings",
        "#/$defs/ntuples/properties/split",
        "tabular",
    ),
    # the ntuple figures' sub-blocks of datasets.<name>.ntuples (docs/ntuples.md "Figures")
    ConfigSection(
        f"{NTUPLES_PATH}.significance",
        "hepml.ntuple_stats:NtupleSignificanceSettings",
        "#/$defs/ntuple_significance",
        kind="tabular",
    ),
    ConfigSection(
        f"{NTUPLES_PATH}.ranking",
        "hepml.ntuple_stats:NtupleRankingSettings",
        "#/$defs/ntuple_ranking",
        kind="tabular",
    ),
    ConfigSection(
        f"{NTUPLES_PATH}.generate",
        "hepml.sources.pythia.higgs_ntuples:NtupleGenSettings",
        "#/$defs/ntuples/properties/generate",
        kind="tabular",
    ),
)


def subsections(path: str) -> tuple[str, ...]:
    """Keys of the blocks registered directly under ``path`` (``datasets.<name>.efp``:
    storage, linear), whichever module reads them."""
    prefix = f"{path}."
    return tuple(
        section.path[len(prefix) :]
        for section in CONFIG_SECTIONS
        if section.path.startswith(prefix) and "." not in section.path[len(prefix) :]
    )


def config_key(settings_field: dataclasses.Field) -> str | None:
    """The key path of a field in its config block (None: the field is no config key)."""
    return settings_field.metadata.get(CONFIG_KEY, settings_field.name)


def section_fields(cls) -> tuple[str, ...]:
    """Names of the fields of ``cls`` that hold a block of their own (a dataclass)."""
    hints = typing.get_type_hints(cls)
    return tuple(f.name for f in dataclasses.fields(cls) if dataclasses.is_dataclass(hints[f.name]))


def config_keys(cls, rule: str | None = None, sections: bool = True) -> tuple[str, ...]:
    """The top-level config keys of a settings dataclass, in field order.

    rule: only the keys that rule's params carry (fields without READ_BY: every rule);
    sections: False leaves out fields that are blocks of their own (training.bdt).
    """
    keys: list[str] = []
    blocks = () if sections else section_fields(cls)
    for settings_field in dataclasses.fields(cls):
        key = config_key(settings_field)
        if key is None or settings_field.name in blocks:
            continue
        read_by = settings_field.metadata.get(READ_BY)
        if rule is not None and read_by is not None and rule not in read_by:
            continue
        top = key.split(".")[0]
        if top not in keys:
            keys.append(top)
    return tuple(keys)


def nested_keys(cls, block: str) -> tuple[str, ...]:
    """The keys inside ``block`` of the fields whose CONFIG_KEY is ``<block>.<key>``
    (EFPSettings: dedup -> sample_size, tolerance)."""
    prefix = f"{block}."
    return tuple(
        key[len(prefix) :]
        for key in (config_key(f) for f in dataclasses.fields(cls))
        if key is not None and key.startswith(prefix)
    )


def field_default(cls, name: str):
    """The default of a settings field (the one place defaults are written)."""
    settings_field = {f.name: f for f in dataclasses.fields(cls)}[name]
    if settings_field.default is not dataclasses.MISSING:
        return settings_field.default
    if settings_field.default_factory is not dataclasses.MISSING:
        return settings_field.default_factory()
    raise SettingsError(f"{cls.__name__}.{name} has no default: the config must give it")


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
class StorageSettings:
    """``efp.storage``: the block shape bounding every EFP step's memory (hepml.io.efp_store).

    block_rows x block_columns float64 values is the largest piece of the EFP grid any step
    holds at once (default 8192 x 256 = 16 MB).
    """

    block_rows: int = 8192
    block_columns: int = 256

    @property
    def block_elements(self) -> int:
        return self.block_rows * self.block_columns

    def rows_for(self, n_columns: int) -> int:
        """Rows of a (rows, n_columns) piece within one block's elements (at least 1)."""
        return max(1, min(self.block_rows, self.block_elements // max(n_columns, 1)))

    def columns_for(self, n_rows: int) -> int:
        """Columns of an (n_rows, columns) piece within one block's elements (at least 1)."""
        return max(1, self.block_elements // max(n_rows, 1))


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
    optimizer: "adam" (every kind's default) or "sgd", the SGD of Baldi et al. (2014)
    (docs/tabular.md "Models", hepml.models.networks.PaperSGD): momentum rising linearly from
    ``momentum`` to ``final_momentum`` over ``momentum_epochs`` epochs, the learning rate
    divided by ``lr_decay`` after every batch down to ``min_learning_rate``.
    weight_decay: L2 penalty coefficient on every dense kernel (dnn and shallow only).
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
    optimizer: str = "adam"
    momentum: float = 0.9
    final_momentum: float = 0.99
    momentum_epochs: int = 200
    lr_decay: float = 1.0
    min_learning_rate: float = 0.0
    weight_decay: float = 0.0

    def __post_init__(self) -> None:
        if self.architecture not in ARCHITECTURES:
            raise SettingsError(
                f"network.architecture: {self.architecture!r}, expected one of {ARCHITECTURES}"
            )
        if self.optimizer not in OPTIMIZERS:
            raise SettingsError(
                f"network.optimizer: {self.optimizer!r}, expected one of {OPTIMIZERS}"
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
            momentum=float(settings.momentum),
            final_momentum=float(settings.final_momentum),
            momentum_epochs=int(settings.momentum_epochs),
            lr_decay=float(settings.lr_decay),
            min_learning_rate=float(settings.min_learning_rate),
            weight_decay=float(settings.weight_decay),
        )

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


@dataclass(frozen=True)
class FeatureSet:
    """One feature set: the unpacked keys (and EFP names) a model sees, and its model kinds.

    ``models[0]`` is the primary model (nn: CNN when any input is an image, else DNN; pfn, efn;
    dnn, shallow: the flat-vector networks of docs/tabular.md "Models"); ``bdt``, ``gbdt``
    and ``shallow`` may follow for flat-only inputs (docs/architecture.md "Feature sets").
    ``columns``: a tabular dataset's feature set (docs/tabular.md) names columns of its
    ``features`` table instead of keys; its one input is then ``features``, the
    (N, len(columns)) array of those columns (hepml.io.dataset.load_split).
    """

    name: str = field(metadata={CONFIG_KEY: None})  # the key of feature_sets
    inputs: tuple[str, ...]
    network: NetworkSettings  # falls back to the dataset's network_defaults
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
        flat_only = [m for m in self.models if m in (*TREE_MODELS, *FLAT_NETWORKS)]
        if flat_only and self.image_inputs:
            raise SettingsError(
                f"{where}: {flat_only[0]} needs flat inputs, but {list(self.image_inputs)} "
                "are images"
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
        reject_unknown_keys(values, config_keys(cls), where)
        network = NetworkSettings.from_config(
            network_defaults, values.get("network"), tuned_network, where=f"{where} network"
        )
        columns = tuple(values.get("columns") or ())
        default_inputs = (TABULAR_INPUT,) if columns else ()
        return cls(
            name=name,
            inputs=tuple(values.get("inputs") or default_inputs),
            network=network,
            efps=tuple(values.get("efps", cls.efps)),
            models=tuple(values.get("models", cls.models)),
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
    """Boosted trees of a flat feature set (LightGBM, hepml.training.bdt; docs/tabular.md
    "Models" maps each key to LightGBM's parameter).

    max_iter: boosting iterations at most (num_iterations); n_iter_no_change: early stopping
    on the valid split's log-loss (early_stopping_round); learning_rate; max_leaf_nodes:
    leaves per tree (num_leaves); max_depth: None = unlimited (-1); min_samples_leaf:
    min_data_in_leaf; max_bins: histogram bins per feature (max_bin); l2_regularization:
    lambda_l2. The defaults of the first four are the old scikit-learn baseline's; the others
    are the defaults that scikit-learn's and LightGBM's histogram trees share.
    """

    max_iter: int = 200
    learning_rate: float = 0.1
    max_leaf_nodes: int = 31
    n_iter_no_change: int = 10
    max_depth: int | None = None
    min_samples_leaf: int = 20
    max_bins: int = 255
    l2_regularization: float = 0.0

    @classmethod
    def from_config(cls, values: Mapping | None, where: str = "training.bdt") -> BdtSettings:
        """Build from ``training.bdt`` (or ``training.gbdt``); unknown keys raise."""
        return _build(cls, values or {}, where)


# training.gbdt when the config has none: LightGBM's histogram trees as one would set them
# today on 10^5 - 10^7 events (docs/tabular.md "Models"): many iterations at a moderate step
# with patient early stopping, 255 leaves, leaves of at least 100 events.
GBDT_DEFAULTS = {
    "max_iter": 2000,
    "learning_rate": 0.1,
    "max_leaf_nodes": 255,
    "n_iter_no_change": 50,
    "min_samples_leaf": 100,
    "max_bins": 255,
    "l2_regularization": 1.0,
}


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
    gbdt: BdtSettings = field(default_factory=lambda: BdtSettings(**GBDT_DEFAULTS))

    @classmethod
    def from_config(cls, values: Mapping) -> TrainingSettings:
        values = dict(values)
        bdt = BdtSettings.from_config(values.pop("bdt", None))
        gbdt = tree_settings("gbdt", values.pop("gbdt", None))
        return _build(cls, {**values, "bdt": bdt, "gbdt": gbdt}, "training")

    def to_dict(self) -> dict:
        return dataclasses.asdict(self)


def tree_settings(model: str, values: Mapping | None) -> BdtSettings:
    """The BdtSettings of a tree model from its ``training.<model>`` block: ``bdt`` over
    BdtSettings' defaults, ``gbdt`` over GBDT_DEFAULTS."""
    if model not in TREE_MODELS:
        raise SettingsError(f"{model!r} is not a tree model ({TREE_MODELS})")
    base = GBDT_DEFAULTS if model == "gbdt" else {}
    _check_keys(BdtSettings, values or {}, f"training.{model}")
    return BdtSettings.from_config({**base, **(values or {})}, f"training.{model}")


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
    # Not a config key: the ranges are docs/reference.md's.
    space: SearchSpace = field(default_factory=SearchSpace, metadata={CONFIG_KEY: None})

    @classmethod
    def from_config(cls, values: Mapping | None) -> TuningSettings:
        values = dict(values or {})
        if "space" in values:
            raise SettingsError("tuning: unknown key(s) ['space'] (ranges are docs/reference.md's)")
        values["feature_sets"] = tuple(values.get("feature_sets", ()))
        return _build(cls, values, "tuning")

    def applies_to(self, feature_set: str) -> bool:
        return self.enabled and feature_set in self.feature_sets
