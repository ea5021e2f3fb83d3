"""The DAG's contracts, checked on a finished run of tests/tiny_full.yaml (conftest ``tiny_run``):

- valid chooses, test reports: no rule that makes a choice (early stopping, tuning, the BDT's
  stopping, duplicate removal, the guided search's picks and stops, the gallery's ranking) has
  a file derived from the test split anywhere upstream of it;
- only what changed reruns: editing one config block makes Snakemake plan exactly the jobs
  that read it and what depends on them;
- the guided search ran its passes through the checkpoints and its table reads them back.
"""

import copy
import csv
import io as _io
import json
import re
from pathlib import Path

import pytest
import yaml
from conftest import TINY_FULL, run_snakemake
from leptonid.settings import feature_sets_from_config

# Rules that make a choice from data (docs/guided.md, "Valid chooses, test reports").
CHOICE_RULES = {
    "train_model",  # early stopping and the best epoch on valid
    "tune_model",  # hyper-parameters on valid
    "train_bdt",  # boosting iterations on valid
    "deduplicate_efps",  # identities on train
    "select_next_efp",  # pairs, ranking and every stop on valid
    "draw_efp_gallery",  # which EFPs are shown: the best single-EFP AUCs on valid
}


def is_test_split_file(path: str) -> bool:
    """A file of the test split: .../test/..., .../test.feather, single_auc_test.csv, ..."""
    parts = Path(path).parts
    name = Path(path).name
    return "test" in parts or name.startswith("test.") or Path(path).stem.endswith("_test")


def job_graph(summary: str) -> dict[str, tuple[str, list[str]]]:
    """output file -> (rule, input files), from ``snakemake --detailed-summary``."""
    graph = {}
    for row in csv.DictReader(_io.StringIO(summary), delimiter="\t"):
        inputs = [path for path in (row["input-file(s)"] or "").split(",") if path]
        graph[row["output_file"]] = (row["rule"], inputs)
    return graph


def test_leaks(graph: dict[str, tuple[str, list[str]]]) -> list[tuple[str, str, str]]:
    """(rule, its output, the test-split file upstream) for every choice rule that sees one."""
    leaks = []
    for output, (rule, inputs) in graph.items():
        if rule not in CHOICE_RULES:
            continue
        seen, stack = set(), list(inputs)
        while stack:
            path = stack.pop()
            if path in seen:
                continue
            seen.add(path)
            if is_test_split_file(path):
                leaks.append((rule, output, path))
                break
            stack.extend(graph.get(path, ("", []))[1])
    return leaks


test_leaks.__test__ = False  # a helper, not a test


def test_the_leak_check_catches_a_leak():
    """The check itself can fail: a BDT whose input derives from test scores is caught."""
    graph = {
        "m/hl-bdt/trees.npz": ("train_bdt", ["f/train/hl.feather", "metrics/hl.json"]),
        "metrics/hl.json": ("evaluate_model", ["s/hl/test.feather"]),
        "s/hl/test.feather": ("score_model", ["f/test/hl.feather"]),
        "f/train/hl.feather": ("unpack_h5", ["data.h5"]),
    }
    assert test_leaks(graph) == [("train_bdt", "m/hl-bdt/trees.npz", "s/hl/test.feather")]
    graph["m/hl-bdt/trees.npz"] = ("train_bdt", ["f/train/hl.feather"])
    assert test_leaks(graph) == []
    assert is_test_split_file("results/electrons/efp/single_auc_test.csv")
    assert not is_test_split_file("results/electrons/efp/single_auc_valid.csv")


@pytest.mark.slow
def test_no_choice_sees_the_test_split(tiny_run):
    summary = run_snakemake(tiny_run, "--detailed-summary").stdout
    graph = job_graph(summary)
    rules = {rule for rule, _ in graph.values()}
    assert {"train_model", "train_bdt", "deduplicate_efps", "select_next_efp"} <= rules
    assert any(rule == "select_next_efp" and "pass2" in out for out, (rule, _) in graph.items())
    assert test_leaks(graph) == []


