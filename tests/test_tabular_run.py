"""The tabular part of the workflow end to end (config/higgs.yaml with source: path) on a
small file in the UCI HIGGS layout written here: unpack_table, a network and a BDT on the 7
high-level columns, scores, metrics, the Higgs benchmark table, the feature plot and the
results document; then a damaged file, whose error reaches the rule's log.

The run is built once per module in a copy of the repository (the pattern of
tests/conftest.py tiny_run), with tiny models so that it takes well under a minute.
"""

import gzip

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, copy_repository, run_snakemake
from hepml import io

N_ROWS = 3000
TEST_ROWS = 600
CONFIG = "higgs_test.yaml"
MODELS = ["dnn", "shallow", "gbdt"]


def write_uci_file(path, n: int, seed: int = 11) -> np.ndarray:
    """n rows in the UCI layout (label, 21 low-level, 7 high-level columns) with a learnable
    signal: m_bb (column 26) and m_wwbb (column 28) shifted for y = 1."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n)
    x = rng.normal(size=(n, 28)).astype(np.float32)
    x[:, 25] += 1.2 * y
    x[:, 27] += 0.8 * y
    rows = np.column_stack([y.astype(np.float32), x])
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(",".join(f"{v:.9g}" for v in row) for row in rows) + "\n")
    return rows


def run_config() -> dict:
    config = yaml.safe_load((REPO / "config" / "higgs.yaml").read_text())
    block = config["datasets"]["higgs"]
    block.update(source="path", path="published/higgs")
    block["table"]["test_rows"] = TEST_ROWS
    block["network_defaults"] = {"dense_layers": 1, "units": 8, "learning_rate": 0.01}
    # the kind's three model families: the authors' network pair and LightGBM trees
    block["feature_sets"] = {"high": {**block["feature_sets"]["high"], "models": MODELS}}
    config["training"].update(batch_size=128, epochs=2, patience=1, lr_patience=1)
    config["training"]["gbdt"] = {"max_iter": 20, "learning_rate": 0.3, "max_leaf_nodes": 7}
    config["evaluation"]["bootstrap_resamples"] = 20
    return config


@pytest.fixture(scope="module")
def higgs_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("higgs") / "repo"
    copy_repository(workdir)
    (workdir / "published" / "higgs").mkdir(parents=True)
    rows = write_uci_file(workdir / "published" / "higgs" / "HIGGS.csv.gz", N_ROWS)
    (workdir / CONFIG).write_text(yaml.safe_dump(run_config(), sort_keys=False))
    run_snakemake(workdir, "--cores", "2", configfile=CONFIG)
    return workdir, rows


def test_the_tabular_workflow_runs_on_a_uci_layout_file(higgs_run):
    workdir, rows = higgs_run
    results = workdir / "results" / "higgs"
    sizes = {
        split: len(io.read_array(results / "feather" / split / "y.feather"))
        for split in ("train", "valid", "test")
    }
    assert sizes["test"] == TEST_ROWS and sum(sizes.values()) == N_ROWS
    test = pd.read_feather(results / "feather" / "test" / "features.feather")
    configured = yaml.safe_load((workdir / CONFIG).read_text())["datasets"]["higgs"]["table"]
    assert list(test.columns) == list(configured["columns"])  # config order, not sorted
    np.testing.assert_array_equal(test["m_wwbb"].to_numpy(), rows[-TEST_ROWS:, 28])
    table = pd.read_csv(results / "summary" / "higgs_benchmark.csv").set_index("name")
    assert list(table.index) == ["high", "high-shallow", "high-gbdt"]  # MODELS, named
    for name in table.index:
        metrics = io.read_json(results / "metrics" / f"{name}.json")
        assert metrics["status"] == "ok" and metrics["n_test"] == TEST_ROWS
        assert metrics["auc_low"] > 0.6, (name, metrics["auc"])  # the signal is learnable
        assert table.loc[name, "auc"] == pytest.approx(metrics["auc"])
        assert table.loc[name, "significance"] > 0
    assert table.loc["high", "paper_auc"] == 0.8  # config/higgs.yaml benchmark_reference
    assert (results / "plots" / "table_features.png").stat().st_size > 0
    document = (workdir / "results" / "results.md").read_text()
    assert "Higgs benchmark" in document and "results/higgs/summary/higgs_benchmark.md" in document


def test_a_damaged_file_stops_unpack_table_with_the_cell_in_its_log(higgs_run):
    workdir, rows = higgs_run
    path = workdir / "published" / "higgs" / "HIGGS.csv.gz"
    with gzip.open(path, "rt") as handle:
        lines = handle.read().splitlines()
    cells = lines[1234].split(",")
    cells[26] = "1.2.3"
    lines[1234] = ",".join(cells)
    with gzip.open(path, "wt") as handle:
        handle.write("\n".join(lines) + "\n")
    with pytest.raises(AssertionError, match="unpack_table"):
        run_snakemake(
            workdir,
            "--cores",
            "1",
            "--forcerun",
            "unpack_table",
            "--until",
            "unpack_table",
            configfile=CONFIG,
        )
    log = (workdir / "logs" / "higgs" / "unpack_table.log").read_text()
    assert "column 26 (datasets.higgs.table.columns.m_bb), row 1234 (line 1235): '1.2.3'" in log
    assert not (workdir / "results" / "higgs" / "feather" / "train" / "features.feather").exists()
