"""One source of settings (docs/architecture.md "Settings: one source").

The settings dataclasses are the source of every config key's name, type and default;
config/schema.yaml restates them for validation. ``disagreements`` walks every block registered
in ``hepml.settings.CONFIG_SECTIONS`` against its schema entry, field for field (names, types,
required, defaults), and says for each disagreement which key, which class and which place. The
negative controls inject each kind of disagreement into a copy of the schema, so the check is
shown to fail.
"""

from __future__ import annotations

import ast
import copy
import dataclasses
import functools
import importlib
import types
import typing
from collections.abc import Mapping
from pathlib import Path

import pytest
import yaml
from hepml.settings import (
    CONFIG_SECTIONS,
    DEFAULT_ECM_GEV,
    FALLBACK,
    ConfigSection,
    config_key,
    section_fields,
    subsections,
)

REPO = Path(__file__).resolve().parents[1]
SCHEMA = REPO / "config" / "schema.yaml"
LIBRARY = REPO / "scripts" / "hepml"
# Blocks whose keys a class's FALLBACK fields may also be given in (the scan's shared keys).
FALLBACK_BLOCKS = {"guided": "#/$defs/dataset/properties/guided"}
FALLBACK_BLOCK_OWN_KEYS = {"guided": {"scans"}}
JSON_TYPES = {int: "integer", float: "number", bool: "boolean", str: "string"}


@functools.cache
def _schema_text() -> str:
    return SCHEMA.read_text()


def load_schema() -> dict:
    return yaml.safe_load(_schema_text())


@functools.cache
def _parsed_schema() -> dict:
    return load_schema()


def settings_class(section: ConfigSection) -> type:
    module, name = section.settings.split(":")
    return getattr(importlib.import_module(module), name)


def resolve(schema: dict, pointer: str) -> dict:
    """The schema node at a JSON pointer (``#/$defs/network``), following $ref."""
    node = schema
    for part in pointer.removeprefix("#/").split("/"):
        node = node[part]
    return resolve(schema, node["$ref"]) if "$ref" in node else node


def schema_types(schema: dict, node: dict) -> set[str]:
    """The JSON types a schema node allows (from type, or from the values of an enum)."""
    node = resolve(schema, node["$ref"]) if "$ref" in node else node
    if "enum" in node:
        return {JSON_TYPES[type(value)] for value in node["enum"]}
    declared = node.get("type")
    if declared is None:
        return set()
    return {declared} if isinstance(declared, str) else set(declared)


def expected_types(hint) -> tuple[set[str], object]:
    """(JSON types, item hint or None) of a field annotation; ``X | None`` allows null."""
    if isinstance(hint, types.UnionType) or typing.get_origin(hint) is typing.Union:
        args = [arg for arg in typing.get_args(hint) if arg is not type(None)]
        found, item = expected_types(args[0])
        return found | {"null"}, item
    if typing.get_origin(hint) is tuple:
        return {"array"}, typing.get_args(hint)[0]
    if hint is dict or typing.get_origin(hint) in (dict, Mapping):  # the ntuples block's maps
        return {"object"}, None
    return {JSON_TYPES[hint]}, None


def normalised(value):
    """A default as YAML holds it: tuples become lists."""
    if isinstance(value, tuple | list):
        return [normalised(item) for item in value]
    return value


def same_value(a, b) -> bool:
    if isinstance(a, bool) or isinstance(b, bool):
        return type(a) is type(b) and a == b
    if isinstance(a, list) and isinstance(b, list):
        return len(a) == len(b) and all(same_value(x, y) for x, y in zip(a, b, strict=True))
    return a == b


def default_of(settings_field: dataclasses.Field):
    if settings_field.default is not dataclasses.MISSING:
        return settings_field.default
    if settings_field.default_factory is not dataclasses.MISSING:
        return settings_field.default_factory()
    return dataclasses.MISSING


def _kind(section: ConfigSection) -> str:
    return "" if section.kind is None else f", kind {section.kind}"


