"""Paper-scale rehearsal (`make bench-paper`): the real rules of config/paper.yaml on this machine.

Three axes, each a real `snakemake` run of the workflow in its own directory under
results/bench/paper/ (the user's results/ are untouched), on data the built-in simulators write
in the published layout:

- length: every event at the published sizes (214,884 electron candidates; 200,000 muons, the
  size config/paper.yaml simulates, since the muon paper does not state its file's) with a
  small EFP grid: unpacking, EFPs, duplicates, single-EFP AUCs, the BDTs and DNNs at the paper's
  hyper-parameters, one CNN per analysis, evaluation with the paper's 1,000 bootstrap
  resamples and a guided scan;
- width: the whole paper EFP grid (509 graphs x 5 kappas x 3 betas x ECal and HCal = 15,270
  EFPs) on a few thousand electron candidates: EFPs, duplicates, single-EFP AUCs and the guided
  search ranking every one of the 15,270 candidates on the paper's 10^6 pairs;
- jets: the top-tagging benchmark's sizes (1.2 M train, 400 k valid, 400 k test jets; scaled
  by --jets-scale, 1 by default) of synthetic jets in the benchmark's layout
  (benchmarks/synthetic_jets.py, written in row blocks, no Pythia) through every jets rule of
  config/jets.yaml: unpack_jets, the pictures, EFPs of the jet images on a small grid, the CNN
  (shrunk like the length axis'), the DNNs, the BDT and the linear EFP model (1 epoch each; PFN
  and EFN not trained), scores, metrics, tables, one guided pass, and tune_model with a tiny
  budget (2 trials of at most 50 batches) on the hl feature set.

Deviations from the paper configuration, so that the rehearsal ends in minutes rather than
days (each is written into the JSON): one epoch per network; the CNNs of the length axis have
one conv block of 8 filters (their memory is the data's; the paper network adds its weights and
one batch of activations); PFN/EFN are not trained (their samples/s are measured by
benchmarks/bench_training_paper.py with the paper's sizes); fewer EFP chunks.

Per rule it records the wall time and the peak RSS from Snakemake's benchmark files (max_rss),
and for compute_efps the events/s per core at the measured image occupancy (non-zero pixels),
extrapolated to the CPU-hours of the paper grid on all 214,884 events. Writes
results/bench/paper.json and prints the README table. Memory target: 2 GB per job.

The collect step also writes benchmarks/paper_peaks.json (tracked in git): the largest peak
RSS of every rule per axis and dataset, from which every `mem_mb` of profiles/slurm/config.yaml
is derived (`memory_request`; tests/test_workflow.py checks the profile against it).
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import yaml

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))

from hepml import io  # noqa: E402
from hepml.efp.settings import EFPSettings  # noqa: E402
from hepml.efp.table import chunk_bounds, efp_names  # noqa: E402
from synthetic_jets import BENCHMARK_SIZES, write_benchmark_files  # noqa: E402
from time_dag import benchmark_rule  # noqa: E402 (benchmarks/ is on sys.path as the script's folder)

OUT = REPO / "results" / "bench"
MEMORY_TARGET_MB = 2048
PAPER_ELECTRONS = 214_884
PAPER_MUONS = 200_000
SMALL_CNN = {"conv_blocks": 1, "filters": 8}
SMALL_GRID = {"graphs": [["d<=3", "p==1"]], "kappas": [1, 2], "betas": [0.5, 1]}
JETS_GRID = {"graphs": [["d<=2", "p==1"]], "kappas": [1], "betas": [1]}
JETS_SETS = ("images", "hl", "mass")  # the tutorial CNN's images (shrunk), DNN + BDT, mass
JETS_DIR = "resources/synthetic_jets"  # under the axis' directory (Snakemake's --directory)
TINY_TUNING = {"enabled": True, "n_trials": 2, "epochs": 1, "max_batches": 50}
PEAKS = REPO / "benchmarks" / "paper_peaks.json"


def paper_config() -> dict:
    return yaml.safe_load((REPO / "config" / "paper.yaml").read_text())


def length_config(chunks: int) -> dict:
    """config/paper.yaml at the published sizes with a small EFP grid (module docstring)."""
    config = paper_config()
    electrons, muons = config["datasets"]["electrons"], config["datasets"]["muons"]
    electrons.update(source="simulate", file="unscaled_data.h5")
    electrons["simulate"] = {"n_events": PAPER_ELECTRONS}
    muons.update(source="simulate", file="data.h5", keys=["images", "iso", "pt", "y"])
    muons["simulate"] = {"n_events": PAPER_MUONS}
    sets = electrons["feature_sets"]
    electrons["feature_sets"] = {
        "et_and_ht": {
            "inputs": ["et", "ht"],
            "network": {**sets["et_and_ht"]["network"], **SMALL_CNN},
        },
        "hl": sets["hl"],
        "hl_and_mass": sets["hl_and_mass"],
    }
    muon_sets = muons["feature_sets"]
    muons["feature_sets"] = {
        "images": {"inputs": ["images"], "network": SMALL_CNN},
        "iso": muon_sets["iso"],
    }
    for dataset in (electrons, muons):
        dataset["paper_reference"] = {
            k: v for k, v in dataset["paper_reference"].items() if k in dataset["feature_sets"]
        }
        dataset["efp"].update(SMALL_GRID, chunks=chunks)
    electrons["guided"].update(max_passes=1, scans={"hl": {"start": "hl", "candidates": "all"}})
    muons["guided"].update(
        max_passes=1, scans={"iso_irc": {"start": "iso", "candidates": "irc_safe"}}
    )
    config["training"]["epochs"] = 1
    config["tuning"]["enabled"] = False
    return config


def width_config(n_events: int, chunks: int) -> dict:
    """config/paper.yaml's electron analysis, the whole paper EFP grid, n_events candidates."""
    config = paper_config()
    electrons = config["datasets"]["electrons"]
    config["datasets"] = {"electrons": electrons}
    electrons.update(source="simulate", file="unscaled_data.h5")
    electrons["simulate"] = {"n_events": int(n_events)}
    sets = electrons["feature_sets"]
    electrons["feature_sets"] = {"et_and_ht": sets["et_and_ht"], "hl": sets["hl"]}
    electrons["paper_reference"] = {
        k: v for k, v in electrons["paper_reference"].items() if k in electrons["feature_sets"]
    }
    electrons["efp"]["chunks"] = chunks
    electrons["guided"].update(max_passes=1, scans={"hl": {"start": "hl", "candidates": "all"}})
    config["training"]["epochs"] = 1
    config["tuning"]["enabled"] = False
    return config


