"""docs/benchmarks.md from the benchmark JSON files the project keeps (`make bench-doc`).

No benchmark figure is typed into README or docs: the benchmarks write JSON under
results/bench/ (`make bench*`), `make bench-doc` copies the ones present into
benchmarks/measured/ (committed, each stamped with the commit and date it was kept at, in
benchmarks/measured/MANIFEST.json) and renders every kept file, plus the paper-scale peaks of
benchmarks/paper_peaks.json, into docs/benchmarks.md. Known files get a table of their own;
any other JSON is shown as the list of its numeric entries, so a new benchmark appears
without a change here.

    python benchmarks/write_doc.py [--keep] [--measured DIR] [--out FILE]
"""

from __future__ import annotations

import argparse
import datetime
import json
import shutil
import subprocess
from collections.abc import Callable, Iterator
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
MEASURED = REPO / "benchmarks" / "measured"
PEAKS = REPO / "benchmarks" / "paper_peaks.json"
BENCH = REPO / "results" / "bench"
OUT = REPO / "docs" / "benchmarks.md"
# results/bench files that are not benchmark figures of their own (run_all's exit codes).
SKIPPED = {"summary.json"}
GENERIC_ROWS = 80


def git_commit() -> str:
    """The checkout's commit, with `-dirty` when tracked files differ from it."""
    try:
        commit = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
        ).stdout.strip()
        dirty = subprocess.run(
            ["git", "status", "--porcelain", "--untracked-files=no"],
            cwd=REPO,
            capture_output=True,
            text=True,
        ).stdout.strip()
    except OSError:
        return "unknown"
    return f"{commit}-dirty" if dirty else commit or "unknown"


def keep(bench: Path, measured: Path) -> list[str]:
    """Copy every new or changed JSON of ``bench`` into ``measured`` and stamp it (commit,
    date) in MANIFEST.json; an unchanged file keeps its stamp."""
    measured.mkdir(parents=True, exist_ok=True)
    manifest_path = measured / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    kept = []
    stamp = {"commit": git_commit(), "kept": datetime.date.today().isoformat()}
    for source in sorted(bench.glob("*.json")):
        if source.name in SKIPPED:
            continue
        json.loads(source.read_text())  # refuse to keep a file that is not JSON
        target = measured / source.name
        if target.is_file() and target.read_bytes() == source.read_bytes():
            continue  # the same measurement: its stamp stays the one it was kept with
        shutil.copyfile(source, target)
        manifest[source.name] = stamp
        kept.append(source.name)
    manifest_path.write_text(json.dumps(manifest, indent=2, sort_keys=True) + "\n")
    return kept


def table(header: list[str], rows: list[list[object]]) -> list[str]:
    """A markdown table."""
    lines = ["| " + " | ".join(header) + " |", "|" + "---|" * len(header)]
    lines += ["| " + " | ".join(cell(value) for value in row) + " |" for row in rows]
    return lines


def cell(value: object) -> str:
    """A number with three significant digits (integers as they are), anything else as text."""
    if isinstance(value, bool) or value is None:
        return str(value)
    if isinstance(value, int):
        return f"{value:,}"
    if isinstance(value, float):
        return f"{value:.3g}" if abs(value) < 1e3 else f"{value:,.0f}"
    return str(value)


def render_peaks(data: dict) -> list[str]:
    rows = [
        [axis, dataset, rule, peak]
        for axis, datasets in sorted(data["axes"].items())
        for dataset, rules in sorted(datasets.items())
        for rule, peak in sorted(rules.items(), key=lambda item: -item[1])
    ]
    return [data.get("about", ""), "", *table(["axis", "dataset", "rule", "peak RSS (MB)"], rows)]


