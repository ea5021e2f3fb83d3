"""docs/benchmarks.md is rendered from the kept benchmark JSON (benchmarks/write_doc.py): the
committed document must equal a fresh rendering, so a figure cannot be typed or go stale."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SPEC = importlib.util.spec_from_file_location("write_doc", REPO / "benchmarks" / "write_doc.py")
write_doc = importlib.util.module_from_spec(SPEC)
SPEC.loader.exec_module(write_doc)


def test_committed_document_is_the_rendering_of_the_kept_json():
    expected = write_doc.render(write_doc.MEASURED, write_doc.PEAKS)
    assert (REPO / "docs" / "benchmarks.md").read_text() == expected, (
        "docs/benchmarks.md differs from the rendering of benchmarks/measured/ and "
        "benchmarks/paper_peaks.json: run `make bench-doc` (never edit it by hand)"
    )


def test_a_changed_figure_changes_the_document(tmp_path):
    bench, measured = tmp_path / "bench", tmp_path / "measured"
    bench.mkdir()
    (bench / "tabular_unpack.json").write_text(json.dumps({"streaming": {"wall_s": 12.5}}))
    (bench / "summary.json").write_text("{}")
    assert write_doc.keep(bench, measured) == ["tabular_unpack.json"]
    manifest = json.loads((measured / "MANIFEST.json").read_text())
    assert set(manifest) == {"tabular_unpack.json"}
    assert write_doc.keep(bench, measured) == []  # unchanged: its stamp stays
    first = write_doc.render(measured, tmp_path / "absent.json")
    assert "`streaming.wall_s` | 12.5 |" in first
    (measured / "tabular_unpack.json").write_text(json.dumps({"streaming": {"wall_s": 13.5}}))
    assert write_doc.render(measured, tmp_path / "absent.json") != first


def test_efp_engine_table_marks_extrapolated_figures(tmp_path):
    row = {
        "engine_events_per_s": 100.0,
        "energyflow_events_per_s": 0.5,
        "energyflow_measured": False,
        "ratio_energyflow": 200.0,
        "target_ratio_energyflow": 100,
        "ratio_baseline": 3.0,
        "max_relative_deviation_energyflow": None,
    }
    data = {"cases": {"HCal, 20 hit cells": {"pixels": 320, "selections": {"d<=7": row}}}}
    lines = write_doc.render_efp_engine(data)
    assert any("0.5 (extrapolated)" in line and "200x" in line for line in lines)


def test_test_suite_record_reads_pytest_counts_and_renders_its_minutes():
    spec = importlib.util.spec_from_file_location(
        "time_tests", REPO / "benchmarks" / "time_tests.py"
    )
    time_tests = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(time_tests)
    output = "....\n===== 1 failed, 770 passed, 1 skipped, 2 errors in 553.45s (0:09:13) =====\n"
    assert time_tests.counts(output) == {"failed": 1, "passed": 770, "skipped": 1, "error": 2}
    assert time_tests.counts("no summary") == {}
    record = {
        "command": "make test",
        "commit": "abc1234",
        "returncode": 0,
        "wall_min": 9.3,
        "target_min": 10,
        "lint_s": 18.0,
        "pytest_s": 540.0,
        "pytest_counts": {"passed": 771, "skipped": 1},
    }
    lines = write_doc.render_test_suite(record)
    assert "771 passed, 1 skipped" in lines[0] and "abc1234" in lines[0]
    assert "| make test (lint and the whole suite) | 9.3 | 10 |" in lines
    assert "| lint | 0.3 |  |" in lines and "| pytest | 9 |  |" in lines
