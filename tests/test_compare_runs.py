"""benchmarks/compare_runs.py, the before/after check of a restructure: it must see a changed
number in any compared file and ignore what measures the machine (times, devices)."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.feather as feather

REPO = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location(
    "compare_runs", REPO / "benchmarks" / "compare_runs.py"
)
compare_runs = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(compare_runs)


def write_run(root: Path, auc: float, score: float, seconds: float) -> None:
    (root / "metrics").mkdir(parents=True)
    (root / "metrics" / "hl.json").write_text(
        json.dumps({"auc": auc, "training_time_s": seconds, "device": f"CPU {seconds}"})
    )
    (root / "scores").mkdir()
    feather.write_feather(pa.table({"score": [0.1, score]}), root / "scores" / "test.feather")
    np.savez(root / "linear.npz", w=np.array([1.0, score]))
    (root / "plot.png").write_bytes(bytes([int(seconds) % 256]))


def test_identical_results_with_other_timings_are_the_same(tmp_path):
    write_run(tmp_path / "a", 0.9, 0.5, 10.0)
    write_run(tmp_path / "b", 0.9, 0.5, 99.0)
    report = compare_runs.compare_runs(tmp_path / "a", tmp_path / "b")
    assert report["different"] == {}
    assert sorted(report["same"]) == ["linear.npz", "metrics/hl.json", "scores/test.feather"]
    assert report["skipped"] == ["plot.png"]


def test_a_changed_number_is_found_in_every_format(tmp_path):
    write_run(tmp_path / "a", 0.9, 0.5, 10.0)
    write_run(tmp_path / "b", 0.91, 0.6, 10.0)
    report = compare_runs.compare_runs(tmp_path / "a", tmp_path / "b")
    assert set(report["different"]) == {"linear.npz", "metrics/hl.json", "scores/test.feather"}
    assert "0.01" in report["different"]["metrics/hl.json"]
