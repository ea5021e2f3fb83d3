"""Run every benchmark (`make bench`) and collect their JSON outputs under results/bench/.

Each benchmarks/bench_*.py is a standalone script writing results/bench/<name>.json. They run
one after another (never in parallel, so the timings do not disturb each other); a failing
benchmark is reported and the others still run. The summary goes to results/bench/summary.json.
"""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
OUT = REPO / "results" / "bench"


def main(names: list[str]) -> int:
    OUT.mkdir(parents=True, exist_ok=True)
    scripts = sorted((REPO / "benchmarks").glob("bench_*.py"))
    if names:
        scripts = [s for s in scripts if s.stem.removeprefix("bench_") in names]
    summary, failed = {}, []
    for script in scripts:
        print(f"== {script.name}", flush=True)
        start = time.perf_counter()
        result = subprocess.run([sys.executable, str(script)], cwd=REPO)
        summary[script.stem] = {
            "returncode": result.returncode,
            "wall_s": round(time.perf_counter() - start, 2),
        }
        if result.returncode != 0:
            failed.append(script.name)
    for path in sorted(OUT.glob("*.json")):
        if path.name != "summary.json":
            summary.setdefault("results", {})[path.stem] = json.loads(path.read_text())
    (OUT / "summary.json").write_text(json.dumps(summary, indent=2) + "\n")
    if failed:
        print(f"failed benchmarks: {failed}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
