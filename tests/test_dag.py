"""The DAG's contracts: the helpers that read a finished run of tests/tiny_full.yaml (the checks
themselves are in tests/test_end_to_end.py, with every other test of that run):

- valid chooses, test reports: no rule that makes a choice (early stopping, tuning, the BDT's
  stopping, duplicate removal, the guided search's picks and stops, the gallery's ranking) has
  a file derived from the test split anywhere upstream of it;
- only what changed reruns: editing one config block makes Snakemake plan exactly the jobs
  that read it and what depends on them;
- the guided search ran its passes through the checkpoints and its table reads them back.
"""

import csv
import io as _io
import re
from pathlib import Path

import yaml
from conftest import run_snakemake

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
        "m/hl-bdt/model.txt": ("train_bdt", ["f/train/hl.feather", "metrics/hl.json"]),
        "metrics/hl.json": ("evaluate_model", ["s/hl/test.feather"]),
        "s/hl/test.feather": ("score_model", ["f/test/hl.feather"]),
        "f/train/hl.feather": ("unpack_h5", ["data.h5"]),
    }
    assert test_leaks(graph) == [("train_bdt", "m/hl-bdt/model.txt", "s/hl/test.feather")]
    graph["m/hl-bdt/model.txt"] = ("train_bdt", ["f/train/hl.feather"])
    assert test_leaks(graph) == []
    assert is_test_split_file("results/electrons/efp/single_auc_test.csv")
    assert not is_test_split_file("results/electrons/efp/single_auc_valid.csv")


def planned_jobs(workdir: Path, config: dict) -> dict[str, int]:
    """Jobs per rule that a dry run of ``config`` plans in a finished workdir."""
    path = workdir / "edited.yaml"
    path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = run_snakemake(
        workdir, "--dry-run", "--quiet", "rules", "--cores", "1", configfile=str(path)
    )
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.MULTILINE))
    return {rule: int(count) for rule, count in jobs.items() if rule not in ("total", "all")}
