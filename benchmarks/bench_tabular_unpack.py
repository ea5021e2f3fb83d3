"""Benchmark of the tabular unpacking (rule unpack_table) on a file in the UCI HIGGS layout.

Writes N synthetic rows (default 11,000,000, the published file's size) in the UCI layout (no
header, label column 0, 28 feature columns; gzip-compressed CSV as ``HIGGS.csv.gz``, level 1
for a quick write) into a temporary directory, then reads the same file, each in a fresh
subprocess, with:

- ``hepml.io.tabular.unpack_table`` (the workflow's streaming unpack: checks, split, Feather);
- ``pyarrow.csv.read_csv`` (the whole table into memory, multi-threaded parser);
- ``pandas.read_csv`` (the whole table into memory, C parser);

and records for each the wall time, the CPU time (user + system, getrusage of the child) and
the peak RSS (ru_maxrss of the child). The streamed unpack must stay under 2 GB of peak RSS
(issue 20). The synthetic values are random (labels 0/1 in equal parts, normal features
written with float32 precision), so the numbers measure parsing and writing, not physics.
The file is read from the page cache (it was just written). Temporary files are deleted.

    python benchmarks/bench_tabular_unpack.py [--rows 11000000]
        [--out results/bench/tabular_unpack.json]
"""

from __future__ import annotations

import argparse
import gzip
import json
import os
import platform
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pyarrow as pa
from bench_unpack import run_child  # benchmarks/ is the script's directory
from pyarrow import csv

REPO = Path(__file__).resolve().parents[1]
SEED = 20140
RSS_LIMIT_MB = 2048.0
WRITE_BLOCK_ROWS = 250_000
N_FEATURES = 28

_MEASURE = """
import json, resource, sys, time
start = time.perf_counter()
{body}
seconds = time.perf_counter() - start
usage = resource.getrusage(resource.RUSAGE_SELF)
print(json.dumps({{"seconds": seconds, "cpu_seconds": usage.ru_utime + usage.ru_stime,
                  "peak_rss_mb": usage.ru_maxrss / 1024, "rows": rows}}))
"""

READERS = {
    "streamed_unpack": """
from hepml.io.tabular import KEYS, TableSpec, unpack_table
path, out = sys.argv[1], sys.argv[2]
outputs = {s: {k: f"{out}/{s}/{k}.feather" for k in KEYS} for s in ("train", "valid", "test")}
sizes = unpack_table(path, TableSpec(), outputs, seed=1)
rows = sum(sizes.values())
""",
    "pyarrow_read_csv": """
from pyarrow import csv
table = csv.read_csv(sys.argv[1], read_options=csv.ReadOptions(autogenerate_column_names=True))
rows = table.num_rows
""",
    "pandas_read_csv": """
import pandas as pd
frame = pd.read_csv(sys.argv[1], header=None)
rows = len(frame)
""",
}


def write_uci_file(path: Path, rows: int) -> None:
    """``rows`` random rows in the UCI layout, gzip-compressed CSV, written in blocks."""
    rng = np.random.default_rng(SEED)
    names = ["label", *(f"f{i}" for i in range(1, N_FEATURES + 1))]
    options = csv.WriteOptions(include_header=False)
    with gzip.open(path, "wb", compresslevel=1) as stream:
        writer = None
        for start in range(0, rows, WRITE_BLOCK_ROWS):
            n = min(WRITE_BLOCK_ROWS, rows - start)
            label = (rng.random(n) < 0.5).astype(np.float32)
            columns = [pa.array(label)] + [
                pa.array(rng.standard_normal(n, dtype=np.float32)) for _ in range(N_FEATURES)
            ]
            batch = pa.record_batch(columns, names=names)
            if writer is None:
                writer = csv.CSVWriter(stream, batch.schema, write_options=options)
            writer.write_batch(batch)
            if (start // WRITE_BLOCK_ROWS) % 8 == 0:
                print(f"  writing: {start + n} / {rows} rows", flush=True)
        writer.close()


def run_reader(body: str, *args: str) -> dict:
    """One reader in a fresh interpreter (bench_unpack.run_child), timed by _MEASURE."""
    return run_child(_MEASURE.format(body=body), *args)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--rows", type=int, default=11_000_000, help="rows of the file")
    parser.add_argument(
        "--out", type=Path, default=REPO / "results" / "bench" / "tabular_unpack.json"
    )
    parser.add_argument("--workdir", type=Path, default=None, help="where the file is written")
    args = parser.parse_args()
    if args.rows <= 500_000:
        parser.error("--rows must exceed 500,000 (the UCI test split is the last 500,000)")

    results = {}
    with tempfile.TemporaryDirectory(prefix="bench_tabular_", dir=args.workdir) as tmp:
        tmp = Path(tmp)
        path = tmp / "HIGGS.csv.gz"
        print(f"writing {path} with {args.rows} rows ...", flush=True)
        started = time.perf_counter()
        write_uci_file(path, args.rows)
        write_seconds = time.perf_counter() - started
        file_bytes = path.stat().st_size
        print(f"  {file_bytes / 1e9:.2f} GB in {write_seconds:.0f} s", flush=True)
        for name, body in READERS.items():
            print(f"{name} ...", flush=True)
            results[name] = run_reader(body, str(path), str(tmp / "unpacked"))
            print(f"  {results[name]}", flush=True)
            if results[name]["rows"] != args.rows:
                raise RuntimeError(f"{name} read {results[name]['rows']} rows, not {args.rows}")

    streamed = results["streamed_unpack"]
    result = {
        "benchmark": "unpack_table (streamed, checked, split, Feather) vs pyarrow.csv.read_csv "
        "and pandas.read_csv on one gzip CSV in the UCI HIGGS layout",
        "rows": args.rows,
        "columns": 1 + N_FEATURES,
        "file_bytes": file_bytes,
        "write_seconds": round(write_seconds, 1),
        "readers": {
            name: {
                "wall_seconds": round(r["wall_seconds"], 2),
                "seconds_in_reader": round(r["seconds"], 2),
                "cpu_seconds": round(r["cpu_seconds"], 2),
                "rows_per_s": round(args.rows / r["seconds"]),
                "peak_rss_mb": round(r["peak_rss_mb"], 1),
            }
            for name, r in results.items()
        },
        "rss_limit_mb": RSS_LIMIT_MB,
        "rss_within_limit": streamed["peak_rss_mb"] < RSS_LIMIT_MB,
        "page_cache": "warm (file just written)",
        "machine": {
            "cpus": os.cpu_count(),
            "load_average_at_end": os.getloadavg(),
            "platform": platform.platform(),
            "python": platform.python_version(),
            "pyarrow": pa.__version__,
        },
    }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if not result["rss_within_limit"]:
        sys.exit(f"peak RSS {streamed['peak_rss_mb']:.0f} MB exceeds {RSS_LIMIT_MB:.0f} MB")


if __name__ == "__main__":
    main()