def jets_sizes(scale: float) -> dict[str, int]:
    """The benchmark's split sizes times scale (1: 1.2 M / 400 k / 400 k)."""
    return {split: int(round(n * scale)) for split, n in BENCHMARK_SIZES.items()}


def jets_config(scale: float) -> dict:
    """config/jets.yaml on synthetic benchmark files of jets_sizes(scale) (module docstring)."""
    config = yaml.safe_load((REPO / "config" / "jets.yaml").read_text())
    jets = config["datasets"]["jets"]
    jets.update(source="path", path=JETS_DIR)
    sets = jets["feature_sets"]
    jets["feature_sets"] = {name: sets[name] for name in JETS_SETS}
    jets["feature_sets"]["images"] = {"inputs": ["jet"], "network": SMALL_CNN}
    jets["benchmark_reference"] = {
        k: v for k, v in jets["benchmark_reference"].items() if k in (*JETS_SETS, "efp-linear")
    }
    jets["efp"].update(JETS_GRID)
    jets["guided"].update(max_passes=1, scans={"hl": {"start": "hl", "candidates": "irc_safe"}})
    config["training"]["epochs"] = 1
    config["tuning"] = {**TINY_TUNING, "feature_sets": ["hl"]}
    return config


def run_axis(name: str, config: dict, cores: int) -> dict:
    """Run the whole DAG of one axis in results/bench/paper/<name>; wall time and status."""
    workdir = OUT / "paper" / name
    workdir.mkdir(parents=True, exist_ok=True)
    config_path = workdir / "config.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    command = [
        str(Path(sys.executable).with_name("snakemake")),
        "--snakefile", str(REPO / "Snakefile"),
        "--directory", str(workdir),
        "--configfile", str(config_path),
        "--cores", str(cores),
        "--rerun-incomplete",
    ]  # fmt: skip
    print(f"== {name}: {' '.join(command)}", flush=True)
    start = time.perf_counter()
    log = (workdir / "snakemake.log").open("w")
    result = subprocess.run(command, stdout=log, stderr=subprocess.STDOUT, cwd=REPO)
    wall = time.perf_counter() - start
    print(f"== {name}: return code {result.returncode} after {wall / 60:.1f} min", flush=True)
    return {
        "workdir": str(workdir.relative_to(REPO)),
        "returncode": result.returncode,
        "wall_s": wall,
    }


