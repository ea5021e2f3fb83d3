"""The plan of a run, read from the validated config: what the workflow runs, as pure
functions unit-tested here rather than inside the rules.

rules/*_functions.smk keep only what needs Snakemake (wildcards, checkpoints, file paths of
the DAG) and call these with the config dict. Light imports only (the DAG imports this
module): settings, nothing that opens a file.

- datasets by kind: a dataset's name is the user's, ``datasets.<name>.kind`` says which
  analysis it is (electrons, muons, jets, tabular);
- the unpacked keys of a dataset (its configured keys and weight) and the keys each kind's
  published layout provides (:data:`KIND_KEYS`), checked for every dataset at start-up
  (:func:`check_datasets`);
- its result names (``hl``, ``hl-bdt``, ..., ``efp-linear``) and the inverse
  (result name -> feature set, model), built on :func:`hepml.settings.model_name` /
  :func:`hepml.settings.split_name`;
- the resolved FeatureSet of a configured feature set (network defaults applied).
"""

from __future__ import annotations

from collections.abc import Mapping

from hepml.settings import (
    DEFAULT_ECM_GEV,
    TABULAR_INPUT,
    FeatureSet,
    SettingsError,
    model_name,
    split_name,
)

KINDS = ("electrons", "muons", "jets", "tabular")
WEIGHT_KEY = "weight"
# The unpacked keys each kind's published layout provides (docs/architecture.md "Keys after
# unpacking"): hepml.io.LAYOUTS (electrons, muons), hepml.steps.jets.KEYS (jets) and
# hepml.io.tabular.KEYS (tabular) hold the same names (tests/test_plan.py checks it); kept
# here so that the DAG checks a dataset's keys at start-up without importing the I/O layer.
KIND_KEYS = {
    "electrons": ("et", "ee", "ht", "he", "hl", "mass", "y", "weight"),
    "muons": ("images", "iso", "pt", "y", "weight"),
    "jets": ("jet", "constituents", "hl", "mass", "y", "weight"),
    "tabular": (TABULAR_INPUT, "y", "weight"),
}
# The linear (Fisher) discriminant on every kept EFP, when datasets.<name>.efp.linear is set:
# a result of its own (rule train_efp_linear), not a feature set.
EFP_LINEAR_NAME = "efp-linear"


def dataset_block(config: Mapping, dataset: str) -> Mapping:
    """``datasets.<dataset>``; an unknown name raises SettingsError listing the known ones."""
    datasets = config["datasets"]
    if dataset not in datasets:
        raise SettingsError(f"datasets.{dataset}: no such dataset (known: {sorted(datasets)})")
    return datasets[dataset]


def dataset_kind(config: Mapping, dataset: str) -> str:
    """The analysis a dataset belongs to."""
    return dataset_block(config, dataset)["kind"]


def datasets_of_kind(config: Mapping, kind: str) -> list[str]:
    """The datasets of one kind, in config order."""
    if kind not in KINDS:
        raise SettingsError(f"unknown dataset kind {kind!r} (known: {list(KINDS)})")
    return [name for name, block in config["datasets"].items() if block["kind"] == kind]


def compared_kinds(config: Mapping) -> list[str]:
    """The kinds with two or more datasets: their AUC tables are compared side by side."""
    kinds = dict.fromkeys(block["kind"] for block in config["datasets"].values())
    return [kind for kind in kinds if len(datasets_of_kind(config, kind)) > 1]


def unpacked_keys(block: Mapping) -> list[str]:
    """The keys unpacked for a dataset: its configured keys, then weight (always written)."""
    return list(dict.fromkeys([*block["keys"], WEIGHT_KEY]))


def feature_set(block: Mapping, name: str) -> FeatureSet:
    """The FeatureSet of ``feature_sets.<name>`` with the dataset's network defaults."""
    sets = block["feature_sets"]
    if name not in sets:
        raise SettingsError(f"feature set {name!r} is not configured (known: {sorted(sets)})")
    return FeatureSet.from_config(name, sets[name], block.get("network_defaults"))


def has_efp_linear(block: Mapping) -> bool:
    """Whether the dataset trains the linear EFP model (efp.linear set, {} included)."""
    return (block.get("efp") or {}).get("linear") is not None


def result_names(block: Mapping) -> list[str]:
    """Every trained model of a dataset, in config order: hl, hl-bdt, ..., efp-linear last."""
    names = [result for name in block["feature_sets"] for result in feature_set(block, name).names]
    return [*names, EFP_LINEAR_NAME] if has_efp_linear(block) else names


def split_result_name(block: Mapping, name: str) -> tuple[str, str]:
    """(feature set, model) of a configured result name; an unknown name raises SettingsError
    listing the known ones. ``efp-linear`` is ("efp", "linear")."""
    if name == EFP_LINEAR_NAME and has_efp_linear(block):
        return "efp", "linear"
    base, model = split_name(name)
    if base in block["feature_sets"]:
        settings = feature_set(block, base)
        model = model or settings.primary_model
        if model in settings.models and model_name(base, model, settings.primary_model) == name:
            return base, model
    raise SettingsError(f"{name!r} is not a trained model (known: {result_names(block)})")


