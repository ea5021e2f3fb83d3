"""Every rule's memory request in the SLURM profile comes from a measurement.

benchmarks/paper_peaks.json (tracked) holds the largest peak RSS of every rule per axis and
dataset of the paper-scale rehearsal (benchmarks/rehearse_paper.py writes it with
results/bench/paper.json); profiles/slurm/config.yaml asks, per rule, for
``memory_request(peak)`` = peak x 1.5 rounded up to 500 MB, at least 1000 MB. A rule the
rehearsal cannot run is listed under ``not_measured`` with the reason, and keeps the profile's
default-resources.
"""

import importlib.util
import json
import re
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PEAKS = REPO / "benchmarks" / "paper_peaks.json"
PROFILE = REPO / "profiles" / "slurm" / "config.yaml"


def rehearsal():
    """benchmarks/rehearse_paper.py as a module (its folder on sys.path, as when run)."""
    sys.path.insert(0, str(REPO / "benchmarks"))
    spec = importlib.util.spec_from_file_location(
        "rehearse_paper", REPO / "benchmarks" / "rehearse_paper.py"
    )
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def workflow_rules() -> set[str]:
    names = set()
    for path in (REPO / "rules").glob("*.smk"):
        names |= set(re.findall(r"^rule (\w+):", path.read_text(), flags=re.M))
    return names


def request_problems(profile: dict, peaks: dict, rules: set[str], module) -> list[str]:
    """What is wrong with the profile's mem_mb against the measured peaks (empty: nothing)."""
    measured = module.rule_peaks(peaks)
    unmeasured = peaks.get("not_measured", {})
    resources = profile.get("set-resources", {})
    problems = []
    for rule in sorted(rules):
        asked = resources.get(rule, {}).get("mem_mb")
        if rule in measured:
            expected = module.memory_request(measured[rule])
            if asked != expected:
                problems.append(
                    f"{rule}: mem_mb {asked}, expected {expected} (peak {measured[rule]:.0f} MB)"
                )
        elif not unmeasured.get(rule):
            problems.append(f"{rule}: no measured peak and no reason under not_measured")
        elif asked is not None:
            problems.append(f"{rule}: mem_mb {asked} set, but the rule was never measured")
    return problems


@pytest.fixture(scope="module")
def inputs():
    return (
        yaml.safe_load(PROFILE.read_text()),
        json.loads(PEAKS.read_text()),
        workflow_rules(),
        rehearsal(),
    )


def test_every_rule_has_a_request_from_a_measured_peak(inputs):
    profile, peaks, rules, module = inputs
    measured = module.rule_peaks(peaks)
    assert {"train_model", "tune_model", "unpack_jets", "plot_jets"} <= set(measured)
    assert request_problems(profile, peaks, rules, module) == []
    # Negative controls: the former flat 6,000 MB of train_model, a rule dropped from the
    # measurements, an unmeasured rule with a request of its own.
    flat = {
        **profile,
        "set-resources": {**profile["set-resources"], "train_model": {"mem_mb": 6000}},
    }
    assert any(p.startswith("train_model:") for p in request_problems(flat, peaks, rules, module))
    assert request_problems(profile, peaks, rules | {"new_rule"}, module) == [
        "new_rule: no measured peak and no reason under not_measured"
    ]


def test_the_per_dataset_unpack_rules_ask_for_the_measured_peak():
    """unpack_h5_<dataset> is one rule per lepton dataset (rules/data.smk), which the profile
    cannot name: the rules carry their request (rules/data_functions.smk UNPACK_H5_RESOURCES),
    the measured peak of unpack_h5 (its benchmark files keep that name) through
    memory_request."""
    module = rehearsal()
    text = (REPO / "rules" / "data_functions.smk").read_text()
    asked = re.search(r'^UNPACK_H5_RESOURCES = \{"mem_mb": (\d+)', text, flags=re.M)
    assert asked, "UNPACK_H5_RESOURCES not found in rules/data_functions.smk"
    peak = module.rule_peaks(json.loads(PEAKS.read_text()))["unpack_h5"]
    assert int(asked[1]) == module.memory_request(peak)
    assert "unpack_h5" not in yaml.safe_load(PROFILE.read_text())["set-resources"]


def test_memory_request_rounding():
    memory_request = rehearsal().memory_request
    assert memory_request(100) == 1000
    assert memory_request(694) == 1500  # 1,041 MB -> the next 500 MB
    assert memory_request(1000) == 1500 and memory_request(1001) == 2000


def test_peaks_agree_with_the_rehearsal_json():
    """Where this checkout holds the rehearsal's results/bench/paper.json, every finished
    axis' per-rule peaks are the tracked ones (the tracked file is its summary)."""
    path = REPO / "results" / "bench" / "paper.json"
    if not path.exists():
        pytest.skip("no results/bench/paper.json here (make bench-paper writes it)")
    result, peaks = json.loads(path.read_text()), json.loads(PEAKS.read_text())
    for axis, entry in result.items():
        if not isinstance(entry, dict) or "rules" not in entry or entry.get("returncode"):
            continue
        for row in entry["rules"]:
            assert peaks["axes"][axis][row["dataset"]][row["rule"]] == round(row["max_rss_mb"])