def render_efp_engine(data: dict) -> list[str]:
    rows = []
    for name, case in data["cases"].items():
        for selection, row in case["selections"].items():
            rows.append(
                [
                    name,
                    case["pixels"],
                    selection,
                    row["engine_events_per_s"],
                    row["energyflow_events_per_s"]
                    if row["energyflow_measured"]
                    else f"{cell(row['energyflow_events_per_s'])} (extrapolated)",
                    f"{row['ratio_energyflow']:.0f}x",
                    f"{row['target_ratio_energyflow']:g}x",
                    f"{row['ratio_baseline']:.1f}x",
                    row["max_relative_deviation_energyflow"],
                ]
            )
    header = [
        "images",
        "pixels",
        "graphs",
        "engine (events/s)",
        "energyflow (events/s)",
        "ratio",
        "target",
        "vs engine without fast paths",
        "max rel. deviation",
    ]
    lines = [data.get("timing", ""), "", *table(header, rows)]
    grid = data.get("paper_grid_cpu")
    if grid:
        lines += [
            "",
            f"The paper grid on the CPU ({grid['graphs']} graphs, {grid['pairs']} (kappa, beta) "
            f"pairs, {grid['events']:,} events, both calorimeters): CPU seconds per event and "
            "pair by occupancy, and the CPU-hours of the whole grid by ECal + HCal occupancy.",
            "",
            *table(
                ["case", "s per event per pair"],
                [[k, v["seconds_per_event_one_pair"]] for k, v in grid["per_case"].items()],
            ),
            "",
            *table(
                ["ECal + HCal occupancy", "CPU-hours"],
                [[k, v] for k, v in grid["cpu_hours_by_occupancy"].items()],
            ),
        ]
    if data.get("failed"):
        lines += ["", f"Targets missed: {', '.join(data['failed'])}."]
    return lines


def render_training(data: dict) -> list[str]:
    rows = [
        [
            row["dataset"],
            row["feature_set"],
            row["model"],
            row["parameters"],
            row["samples_per_s"],
            row["hours_per_epoch"],
        ]
        for row in data["feature_sets"]
    ]
    about = (
        f"{data.get('benchmark', '')}: device {data.get('device')}, threads "
        f"{data.get('threads')}, batch {data.get('batch_size')}, mixed precision "
        f"{data.get('mixed_precision')}."
    )
    header = ["dataset", "feature set", "model", "parameters", "samples/s", "h per epoch"]
    return [about, "", *table(header, rows)]


def render_generate(data: dict) -> list[str]:
    rows = []
    for name, entry in data["datasets"].items():
        for label in ("signal", "background"):
            if label in entry:
                rates = entry[label]
                rows.append([name, label, rates["pythia_events_per_s"], rates["candidates_per_s"]])
    header = ["dataset", "class", "Pythia events/s", "accepted candidates/s"]
    return [
        f"Rates {data.get('rates', '')}; config {data.get('config')}.",
        "",
        *table(header, rows),
    ]


def numeric_leaves(data: object, prefix: str = "") -> Iterator[tuple[str, object]]:
    """(dotted key path, value) of every number, boolean or short string of a JSON value."""
    if isinstance(data, dict):
        for key, value in data.items():
            yield from numeric_leaves(value, f"{prefix}.{key}" if prefix else str(key))
    elif isinstance(data, list):
        for index, value in enumerate(data):
            yield from numeric_leaves(value, f"{prefix}[{index}]")
    elif isinstance(data, (int, float)) or (isinstance(data, str) and len(data) <= 60):
        yield prefix, data


def render_generic(data: dict) -> list[str]:
    rows = [[f"`{path}`", value] for path, value in numeric_leaves(data)]
    lines = table(["entry", "value"], rows[:GENERIC_ROWS])
    if len(rows) > GENERIC_ROWS:
        lines += ["", f"({len(rows) - GENERIC_ROWS} more entries in the JSON file.)"]
    return lines