def collision_energy(block: Mapping) -> float:
    """sqrt(s) in GeV of a dataset's collisions, the scale of its physical bounds: the
    ``generate.ecm_gev`` of a generated dataset, else the published data's value by kind."""
    generate = block.get("generate") or {}
    if block.get("source") == "generate" and generate.get("ecm_gev") is not None:
        return float(generate["ecm_gev"])
    return DEFAULT_ECM_GEV[block["kind"]]


def dataset_problems(name: str, block: Mapping) -> list[str]:
    """What in ``datasets.<name>`` names a key its kind does not have: ``keys`` entries outside
    the kind's layout (:data:`KIND_KEYS`), and feature-set inputs and EFP inputs
    (``efp.images``) that are not among the dataset's unpacked keys. One line per problem,
    each starting with the key path."""
    kind = block["kind"]
    allowed = KIND_KEYS[kind]
    problems = [
        f"datasets.{name}.keys: unknown key {key!r} for kind {kind} (allowed: {', '.join(allowed)})"
        for key in block["keys"]
        if key not in allowed
    ]
    unpacked = unpacked_keys(block)
    known = f"(datasets.{name}.keys: {', '.join(unpacked)})"
    problems += [
        f"datasets.{name}.feature_sets.{feature}.inputs: {key!r} is not an unpacked key of "
        f"this dataset {known}"
        for feature, values in block["feature_sets"].items()
        for key in values.get("inputs", ())
        if key not in unpacked
    ]
    problems += [
        f"datasets.{name}.efp.images: {key!r} is not an unpacked key of this dataset {known}"
        for key in (block.get("efp") or {}).get("images", ())
        if key not in unpacked
    ]
    return problems + tabular_problems(name, block)


def is_ntuples(block: Mapping) -> bool:
    """Whether a dataset is read from ROOT ntuples (``source: ntuples``, kind tabular;
    docs/ntuples.md): rules/ntuples.smk unpacks it, not unpack_table."""
    return block.get("source") == "ntuples"


def table_columns(block: Mapping) -> list[str]:
    """The feature names a tabular dataset's feature sets may pick: ``table.columns``
    (default: the UCI HIGGS layout's 28, hepml.io.tabular.HIGGS_COLUMNS, listed here to stay
    light); for source ntuples the block's training variables (``ntuples.variables``; the
    spectators are in the table too, never trained on)."""
    if is_ntuples(block):
        return list((block.get("ntuples") or {}).get("variables") or {})
    columns = (block.get("table") or {}).get("columns")
    return list(columns) if columns else list(HIGGS_FEATURES)


def columns_key(name: str, block: Mapping) -> str:
    """The config key of the columns a tabular dataset's feature sets pick from."""
    return (
        f"datasets.{name}.ntuples.variables"
        if is_ntuples(block)
        else f"datasets.{name}.table.columns"
    )


def tabular_problems(name: str, block: Mapping) -> list[str]:
    """Kind tabular: every feature set names columns of ``table.columns`` (source ntuples:
    of ``ntuples.variables``) and no other inputs; other kinds: no feature set names
    columns."""
    sets = block["feature_sets"]
    if block["kind"] != "tabular":
        return [
            f"datasets.{name}.feature_sets.{feature}.columns: only kind tabular has columns "
            f"(this dataset is kind {block['kind']}; use inputs)"
            for feature, values in sets.items()
            if values.get("columns")
        ]
    known, key = table_columns(block), columns_key(name, block)
    problems = [
        f"datasets.{name}.feature_sets.{feature}: kind tabular needs columns (names of {key})"
        for feature, values in sets.items()
        if not values.get("columns")
    ]
    problems += [
        f"datasets.{name}.feature_sets.{feature}.columns: {column!r} is not a column of "
        f"{key} ({', '.join(known)})"
        for feature, values in sets.items()
        for column in values.get("columns") or ()
        if column not in known
    ]
    return problems


# The UCI HIGGS file's 28 feature names in file order (columns 1-28): 21 low-level, then 7
# high-level (arXiv:1402.4735; hepml.io.tabular.HIGGS_COLUMNS, tests/test_tabular.py).
HIGGS_FEATURES = (
    "lepton_pT",
    "lepton_eta",
    "lepton_phi",
    "missing_energy_magnitude",
    "missing_energy_phi",
    *(f"jet{j}_{v}" for j in range(1, 5) for v in ("pt", "eta", "phi", "btag")),
    "m_jj",
    "m_jjj",
    "m_lv",
    "m_jlv",
    "m_bb",
    "m_wbb",
    "m_wwbb",
)


def check_datasets(config: Mapping) -> None:
    """SettingsError listing every problem of :func:`dataset_problems` over all datasets: run
    when the DAG is built (rules/common.smk), so a bad key stops the dry run, named by its
    dataset, instead of every unpack job of the dataset failing."""
    problems = [
        line for name, block in config["datasets"].items() for line in dataset_problems(name, block)
    ]
    if problems:
        lines = "\n".join(f"  - {line}" for line in problems)
        raise SettingsError(f"invalid configuration:\n{lines}")
