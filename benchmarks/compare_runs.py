"""Compare every output of two workflow runs: the check that a restructure changed no result.

Walks two results/ folders and compares each file present in both by its content, not its
bytes: Feather tables column by column, npz archives array by array, JSON and CSV with the
fields that measure the machine rather than the result (wall and CPU times, samples/s, device,
commit, dates) left out, text files line by line. Figures and saved models are skipped: their
bytes carry timestamps, and the scores and metrics they produce are compared instead.

    python benchmarks/compare_runs.py BEFORE/results AFTER/results [--json out.json]

Prints one line per differing file (with the largest absolute difference where numeric) and a
summary; exits 1 when any compared file differs.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

import numpy as np

# Fields that measure the run, not the result.
VOLATILE = re.compile(
    r"(time|_s$|seconds|per_s|samples_per_s|device|commit|date|host|threads|"
    r"load_average|version|^code$|elapsed|duration|peak|rss|fingerprint)",
    re.IGNORECASE,
)
SKIPPED_SUFFIXES = {".png", ".svg", ".pdf", ".keras", ".h5", ".html", ".log", ".tsv", ".lgb"}
SKIPPED_DIRS = {"benchmarks", "checkpoints", "bench"}


def strip_volatile(value: object) -> object:
    if isinstance(value, dict):
        return {k: strip_volatile(v) for k, v in value.items() if not VOLATILE.search(str(k))}
    if isinstance(value, list):
        return [strip_volatile(v) for v in value]
    return value


def key_changes(a: object, b: object, prefix: str = "") -> tuple[list[str], list[str]]:
    """Dotted key paths only in b (added) and only in a (removed), through nested dicts."""
    added, removed = [], []
    if isinstance(a, dict) and isinstance(b, dict):
        added += [f"{prefix}{k}" for k in b.keys() - a.keys()]
        removed += [f"{prefix}{k}" for k in a.keys() - b.keys()]
        for k in a.keys() & b.keys():
            more_added, more_removed = key_changes(a[k], b[k], f"{prefix}{k}.")
            added += more_added
            removed += more_removed
    return sorted(added), sorted(removed)


def differing_keys(a: object, b: object, prefix: str = "") -> list[str]:
    """Dotted paths of the leaves where two JSON values of the same keys differ."""
    if isinstance(a, dict) and isinstance(b, dict):
        return [p for k in a if k in b for p in differing_keys(a[k], b[k], f"{prefix}{k}.")]
    return [] if a == b else [prefix.rstrip(".") or "(top)"]


def common_part(a: object, b: object) -> object:
    """a restricted to the dict keys that b has too, at every depth (lists element-wise)."""
    if isinstance(a, dict) and isinstance(b, dict):
        return {k: common_part(a[k], b[k]) for k in a if k in b}
    if isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        return [common_part(x, y) for x, y in zip(a, b, strict=True)]
    return a


def max_difference(a: object, b: object) -> float | None:
    """Largest absolute difference between two numeric JSON values of the same shape."""
    if isinstance(a, (int, float)) and isinstance(b, (int, float)):
        return abs(float(a) - float(b))
    if isinstance(a, dict) and isinstance(b, dict) and a.keys() == b.keys():
        diffs = [max_difference(a[k], b[k]) for k in a]
    elif isinstance(a, list) and isinstance(b, list) and len(a) == len(b):
        diffs = [max_difference(x, y) for x, y in zip(a, b, strict=True)]
    else:
        return None
    numeric = [d for d in diffs if d is not None]
    return max(numeric) if len(numeric) == len(diffs) and numeric else (0.0 if not diffs else None)


def compare_arrays(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> tuple[bool, str]:
    if a.keys() != b.keys():
        return False, f"columns differ: {sorted(set(a) ^ set(b))}"
    worst = 0.0
    for key in a:
        x, y = np.asarray(a[key]), np.asarray(b[key])
        if x.shape != y.shape:
            return False, f"{key}: shape {x.shape} vs {y.shape}"
        if x.dtype.kind in "fiub" and y.dtype.kind in "fiub":
            if not np.array_equal(x, y, equal_nan=x.dtype.kind == "f"):
                worst = max(worst, float(np.nanmax(np.abs(x.astype(float) - y.astype(float)))))
        elif [str(v) for v in x.ravel()] != [str(v) for v in y.ravel()]:  # text; nan == nan
            return False, f"{key}: values differ"
    return worst == 0.0, f"max abs difference {worst:.3g}" if worst else ""


def feather_arrays(path: Path) -> dict[str, np.ndarray]:
    import pyarrow.feather as feather

    table = feather.read_table(path)
    return {
        name: np.asarray(table.column(name).combine_chunks().to_numpy(zero_copy_only=False))
        if not hasattr(table.column(name).type, "value_type")
        else np.asarray(table.column(name).to_pylist(), dtype=object)
        for name in table.column_names
        if not VOLATILE.search(name)
    }


def csv_arrays(path: Path) -> dict[str, np.ndarray]:
    import pandas as pd

    frame = pd.read_csv(path)
    return {c: frame[c].to_numpy() for c in frame.columns if not VOLATILE.search(str(c))}


def compare_file(a: Path, b: Path) -> tuple[bool, str] | None:
    """(same, detail) of two files of one kind; None when the kind is not compared."""
    suffix = a.suffix
    if suffix in SKIPPED_SUFFIXES:
        return None
    if suffix == ".feather":
        return compare_arrays(feather_arrays(a), feather_arrays(b))
    if suffix == ".npz":
        with np.load(a) as x, np.load(b) as y:
            return compare_arrays(dict(x), dict(y))
    if suffix == ".csv":
        return compare_arrays(csv_arrays(a), csv_arrays(b))
    if suffix == ".json":
        x = strip_volatile(json.loads(a.read_text()))
        y = strip_volatile(json.loads(b.read_text()))
        if x == y:
            return True, ""
        added, removed = key_changes(x, y)
        x, y = common_part(x, y), common_part(y, x)
        if x == y:  # the shared keys agree: only keys were added or removed
            return True, f"same values; keys added {added}, removed {removed}"
        diff = max_difference(x, y)
        if diff is not None:
            return False, f"max abs difference {diff:.3g}"
        return False, f"values differ at {differing_keys(x, y)}"
    if suffix in {".txt", ".md", ".yaml"}:
        if suffix == ".md":  # tables carry timing columns: their CSV twins are compared
            return None
        return a.read_bytes() == b.read_bytes(), ""
    return a.read_bytes() == b.read_bytes(), ""


def compare_runs(before: Path, after: Path) -> dict:
    def files(root: Path) -> set[Path]:
        return {
            p.relative_to(root)
            for p in root.rglob("*")
            if p.is_file() and not SKIPPED_DIRS & set(p.relative_to(root).parts)
        }

    a, b = files(before), files(after)
    report = {"same": [], "different": {}, "skipped": [], "only_before": [], "only_after": []}
    for rel in sorted(a & b):
        outcome = compare_file(before / rel, after / rel)
        if outcome is None:
            report["skipped"].append(str(rel))
        elif outcome[0]:
            report["same"].append(str(rel))
            if outcome[1]:
                report.setdefault("same_with_new_keys", {})[str(rel)] = outcome[1]
        else:
            report["different"][str(rel)] = outcome[1]
    report["only_before"] = sorted(map(str, a - b))
    report["only_after"] = sorted(map(str, b - a))
    return report


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("before", type=Path)
    parser.add_argument("after", type=Path)
    parser.add_argument("--json", type=Path)
    args = parser.parse_args()
    report = compare_runs(args.before, args.after)
    for rel, detail in report["different"].items():
        print(f"DIFFERENT {rel}: {detail}")
    for key in ("only_before", "only_after"):
        for rel in report[key]:
            print(f"{key.upper()} {rel}")
    print(
        f"{len(report['same'])} same, {len(report['different'])} different, "
        f"{len(report['skipped'])} skipped (figures, models, markdown), "
        f"{len(report['only_before'])} only before, {len(report['only_after'])} only after"
    )
    if args.json:
        args.json.write_text(json.dumps(report, indent=2) + "\n")
    sys.exit(1 if report["different"] else 0)


if __name__ == "__main__":
    main()
