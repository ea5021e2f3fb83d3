"""Validation of the workflow configuration against config/schema.yaml.

jsonschema's own messages bury the offending key under a dump of the schema; this module turns
every violation into one line that starts with the dotted key path, e.g.
``datasets.electrons.feature_sets.hl: unknown key(s) ['modles'] (allowed: efps, inputs, ...)``.
"""

from __future__ import annotations

import re
from collections.abc import Mapping

import jsonschema


class ConfigError(ValueError):
    """The configuration does not match the schema; the message lists every problem."""


def _key_path(path) -> str:
    parts = [f"[{p}]" if isinstance(p, int) else str(p) for p in path]
    return ".".join(parts).replace(".[", "[") or "(top level)"


def _describe(error: jsonschema.ValidationError) -> str:
    where = _key_path(error.absolute_path)
    if error.validator == "additionalProperties" and isinstance(error.instance, Mapping):
        allowed = sorted(error.schema.get("properties", {}))
        patterns = error.schema.get("patternProperties", {})
        unknown = sorted(
            key
            for key in error.instance
            if key not in allowed and not any(re.search(p, key) for p in patterns)
        )
        if allowed:
            return f"{where}: unknown key(s) {unknown} (allowed: {', '.join(allowed)})"
        return f"{where}: {error.message}"
    return f"{where}: {error.message}"


def validate_config(config: Mapping, schema: Mapping, source: str = "config") -> None:
    """Raise ConfigError naming every offending key path when ``config`` violates ``schema``."""
    validator = jsonschema.Draft202012Validator(schema)
    errors = sorted(validator.iter_errors(config), key=lambda e: list(map(str, e.absolute_path)))
    if errors:
        lines = "\n".join(f"  - {_describe(error)}" for error in errors)
        raise ConfigError(f"invalid configuration ({source}):\n{lines}")
