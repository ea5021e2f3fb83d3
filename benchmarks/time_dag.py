"""Wall time of the whole default DAG from scratch (`make bench-dag`).

Copies the tracked files of the repository into a temporary directory (so the user's results/
are untouched), runs `snakemake --cores N` there with the project's Python, and writes
results/bench/dag.json: wall seconds, number of jobs, the configuration used, and the summed
per-rule times from the rules' benchmark files. Standing target: under 15 minutes on 2 cores.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parents[1]


def tracked_files() -> list[str]:
    listing = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    )
    return [line for line in listing.stdout.splitlines() if (REPO / line).is_file()]


def rule_cpu_seconds(workdir: Path) -> float:
    """CPU seconds of every job with a benchmark file (plots have none): a load-independent
    measure of the work, next to the wall time."""
    return round(
        sum(
            float(pd.to_numeric(pd.read_csv(path, sep="\t")["cpu_time"], errors="coerce").sum())
            for path in (workdir / "results" / "benchmarks").rglob("*.tsv")
        ),
        1,
    )


def benchmark_rule(relative: Path) -> tuple[str, str]:
    """(dataset, rule) of a benchmark file, given its path under results/benchmarks/:
    {dataset}/{rule}.tsv, {dataset}/{rule}/...tsv, or {dataset}/guided/{scan}/{rule}/...tsv."""
    parts = relative.parts
    if parts[1] == "guided" and len(parts) > 3:
        return parts[0], parts[3]
    return parts[0], parts[1] if len(parts) > 2 else Path(parts[1]).stem


def rule_times(workdir: Path) -> dict[str, float]:
    """Sum of wall seconds per rule from the rules' benchmark files."""
    totals: dict[str, float] = {}
    for path in (workdir / "results" / "benchmarks").rglob("*.tsv"):
        _, rule = benchmark_rule(path.relative_to(workdir / "results" / "benchmarks"))
        totals[rule] = totals.get(rule, 0.0) + float(pd.read_csv(path, sep="\t")["s"].sum())
    return {rule: round(seconds, 1) for rule, seconds in sorted(totals.items())}


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--cores", type=int, default=8)
    parser.add_argument("--configfile", default=None)
    parser.add_argument("--out", default=str(REPO / "results" / "bench" / "dag.json"))
    parser.add_argument("--keep", default=None, help="run in this new directory and keep it")
    args = parser.parse_args()
    if args.keep:
        Path(args.keep).mkdir(parents=True, exist_ok=False)
    with tempfile.TemporaryDirectory(prefix="dag-bench-") as tmp:
        work = Path(args.keep or tmp)
        for name in tracked_files():
            (work / name).parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(REPO / name, work / name)
        command = [sys.executable, "-m", "snakemake", "--cores", str(args.cores), "--quiet"]
        if args.configfile:
            command += ["--configfile", args.configfile]
        load_before = os.getloadavg()[0]
        start = time.perf_counter()
        result = subprocess.run(command, cwd=work, env=os.environ.copy())
        wall = time.perf_counter() - start
        record = {
            "wall_s": round(wall, 1),
            "wall_min": round(wall / 60, 2),
            "target_min": 15,
            "returncode": result.returncode,
            "cores_requested": args.cores,
            "cpu_count": os.cpu_count(),
            "machine": platform.machine(),
            "configfile": args.configfile or "config/config.yaml",
            "jobs_by_rule_s": rule_times(work),
            "jobs_cpu_s": rule_cpu_seconds(work),
            # other work on the machine inflates the wall time: the 1-minute load average
            # before and after the run (2 cores: a load above 2 means the run shared them)
            "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
        }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return result.returncode


if __name__ == "__main__":
    sys.exit(main())