def field_problems(schema, section, cls, settings_field, hint, block, pointer) -> list[str]:
    """Type, required and default of one config field against its schema property."""
    key = config_key(settings_field)
    where = f"{cls.__name__}.{settings_field.name} (config {section.path}.{key}{_kind(section)})"
    *parents, name = key.split(".")
    for parent in parents:  # a flattened key (dedup.sample_size): the nested block
        block = block["properties"][parent]
        pointer = f"{pointer}/properties/{parent}"
    place = f"config/schema.yaml {pointer}/properties/{name}"
    prop = block.get("properties", {}).get(name)
    if prop is None:
        return [f"{where}: key {name!r} missing from {pointer}/properties in config/schema.yaml"]
    problems = []
    wanted, item = expected_types(hint)
    found = schema_types(schema, prop)
    if not found or not found <= wanted or not (wanted - {"null"}) <= found:
        problems.append(f"{where}: type {sorted(wanted)} in the class, {sorted(found)} in {place}")
    if item is not None and item in JSON_TYPES and "items" in prop:
        found_items = schema_types(schema, prop["items"])
        if found_items != {JSON_TYPES[item]}:
            problems.append(
                f"{where}: items of type {JSON_TYPES[item]!r} in the class, "
                f"{sorted(found_items)} in {place}/items"
            )
    default = default_of(settings_field)
    fallback = FALLBACK in settings_field.metadata
    required = default is dataclasses.MISSING and not fallback
    listed = name in block.get("required", [])
    if required != listed:
        problems.append(
            f"{where}: {'required' if required else 'optional'} in the class, "
            f"{'required' if listed else 'optional'} in config/schema.yaml {pointer}/required"
        )
    if default is dataclasses.MISSING:
        if "default" in prop:
            problems.append(
                f"{where}: no default in the class, default {prop['default']!r} in {place}"
            )
    elif "default" not in prop:
        problems.append(f"{where}: default {normalised(default)!r} in the class, none in {place}")
    elif not same_value(normalised(default), prop["default"]):
        problems.append(
            f"{where}: default {normalised(default)!r} in the class, {prop['default']!r} in {place}"
        )
    return problems


def section_problems(schema: dict, section: ConfigSection) -> list[str]:
    """Every disagreement between one registered block's class and its schema entry."""
    cls = settings_class(section)
    block = resolve(schema, section.schema)
    where = f"{cls.__name__} (config {section.path}{_kind(section)})"
    place = f"config/schema.yaml {section.schema}"
    problems = []
    if block.get("additionalProperties") is not False:
        problems.append(f"{where}: {place} must set additionalProperties: false")
    hints = typing.get_type_hints(cls)
    blocks = section_fields(cls)
    keys = {}
    for settings_field in dataclasses.fields(cls):
        key = config_key(settings_field)
        if key is not None:
            keys.setdefault(key.split(".")[0], settings_field)
    expected = {*keys, *subsections(section.path), *section.passed_apart}
    for key in sorted(set(block.get("properties", {})) - expected):
        problems.append(
            f"{where}: key {key!r} is in {place}/properties but is no field of {cls.__name__} "
            "(add the field, or remove the key)"
        )
    for key in sorted(expected - set(block.get("properties", {}))):
        owner = keys[key].name if key in keys else "(passed apart or a registered block)"
        problems.append(
            f"{where}: key {key!r} ({cls.__name__}.{owner}) is missing from {place}/properties"
        )
    for key in section.passed_apart:
        if key not in block.get("required", []):
            problems.append(f"{where}: {key!r} (read by the rules) must be required in {place}")
    for settings_field in dataclasses.fields(cls):
        key = config_key(settings_field)
        if key is None or settings_field.name in blocks:
            continue
        if key.split(".")[0] in block.get("properties", {}):
            problems += field_problems(
                schema,
                section,
                cls,
                settings_field,
                hints[settings_field.name],
                block,
                section.schema,
            )
    shared = {f.metadata[FALLBACK] for f in dataclasses.fields(cls) if FALLBACK in f.metadata}
    for name in sorted(shared):
        parent = resolve(schema, FALLBACK_BLOCKS[name])
        wanted = {f.name for f in dataclasses.fields(cls) if f.metadata.get(FALLBACK) == name}
        wanted |= FALLBACK_BLOCK_OWN_KEYS.get(name, set())
        if set(parent.get("properties", {})) != wanted:
            problems.append(
                f"{where}: config/schema.yaml {FALLBACK_BLOCKS[name]}/properties has "
                f"{sorted(parent.get('properties', {}))}, expected {sorted(wanted)} (the "
                f"fields of {cls.__name__} with fallback {name!r}, and the block's own keys)"
            )
    return problems