def planned_jobs(workdir: Path, config: dict) -> dict[str, int]:
    """Jobs per rule that a dry run of ``config`` plans in a finished workdir."""
    path = workdir / "edited.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_snakemake(
        workdir, "--dry-run", "--quiet", "rules", "--cores", "1", configfile=str(path)
    )
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.MULTILINE))
    return {rule: int(count) for rule, count in jobs.items() if rule not in ("total", "all")}


@pytest.mark.slow
def test_an_edit_reruns_only_what_reads_it(tiny_run):
    config = yaml.safe_load((tiny_run / TINY_FULL).read_text())
    assert planned_jobs(tiny_run, config) == {}  # the finished run is up to date
    # the same settings in another key order change nothing (params are canonical)
    reordered = {key: config[key] for key in reversed(list(config))}
    reordered["evaluation"] = dict(reversed(list(config["evaluation"].items())))
    assert planned_jobs(tiny_run, reordered) == {}

    # Every count below is derived from the config: models with a BDT, datasets, scans.
    datasets = config["datasets"]
    feature_sets = {name: feature_sets_from_config(block) for name, block in datasets.items()}
    bdts = {
        name: sum("bdt" in feature_set.models for feature_set in sets.values())
        for name, sets in feature_sets.items()
    }
    with_bdt = sum(count > 0 for count in bdts.values())

    bdt = copy.deepcopy(config)
    bdt["training"]["bdt"]["max_iter"] = 40
    assert planned_jobs(tiny_run, bdt) == {
        "train_bdt": sum(bdts.values()),
        "score_model": sum(bdts.values()),  # each BDT on test
        "evaluate_model": sum(bdts.values()),
        "plot_history": sum(bdts.values()),
        "summarise_dataset": with_bdt,
        "plot_roc": with_bdt,
        "compare_datasets": 1,  # both electron datasets have a BDT
    }

    bootstrap = copy.deepcopy(config)
    bootstrap["evaluation"]["bootstrap_resamples"] = 30
    jobs = planned_jobs(tiny_run, bootstrap)
    assert set(jobs) == {
        "evaluate_model",
        "summarise_dataset",
        "plot_roc",
        "summarise_scan",
        "plot_guided",
        "compare_datasets",
    }, jobs
    passes = 0  # pass 0 and every pass whose choice did not stop the scan, over all scans
    for dataset, block in datasets.items():
        for scan in (block.get("guided") or {}).get("scans", {}):
            guided = tiny_run / "results" / dataset / "guided" / scan
            choices = sorted(guided.glob("pass*/choice.json"))
            passes += 1 + sum(not json.loads(path.read_text())["stop"] for path in choices)
    models = sum(len(fs.names) for sets in feature_sets.values() for fs in sets.values())
    assert jobs["evaluate_model"] == models + passes
    assert jobs["summarise_dataset"] == len(datasets)

    gallery = copy.deepcopy(config)
    gallery["datasets"]["electrons"]["efp"]["gallery_size"] = 1
    assert planned_jobs(tiny_run, gallery) == {"draw_efp_gallery": 1}


@pytest.mark.slow
def test_guided_passes_read_back(tiny_run):
    """Two passes through the select_next_efp checkpoints, each choice on the validation split,
    and the scan table lists exactly the trained passes."""
    results = tiny_run / "results" / "electrons" / "guided" / "hl"
    choices = [json.loads((results / f"pass{n}" / "choice.json").read_text()) for n in (1, 2)]
    trained = [choice for choice in choices if not choice["stop"]]
    table = list(csv.DictReader((results / "table.csv").read_text().splitlines()))
    assert [int(row["pass"]) for row in table] == list(range(len(trained) + 1))
    for n, choice in enumerate(trained, start=1):
        summary = json.loads((results / f"pass{n}" / "pairs.json").read_text())
        assert summary["auc_split"] == "valid" and summary["n_candidates"] > 0
        assert table[n]["efp"] == choice["efp"]
        feature_set = json.loads((results / f"pass{n}" / "feature_set.json").read_text())
        assert feature_set["efps"] == choice["efps"] and len(choice["efps"]) == n
    text = (results / "table.md").read_text()
    closed = "gap closed by the final pass (pass {}, where the validation-split procedure ended)"
    assert closed.format(len(trained)) in text