def rule_table(workdir: Path) -> pd.DataFrame:
    """One row per (dataset, rule): jobs, total and largest wall s, peak RSS (MB)."""
    rows = []
    root = workdir / "results" / "benchmarks"
    for path in root.rglob("*.tsv"):
        dataset, rule = benchmark_rule(path.relative_to(root))
        frame = pd.read_csv(path, sep="\t")
        rows.append(
            {
                "dataset": dataset,
                "rule": rule,
                "job": str(path.relative_to(root)),
                "s": float(frame["s"].max()),
                "cpu_s": float(pd.to_numeric(frame["cpu_time"], errors="coerce").max()),
                "max_rss_mb": float(pd.to_numeric(frame["max_rss"], errors="coerce").max()),
            }
        )
    jobs = pd.DataFrame(rows)
    if jobs.empty:
        return jobs
    return (
        jobs.groupby(["dataset", "rule"])
        .agg(
            jobs=("s", "size"),
            total_s=("s", "sum"),
            max_s=("s", "max"),
            total_cpu_s=("cpu_s", "sum"),
            max_rss_mb=("max_rss_mb", "max"),
        )
        .reset_index()
    )


def occupancy(workdir: Path, dataset: str, keys: list[str]) -> dict[str, float]:
    """Mean and 90 % quantile of non-zero pixels per image on the train split."""
    values = {}
    for key in keys:
        images = io.read_array(
            workdir / "results" / dataset / "feather" / "train" / f"{key}.feather"
        )
        sample = np.asarray(images[: min(len(images), 5000)]).reshape(min(len(images), 5000), -1)
        counts = np.count_nonzero(sample > 0, axis=1)
        values[key] = {"mean": float(counts.mean()), "q90": float(np.quantile(counts, 0.9))}
    return values


def efp_rates(workdir: Path, config: dict, dataset: str, all_events: int = PAPER_ELECTRONS) -> dict:
    """compute_efps events per CPU second (one thread per job: per core), median over the
    train split's chunks; CPU time rather than wall time, so a loaded machine does not bias it."""
    block = config["datasets"][dataset]["efp"]
    settings = EFPSettings.from_config(block)
    n_train = len(io.read_array(workdir / "results" / dataset / "feather" / "train" / "y.feather"))
    rows = []
    for path in sorted(
        (workdir / "results" / "benchmarks" / dataset / "compute_efps" / "train").glob("*.tsv")
    ):
        start, stop = chunk_bounds(n_train, settings.chunks, int(path.stem))
        events = stop - start
        seconds = float(pd.read_csv(path, sep="\t")["cpu_time"].max())
        rows.append(events / seconds)
    rate = float(np.median(rows)) if rows else float("nan")
    return {
        "n_efps": len(efp_names(settings)),
        "train_events": n_train,
        "events_per_s_per_core": rate,
        "cpu_hours_all_paper_events": all_events / rate / 3600 if rate > 0 else None,
    }


def memory_request(peak_mb: float) -> int:
    """sbatch --mem of a rule (profiles/slurm/config.yaml): the measured peak RSS x 1.5,
    rounded up to 500 MB, at least 1000 MB."""
    return max(1000, int(np.ceil(peak_mb * 1.5 / 500.0)) * 500)


def update_peaks(axis: str, table: pd.DataFrame, path: Path = PEAKS) -> dict:
    """Replace one axis' entry of benchmarks/paper_peaks.json: {dataset: {rule: peak MB}}."""
    peaks = json.loads(path.read_text()) if path.exists() else {}
    axes = peaks.setdefault("axes", {})
    axes[axis] = {
        dataset: {row.rule: round(float(row.max_rss_mb)) for row in group.itertuples()}
        for dataset, group in table.groupby("dataset")
    }
    path.write_text(json.dumps(peaks, indent=2, sort_keys=True) + "\n")
    return peaks


def rule_peaks(peaks: dict) -> dict[str, float]:
    """The peak RSS (MB) each rule is sized for: its largest over every axis and dataset of
    benchmarks/paper_peaks.json, and at least that of the rules it is ``sized_with``."""
    largest: dict[str, float] = {}
    for datasets in peaks["axes"].values():
        for rules in datasets.values():
            for rule, mb in rules.items():
                largest[rule] = max(largest.get(rule, 0.0), float(mb))
    for rule, entry in peaks.get("sized_with", {}).items():
        for other in entry["rules"]:
            largest[rule] = max(largest.get(rule, 0.0), largest[other])
    return largest


def profile_requests(peaks: dict) -> dict[str, int]:
    """mem_mb of every measured rule for profiles/slurm/config.yaml's set-resources."""
    return {rule: memory_request(mb) for rule, mb in sorted(rule_peaks(peaks).items())}