def disagreements(schema: dict) -> list[str]:
    return [problem for section in CONFIG_SECTIONS for problem in section_problems(schema, section)]


def settings_classes_in_library() -> dict[str, str]:
    """Every dataclass named *Settings under scripts/hepml, by name: its module file."""
    found = {}
    for path in sorted(LIBRARY.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text())):
            if isinstance(node, ast.ClassDef) and node.name.endswith("Settings"):
                if any("dataclass" in ast.unparse(d) for d in node.decorator_list):
                    found[node.name] = str(path.relative_to(REPO))
    return found


def test_every_settings_class_agrees_with_the_schema():
    problems = disagreements(_parsed_schema())
    assert problems == [], "\n".join(problems)


def test_every_settings_class_is_registered():
    """A new *Settings dataclass is in CONFIG_SECTIONS (so the test above walks it), or is a
    base class of one that is (PythiaSettings)."""
    registered = [settings_class(section) for section in CONFIG_SECTIONS]
    covered = {base.__name__ for cls in registered for base in cls.__mro__}
    missing = {
        name: path for name, path in settings_classes_in_library().items() if name not in covered
    }
    assert missing == {}, f"settings classes not in hepml.settings.CONFIG_SECTIONS: {missing}"
    assert len(registered) >= 15  # the scan found the classes


def test_each_generator_defaults_to_the_collision_energy_of_its_kind():
    """A generated dataset's ecm_gev default (its generator class) and the kind's
    DEFAULT_ECM_GEV (what the physical bounds use when the config gives none) agree."""
    generators = [s for s in CONFIG_SECTIONS if s.path.endswith(".generate")]
    assert {s.kind for s in generators} == set(DEFAULT_ECM_GEV)
    for section in generators:
        cls = settings_class(section)
        assert cls.ecm_gev == DEFAULT_ECM_GEV[section.kind], (
            f"{cls.__name__}.ecm_gev is {cls.ecm_gev}, hepml.settings.DEFAULT_ECM_GEV"
            f"[{section.kind!r}] is {DEFAULT_ECM_GEV[section.kind]}"
        )


def test_the_rules_derive_their_key_lists():
    """No hand-kept key list in the rules: the network rules' training keys and the EFP rules'
    params come from the dataclasses' fields (rules/*_functions.smk)."""
    text = "\n".join(path.read_text() for path in sorted((REPO / "rules").glob("*.smk")))
    assert "NETWORK_TRAINING_KEYS = config_keys(TrainingSettings, sections=False)" in text
    assert "EFP_GRID_KEYS" not in text
    for rule in ("compute_efps", "gather_efps", "deduplicate_efps"):
        assert f'config_keys(EFPSettings, "{rule}")' in text


def _section(path: str, kind: str | None = None) -> ConfigSection:
    return next(s for s in CONFIG_SECTIONS if s.path == path and s.kind == kind)


def _inject(pointer: str, change) -> list[str]:
    schema = copy.deepcopy(_parsed_schema())
    change(resolve(schema, pointer))
    return disagreements(schema)


