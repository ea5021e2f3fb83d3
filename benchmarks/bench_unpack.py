"""Benchmark of the H5 -> Feather unpacking on a published-layout file of at least 2 GB.

Writes an electron file whose train ``et`` key alone is over 2 GB (uniform random ET, float32,
uncompressed like the published files) into a temporary directory, then unpacks that key in a
fresh subprocess with :func:`hepml.io.unpack_key` and records the subprocess's peak RSS
(getrusage) and throughput.  Side by side, a naive unpacking (the whole key read into memory,
then written) runs on the same file in another subprocess, as the ratio's reference.  The
streamed unpacking must stay under 1 GB of peak RSS whatever N is.  The file is read from the
page cache in both runs (it was just written), so the numbers measure the code, not the disk.
The temporary files are deleted at the end.

    python benchmarks/bench_unpack.py [--gigabytes 2.2] [--out results/bench/unpack.json]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import h5py
import numpy as np

REPO = Path(__file__).resolve().parents[1]
SCRIPTS = REPO / "scripts"
SEED = 20211
KEYS = ["et", "hl", "mass", "y"]  # the keys validated in every job (ht, ee, he left out for size)
RSS_LIMIT_MB = 1024.0
SMALL_SPLITS = {"valid": 1000, "test": 1000}

STREAMED = """
import json, resource, sys, time
from hepml import io
h5, out, keys = sys.argv[1], sys.argv[2], sys.argv[3].split(",")
start = time.perf_counter()
io.unpack_key(h5, "electrons", keys, "train", "et", out, seed=0)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

NAIVE = """
import json, resource, sys, time
import h5py
from hepml import io
h5, out = sys.argv[1], sys.argv[2]
start = time.perf_counter()
with h5py.File(h5, "r") as f:
    et = f["et/train"][:]
io.write_array(out, et)
seconds = time.perf_counter() - start
print(json.dumps({"seconds": seconds,
                  "peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""

IMPORTS_ONLY = """
import json, resource
import h5py, numpy, pyarrow
from hepml import io
print(json.dumps({"peak_rss_mb": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}))
"""


def write_published_file(path: Path, n_train: int, chunk: int = 16384) -> None:
    """Electron file in the published layout: et (N, 31, 31, 1) float32, hl, mass, y."""
    rng = np.random.default_rng(SEED)
    sizes = {"train": n_train, **SMALL_SPLITS}
    with h5py.File(path, "w") as h5:
        for split, n in sizes.items():
            et = h5.create_dataset(f"et/{split}", shape=(n, 31, 31, 1), dtype=np.float32)
            for start in range(0, n, chunk):
                stop = min(start + chunk, n)
                et[start:stop] = rng.random((stop - start, 31, 31, 1), dtype=np.float32)
                if split == "train" and (start // chunk) % 8 == 0:
                    print(f"  writing et/train: {stop} / {n} events", flush=True)
            h5[f"hl/{split}"] = rng.random((n, 7))
            h5[f"mass/{split}"] = rng.random((n, 1))
            h5[f"y/{split}"] = (np.arange(n) % 2).astype(np.float64)


def run_child(code: str, *args: str) -> dict:
    """Run ``code`` in a fresh interpreter with scripts/ on the path; its last line is JSON."""
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(SCRIPTS), env.get("PYTHONPATH")]))
    started = time.perf_counter()
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=False
    )
    if done.returncode != 0:
        raise RuntimeError(f"benchmark subprocess failed:\n{done.stderr[-3000:]}")
    result = json.loads(done.stdout.strip().splitlines()[-1])
    result["wall_seconds"] = time.perf_counter() - started
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--gigabytes", type=float, default=2.2, help="et/train size in GB")
    parser.add_argument("--out", type=Path, default=REPO / "results" / "bench" / "unpack.json")
    parser.add_argument("--no-naive", action="store_true", help="skip the in-memory reference")
    args = parser.parse_args()

    event_bytes = 31 * 31 * 4
    n_train = int(args.gigabytes * 1e9 / event_bytes) + 1
    with tempfile.TemporaryDirectory(prefix="bench_unpack_") as tmp:
        tmp = Path(tmp)
        h5_path = tmp / "unscaled_data.h5"
        print(f"writing {h5_path} with {n_train} train events ...", flush=True)
        started = time.perf_counter()
        write_published_file(h5_path, n_train)
        file_bytes = h5_path.stat().st_size
        print(f"  {file_bytes / 1e9:.2f} GB in {time.perf_counter() - started:.0f} s", flush=True)

        imports = run_child(IMPORTS_ONLY)
        streamed_out = tmp / "streamed" / "et.feather"
        streamed = run_child(STREAMED, str(h5_path), str(streamed_out), ",".join(KEYS))
        children_rss_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"streamed: {streamed}", flush=True)

        # correctness spot check: a few rows against the source
        sys.path.insert(0, str(SCRIPTS))
        from hepml import io

        unpacked = io.read_array(streamed_out)
        rows = np.array([0, n_train // 2, n_train - 1])
        with h5py.File(h5_path, "r") as h5:
            identical = bool(np.array_equal(unpacked[rows], h5["et/train"][rows]))
        key_bytes = unpacked.nbytes
        del unpacked
        streamed_out.unlink()

        naive = None
        if not args.no_naive:
            naive = run_child(NAIVE, str(h5_path), str(tmp / "naive" / "et.feather"))
            print(f"naive: {naive}", flush=True)

    mb = key_bytes / 1e6
    result = {
        "benchmark": "unpack_h5 of the biggest key (et, train) of a published-layout file",
        "file_bytes": file_bytes,
        "key": "et",
        "n_events": n_train,
        "key_bytes": key_bytes,
        "chunk_events": io.CHUNK_EVENTS,
        "streamed": {
            "seconds": round(streamed["seconds"], 2),
            "mb_per_s": round(mb / streamed["seconds"], 1),
            "peak_rss_mb": round(streamed["peak_rss_mb"], 1),
            "peak_rss_mb_getrusage_children": round(children_rss_mb, 1),
        },
        "imports_only_peak_rss_mb": round(imports["peak_rss_mb"], 1),
        "rss_limit_mb": RSS_LIMIT_MB,
        "rss_within_limit": streamed["peak_rss_mb"] < RSS_LIMIT_MB,
        "output_identical_spot_check": identical,
        "page_cache": "warm (file just written)",
        "machine": {
            "cpus": os.cpu_count(),
            "platform": platform.platform(),
            "python": platform.python_version(),
        },
    }
    if naive is not None:
        result["naive_in_memory"] = {
            "seconds": round(naive["seconds"], 2),
            "mb_per_s": round(mb / naive["seconds"], 1),
            "peak_rss_mb": round(naive["peak_rss_mb"], 1),
        }
        result["ratios_streamed_over_naive"] = {
            "throughput": round(naive["seconds"] / streamed["seconds"], 3),
            "peak_rss": round(streamed["peak_rss_mb"] / naive["peak_rss_mb"], 4),
        }
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    print(json.dumps(result, indent=2))
    if not result["rss_within_limit"]:
        sys.exit(f"peak RSS {streamed['peak_rss_mb']:.0f} MB exceeds {RSS_LIMIT_MB:.0f} MB")


if __name__ == "__main__":
    main()