def markdown(table: pd.DataFrame, axis: str) -> str:
    lines = [
        "| axis | dataset | rule | jobs | largest job, wall (s) | all jobs, CPU (s) "
        "| peak RSS (MB) |",
        "|---|---|---|---|---|---|---|",
    ]
    for row in table.sort_values(["dataset", "max_rss_mb"], ascending=[True, False]).itertuples():
        flag = " **over 2 GB**" if row.max_rss_mb > MEMORY_TARGET_MB else ""
        lines.append(
            f"| {axis} | {row.dataset} | {row.rule} | {row.jobs} | {row.max_s:.0f} | "
            f"{row.total_cpu_s:.0f} | {row.max_rss_mb:.0f}{flag} |"
        )
    return "\n".join(lines)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--axis", choices=["length", "width", "jets", "all"], default="all")
    parser.add_argument("--cores", type=int, default=2)
    parser.add_argument("--width-events", type=int, default=2000)
    parser.add_argument("--length-chunks", type=int, default=8)
    parser.add_argument("--width-chunks", type=int, default=8)
    parser.add_argument(
        "--jets-scale", type=float, default=1.0, help="fraction of the benchmark's jet counts"
    )
    parser.add_argument("--collect-only", action="store_true", help="re-read finished runs")
    args = parser.parse_args()
    OUT.mkdir(parents=True, exist_ok=True)
    out_path = OUT / "paper.json"
    result = json.loads(out_path.read_text()) if out_path.exists() else {}
    result.update(
        machine={"cpus": os.cpu_count(), "platform": platform.platform()},
        memory_target_mb=MEMORY_TARGET_MB,
        deviations_from_paper_config=[
            "networks train 1 epoch",
            f"length-axis CNNs: {SMALL_CNN}",
            "PFN/EFN not trained here (benchmarks/bench_training_paper.py measures them)",
            f"length-axis EFP grid: {SMALL_GRID}",
            f"EFP chunks per split: length {args.length_chunks}, width {args.width_chunks}",
            "guided scans: 1 pass (one scan per dataset)",
            f"muons: {PAPER_MUONS} simulated events (the muon paper does not state its file size)",
            f"jets: synthetic jets (benchmarks/synthetic_jets.py), {jets_sizes(args.jets_scale)}",
            f"jets: feature sets {list(JETS_SETS)} (images CNN {SMALL_CNN}; PFN/EFN not "
            f"trained), EFP grid {JETS_GRID}, EFPs of the jet image pixels, 1 guided pass",
            f"tune_model: jets hl, {TINY_TUNING}",
        ],
    )
    axes = {
        "length": length_config(args.length_chunks),
        "width": width_config(args.width_events, args.width_chunks),
        "jets": jets_config(args.jets_scale),
    }
    all_events = {"electrons": PAPER_ELECTRONS, "muons": PAPER_MUONS, "jets": 2_000_000}
    for axis, config in axes.items():
        if args.axis not in (axis, "all"):
            continue
        workdir = OUT / "paper" / axis
        if axis == "jets" and not args.collect_only:
            sizes = jets_sizes(args.jets_scale)
            write_benchmark_files(workdir / JETS_DIR, sizes, int(config["seed"]))
        entry = result.get(axis, {}) if args.collect_only else run_axis(axis, config, args.cores)
        if axis == "jets":
            entry["jets"] = jets_sizes(args.jets_scale)
        table = rule_table(workdir)
        entry["rules"] = table.to_dict("records")
        entry["config"] = config
        datasets = list(config["datasets"])
        entry["occupancy"] = {
            dataset: occupancy(workdir, dataset, config["datasets"][dataset]["efp"]["images"])
            for dataset in datasets
        }
        entry["efp"] = {
            dataset: efp_rates(workdir, config, dataset, all_events[dataset])
            for dataset in datasets
        }
        entry["over_memory_target"] = [
            f"{row['dataset']}/{row['rule']}: {row['max_rss_mb']:.0f} MB"
            for row in entry["rules"]
            if row["max_rss_mb"] > MEMORY_TARGET_MB
        ]
        result[axis] = entry
        if entry.get("returncode", 0) == 0 and not table.empty:
            update_peaks(axis, table)
        print(markdown(table, axis))
        print(json.dumps({"occupancy": entry["occupancy"], "efp": entry["efp"]}, indent=2))
    out_path.write_text(json.dumps(result, indent=2, default=float) + "\n")
    if PEAKS.exists():
        print("mem_mb per rule for profiles/slurm/config.yaml (benchmarks/paper_peaks.json):")
        print(json.dumps(profile_requests(json.loads(PEAKS.read_text())), indent=2))
    print(f"wrote {out_path.relative_to(REPO)}")
    return 0 if all(result.get(a, {}).get("returncode", 0) == 0 for a in axes) else 1


if __name__ == "__main__":
    sys.exit(main())
