# Config validation, wildcard constraints, input functions and the final target list.

import sys
from pathlib import Path

import yaml

# The library (scripts/hepml) is importable here and, via the script directory, in every job.
sys.path.insert(0, str(Path(workflow.basedir) / "scripts"))

from hepml import plan
from hepml.settings import SEED_OFFSETS, SPLITS
from hepml.configcheck import validate_config

SCHEMA_PATH = Path(workflow.basedir) / "config" / "schema.yaml"
validate_config(
    config,
    yaml.safe_load(SCHEMA_PATH.read_text()),
    source=", ".join(map(str, workflow.config_settings.configfiles)) or "config/config.yaml",
)
# What the schema cannot see: every dataset's keys against its kind's layout, feature-set and
# EFP inputs against its keys (hepml.plan.check_datasets), named by dataset.
plan.check_datasets(config)


SPLITS = list(SPLITS)
DATASETS = list(config["datasets"])


wildcard_constraints:
    dataset="|".join(DATASETS),
    split="|".join(SPLITS),
    feature_set="[A-Za-z0-9_]+",
    name="[A-Za-z0-9_]+(-[a-z]+)?",
    key="[A-Za-z0-9_]+",
    chunk="[0-9]+",


# Every stage registers a function returning its final targets; rule all asks for them all.
TARGET_FUNCTIONS = []


def register_targets(function):
    """Add a stage's target function (no arguments, returns a list of paths) to rule all."""
    TARGET_FUNCTIONS.append(function)
    return function


def all_targets():
    """Everything the default run produces, built from config."""
    return [path for function in TARGET_FUNCTIONS for path in function()]


def dataset_config(dataset):
    """The config block of one dataset."""
    return config["datasets"][dataset]


def dataset_kind(dataset):
    """The analysis a dataset belongs to (datasets.<name>.kind)."""
    return plan.dataset_kind(config, dataset)


def datasets_of_kind(kind):
    """The datasets of one kind, in config order."""
    return plan.datasets_of_kind(config, kind)


def name_pattern(names):
    """A wildcard regex matching exactly these names (none: a regex that never matches)."""
    return "|".join(names) if names else "(?!)"


def kind_param(wildcards):
    """The dataset's kind, for the scripts that dispatch on it."""
    return dataset_kind(wildcards.dataset)


def canonical(value):
    """Params with every mapping's keys sorted: Snakemake compares a rule's params as written,
    so without this, reordering keys in a config file would rerun the rules that read them."""
    if isinstance(value, dict):
        return {key: canonical(value[key]) for key in sorted(value)}
    if isinstance(value, (list, tuple)):
        return [canonical(item) for item in value]
    return value


def stage_seed(offset):
    """A seed for one purpose: the master seed plus a fixed offset."""
    return int(config["seed"]) + int(offset)


# Each stage's constants and input functions (functions and rules live in separate files).
include: "data_functions.smk"
include: "generate_functions.smk"
include: "efp_functions.smk"
include: "train_functions.smk"
include: "evaluate_functions.smk"
include: "guided_functions.smk"
include: "muons_functions.smk"
include: "jets_functions.smk"
include: "tabular_functions.smk"
include: "ntuples_functions.smk"
