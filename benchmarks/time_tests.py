"""Wall time of `make test` (lint and the whole suite) on a fresh clone (`make bench-test`).

Clones the repository's committed HEAD into a temporary directory (a fresh clone: no results/,
no caches, no untracked files), runs `make test` there with this repository's virtual
environment (set-up excluded: the standing target is "under 10 minutes after set-up"), and
writes results/bench/test_suite.json: the wall time of the whole command, of lint and of
pytest, pytest's counts, the CPU seconds the machine spent meanwhile (all processes: the
SLURM jobs run outside the test's process tree), and the load before and after (other work on
the machine inflates the wall time). The SLURM module runs only when a cluster answers
(scripts/slurm/cluster.sh start); the record says whether it did.

    python benchmarks/time_tests.py [--out FILE] [--pytest-args ARGS]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TARGET_MIN = 10


def machine_cpu_seconds() -> float | None:
    """CPU seconds all processes of the machine spent so far (user, nice, system, irq,
    softirq in /proc/stat), or None off Linux."""
    try:
        fields = Path("/proc/stat").read_text().splitlines()[0].split()
    except OSError:
        return None
    user, nice, system, _idle, _iowait, irq, softirq = (int(v) for v in fields[1:8])
    return (user + nice + system + irq + softirq) / os.sysconf("SC_CLK_TCK")


def slurm_answers() -> bool:
    """Whether a SLURM controller answers here (else the SLURM tests skip)."""
    try:
        ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return "UP" in ping.stdout


def counts(output: str) -> dict[str, int]:
    """pytest's final counts (passed, failed, skipped, errors, ...) from its summary line."""
    lines = [line for line in output.splitlines() if re.match(r"^=+ .* in [\d.]+s", line)]
    if not lines:
        return {}
    found = re.findall(r"(\d+) (passed|failed|skipped|errors?|xfailed|xpassed)", lines[-1])
    return {name.rstrip("s") if name == "errors" else name: int(n) for n, name in found}


def head_commit() -> str:
    return subprocess.run(
        ["git", "rev-parse", "--short", "HEAD"], cwd=REPO, capture_output=True, text=True
    ).stdout.strip()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", default=str(REPO / "results" / "bench" / "test_suite.json"))
    parser.add_argument("--pytest-args", default=None, help="PYTEST_ARGS (default: Makefile's)")
    args = parser.parse_args()
    venv = REPO / ".venv"
    if not (venv / "bin" / "python").is_file():
        print(f"no virtual environment at {venv}: run `make venv` first", file=sys.stderr)
        return 2
    with tempfile.TemporaryDirectory(prefix="test-bench-") as tmp:
        clone = Path(tmp) / "repo"
        subprocess.run(["git", "clone", "--quiet", str(REPO), str(clone)], check=True)
        # this repository's environment, taken as built (-o: make does not rebuild it); lint
        # and pytest as two make calls, so that each has its own wall time
        make = ["make", "-o", f"{venv}/.installed-lock", f"VENV={venv}"]
        pytest_target = ["pytest"]
        if args.pytest_args is not None:
            pytest_target.append(f"PYTEST_ARGS={args.pytest_args}")
        # what was timed, without this machine's paths (the .venv is given as VENV=...)
        command = " ".join(["make test", *pytest_target[1:]])
        slurm = slurm_answers()
        load_before = os.getloadavg()[0]
        cpu_before = machine_cpu_seconds()
        output, times, returncode = [], [], 0
        for target in (["lint"], pytest_target):
            start = time.perf_counter()
            done = subprocess.run(
                make + target,
                cwd=clone,
                stdout=subprocess.PIPE,
                stderr=subprocess.STDOUT,
                text=True,
            )
            times.append(time.perf_counter() - start)
            print(done.stdout, end="", flush=True)
            output.append(done.stdout)
            returncode = returncode or done.returncode
            if done.returncode:
                break
        lint_s = times[0]
        wall = sum(times)
        cpu_after = machine_cpu_seconds()
    text = "".join(output)
    record = {
        "commit": head_commit(),
        "command": command,
        "returncode": returncode,
        "wall_s": round(wall, 1),
        "wall_min": round(wall / 60, 2),
        "target_min": TARGET_MIN,
        "lint_s": round(lint_s, 1),
        "pytest_s": round(times[1], 1) if len(times) > 1 else None,
        "pytest_counts": counts(text),
        "slurm_cluster_up": slurm,
        "machine_cpu_s": (
            round(cpu_after - cpu_before, 1)
            if cpu_before is not None and cpu_after is not None
            else None
        ),
        "cpu_count": os.cpu_count(),
        "machine": platform.machine(),
        # 2 cores: a load above 2 before the start means the suite shared the machine
        "load_average_before_after": [round(load_before, 2), round(os.getloadavg()[0], 2)],
    }
    out = Path(args.out)
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=2) + "\n")
    print(json.dumps(record, indent=2))
    return returncode


if __name__ == "__main__":
    sys.exit(main())