@pytest.mark.parametrize(
    ("pointer", "change", "expected"),
    [
        (  # an extra schema key no class reads
            "#/properties/training",
            lambda node: node["properties"].__setitem__("warmup", {"type": "integer"}),
            "TrainingSettings (config training): key 'warmup' is in config/schema.yaml "
            "#/properties/training/properties but is no field",
        ),
        (  # a dataclass field missing from the schema
            "#/$defs/generate_jets",
            lambda node: node["properties"].pop("match_r"),
            "TopGenSettings (config datasets.<name>.generate, kind jets): key 'match_r' "
            "(TopGenSettings.match_r) is missing from config/schema.yaml #/$defs/generate_jets",
        ),
        (  # a default that differs
            "#/$defs/simulate_muons",
            lambda node: node["properties"]["weight_bins"].__setitem__("default", 20),
            "MuonSimSettings.weight_bins (config datasets.<name>.simulate.weight_bins, "
            "kind muons): default 40 in the class, 20 in config/schema.yaml #/$defs/simulate_muons",
        ),
        (  # a default missing from the schema
            "#/$defs/dataset/properties/efp",
            lambda node: node["properties"]["dedup"]["properties"]["tolerance"].pop("default"),
            "EFPSettings.dedup_tolerance (config datasets.<name>.efp.dedup.tolerance): "
            "default 1e-09 in the class, none in config/schema.yaml",
        ),
        (  # a type that differs
            "#/$defs/network",
            lambda node: node["properties"]["units"].__setitem__("type", "number"),
            "NetworkSettings.units (config datasets.<name>.network_defaults.units): type "
            "['integer'] in the class, ['number'] in config/schema.yaml #/$defs/network",
        ),
        (  # required in one place only
            "#/properties/evaluation",
            lambda node: node["required"].remove("collapse_tolerance"),
            "EvaluationSettings.collapse_tolerance (config evaluation.collapse_tolerance): "
            "required in the class, optional in config/schema.yaml "
            "#/properties/evaluation/required",
        ),
        (  # a block that takes any key
            "#/$defs/dataset/properties/efp/properties/linear",
            lambda node: node.pop("additionalProperties"),
            "LinearSettings (config datasets.<name>.efp.linear): config/schema.yaml "
            "#/$defs/dataset/properties/efp/properties/linear must set additionalProperties",
        ),
        (  # the guided block's shared keys and ScanSettings' fallback fields
            "#/$defs/dataset/properties/guided",
            lambda node: node["properties"].pop("seed"),
            "ScanSettings (config datasets.<name>.guided.scans.<name>): config/schema.yaml "
            "#/$defs/dataset/properties/guided/properties has",
        ),
        (  # the ntuples block: a map-typed key of another type, a sub-block's default
            "#/$defs/ntuples",
            lambda node: node["properties"]["define"].__setitem__("type", "array"),
            "NtupleSettings.define (config datasets.<name>.ntuples.define, kind tabular): type "
            "['object'] in the class, ['array'] in config/schema.yaml #/$defs/ntuples",
        ),
        (
            "#/$defs/ntuples/properties/split",
            lambda node: node["properties"]["test"].__setitem__("default", 0.25),
            "NtupleSplitSettings.test (config datasets.<name>.ntuples.split.test, kind "
            "tabular): default 0.3 in the class, 0.25 in config/schema.yaml",
        ),
    ],
)
def test_an_injected_disagreement_is_named(pointer, change, expected):
    problems = _inject(pointer, change)
    assert any(problem.startswith(expected) for problem in problems), "\n".join(problems)


def test_a_field_added_to_a_class_is_missing_from_the_schema():
    """The other direction: a new field in the class (here a subclass standing in for it)."""
    from hepml.settings import BdtSettings

    @dataclasses.dataclass(frozen=True)
    class Grown(BdtSettings):
        extra_trees_fraction: float = 0.0

    section = _section("training.bdt")
    grown = dataclasses.replace(section, settings="tests_grown:Grown")
    module = types.ModuleType("tests_grown")
    module.Grown = Grown
    with pytest.MonkeyPatch.context() as patch:
        patch.setitem(__import__("sys").modules, "tests_grown", module)
        problems = section_problems(_parsed_schema(), grown)
    assert problems == [
        "Grown (config training.bdt): key 'extra_trees_fraction' (Grown.extra_trees_fraction) is "
        "missing from config/schema.yaml #/properties/training/properties/bdt/properties"
    ]