def render_test_suite(data: dict) -> list[str]:
    counts = ", ".join(f"{n} {name}" for name, n in data.get("pytest_counts", {}).items())
    rows = [
        ["make test (lint and the whole suite)", data.get("wall_min"), data.get("target_min")],
        ["lint", round(data["lint_s"] / 60, 2) if data.get("lint_s") else "not recorded", ""],
        ["pytest", round(data["pytest_s"] / 60, 2) if data.get("pytest_s") else "not recorded", ""],
    ]
    return [
        f"`{data.get('command')}` on a fresh clone of commit {data.get('commit')} (set-up "
        f"excluded), {data.get('cpu_count')} CPUs, exit code {data.get('returncode')}: {counts}; "
        f"SLURM cluster up: {data.get('slurm_cluster_up')}; CPU seconds of the whole machine "
        f"meanwhile: {data.get('machine_cpu_s')}; load average before and after: "
        f"{data.get('load_average_before_after')}.",
        "",
        *table(["step", "minutes", "target (minutes)"], rows),
    ]


def render_dag(data: dict) -> list[str]:
    rows = [[rule, seconds] for rule, seconds in data.get("jobs_by_rule_s", {}).items()]
    return [
        f"`snakemake --cores {data.get('cores_requested')}` of {data.get('configfile')} from "
        f"scratch on {data.get('cpu_count')} CPUs: **{data.get('wall_min')} min** (target "
        f"{data.get('target_min')}), exit code {data.get('returncode')}, "
        f"{data.get('jobs_cpu_s')} CPU-s of jobs; load average before and after: "
        f"{data.get('load_average_before_after')}. Wall seconds per rule, summed over its jobs:",
        "",
        *table(["rule", "seconds"], rows),
    ]


RENDERERS: dict[str, tuple[str, Callable[[dict], list[str]]]] = {
    "test_suite.json": ("make test on a fresh clone", render_test_suite),
    "dag.json": ("The default workflow from scratch", render_dag),
    "efp_engine.json": ("EFP engine against energyflow", render_efp_engine),
    "training_paper.json": ("Training throughput at the paper's sizes", render_training),
    "generate.json": ("Pythia 8 generation rates", render_generate),
}


def render(measured: Path, peaks: Path) -> str:
    """The whole document."""
    manifest_path = measured / "MANIFEST.json"
    manifest = json.loads(manifest_path.read_text()) if manifest_path.is_file() else {}
    lines = [
        "# Benchmarks",
        "",
        "Written by `make bench-doc` (benchmarks/write_doc.py) from the JSON files in",
        "benchmarks/measured/, which the benchmarks wrote (`make bench*`, see Makefile); nothing",
        "here is typed by hand. Each section names its file and the commit it was kept at.",
        "",
    ]
    for path in sorted(measured.glob("*.json")):
        if path.name == "MANIFEST.json":
            continue
        title, renderer = RENDERERS.get(path.name, (path.stem.replace("_", " "), render_generic))
        stamp = manifest.get(path.name, {})
        lines += [
            f"## {title}",
            "",
            f"`benchmarks/measured/{path.name}`, kept at commit {stamp.get('commit', '?')} on "
            f"{stamp.get('kept', '?')}.",
            "",
            *renderer(json.loads(path.read_text())),
            "",
        ]
    if peaks.is_file():
        lines += [
            "## Paper-scale rehearsal: peak memory per rule",
            "",
            "`benchmarks/paper_peaks.json` (written by `make bench-paper`; every `mem_mb` of",
            "profiles/slurm/config.yaml is its peak x 1.5, tests/test_memory_requests.py).",
            "",
            *render_peaks(json.loads(peaks.read_text())),
            "",
        ]
    return "\n".join(lines).rstrip() + "\n"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", action="store_true", help="copy results/bench/*.json first")
    parser.add_argument("--bench", type=Path, default=BENCH)
    parser.add_argument("--measured", type=Path, default=MEASURED)
    parser.add_argument("--peaks", type=Path, default=PEAKS)
    parser.add_argument("--out", type=Path, default=OUT)
    args = parser.parse_args()
    if args.keep and args.bench.is_dir():
        print("kept:", ", ".join(keep(args.bench, args.measured)) or "nothing")
    args.measured.mkdir(parents=True, exist_ok=True)
    args.out.write_text(render(args.measured, args.peaks))
    print(f"wrote {args.out}")


if __name__ == "__main__":
    main()
