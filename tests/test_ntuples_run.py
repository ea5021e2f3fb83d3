"""The ntuple path of the workflow end to end (config/ztautau.yaml, issue 21) on a uproot-written
fixture in the ATLAS Open Data 1lep1tau layout (tests/ntuple_fixture.py; several backgrounds,
negative weights, a data sample, jagged branches): unpack_ntuple per sample, the gathered
cut-flow, split_ntuples, the BDT trained with the training weights, scores, metrics, and
apply_model on every sample, data included.

The run is built once per module in a copy of the repository (the pattern of
tests/conftest.py tiny_run) with the config's own block (path overridden to the fixture) and a
BDT of few iterations; only the BDT's targets are asked for (the config's deep network is not
trained here). Every weighted yield and the weighted AUC are checked against independent
computations: the hand-written preselection of tests/test_ntuples.py and a plain loop over
signal-background pairs.
"""

from __future__ import annotations

import subprocess
import sys

import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, copy_repository, run_snakemake
from hepml import io
from ntuple_fixture import write_fixture
from test_dag import job_graph, test_leaks
from test_ntuples import CUTS, expected_sample

CONFIG = "ztautau_test.yaml"
DATASET = "ztautau"
NAME = "tmva-bdt"
FIXTURE_EVENTS = 6.0  # x the fixture's 150-400 events per file: 12,600 entries in all
# What the run makes; the ntuple figures (rules/ntuple_figures.smk) join with one line each.
TARGETS = [
    f"results/{DATASET}/summary/cutflow.csv",
    f"results/{DATASET}/summary/cutflow.md",
    f"results/{DATASET}/metrics/{NAME}.json",
    f"results/{DATASET}/applied/{NAME}.feather",
    # the TMVA-style figures and tables (rules/ntuple_figures.smk) of the same model
    f"results/{DATASET}/plots/ntuple_variables.png",
    f"results/{DATASET}/plots/overtraining/{NAME}.png",
    f"results/{DATASET}/summary/significance/{NAME}.csv",
    f"results/{DATASET}/plots/significance/{NAME}.png",
    f"results/{DATASET}/summary/ranking/{NAME}.csv",
    f"results/{DATASET}/summary/data_mc_{NAME}.csv",
    f"results/{DATASET}/plots/data_mc/{NAME}/m_vis_after.png",
]


def run_config() -> dict:
    config = yaml.safe_load((REPO / "config" / "ztautau.yaml").read_text())
    config["datasets"][DATASET]["ntuples"].update(path="published/1lep1tau", step_size=2000)
    config["training"]["bdt"] = {"max_iter": 20, "learning_rate": 0.3, "max_leaf_nodes": 7}
    config["evaluation"]["bootstrap_resamples"] = 20
    return config


@pytest.fixture(scope="module")
def ntuple_run(tmp_path_factory):
    workdir = tmp_path_factory.mktemp("ntuples") / "repo"
    copy_repository(workdir)
    written = write_fixture(workdir / "published" / "1lep1tau", seed=21, events=FIXTURE_EVENTS)
    config = run_config()
    (workdir / CONFIG).write_text(yaml.safe_dump(config, sort_keys=False))
    run_snakemake(workdir, "--cores", "2", *TARGETS, configfile=CONFIG)
    return workdir, written, config


def weighted_auc_by_pairs(score, y, weight) -> float:
    """Sum over (signal, background) pairs of w_s w_b ([s > b] + [s == b] / 2), over
    sum(w_s) sum(w_b): the weighted AUC by its definition, signed weights included."""
    signal, background = y == 1, y == 0
    s, b = score[signal][:, None], score[background][None, :]
    pairs = np.outer(weight[signal], weight[background])
    wins = (s > b) + 0.5 * (s == b)
    return float((pairs * wins).sum() / (weight[signal].sum() * weight[background].sum()))


def test_every_weighted_yield_of_the_cutflow_matches_the_fixture(ntuple_run):
    workdir, written, config = ntuple_run
    table = pd.read_csv(workdir / TARGETS[0])
    samples = config["datasets"][DATASET]["ntuples"]["samples"]
    assert list(dict.fromkeys(table["sample"])) == list(samples)  # config order
    for name, sample in samples.items():
        rows = table[table["sample"] == name]
        events, sum_w, sum_w2, _ = expected_sample(written[name], sample["role"] == "data")
        assert rows["cut"].tolist() == CUTS
        assert rows["events"].tolist() == events.tolist(), name
        np.testing.assert_allclose(rows["sum_w"], sum_w, rtol=1e-9, err_msg=name)
        np.testing.assert_allclose(rows["sum_w2"], sum_w2, rtol=1e-9, err_msg=name)
        np.testing.assert_allclose(rows["sum_w_error"], np.sqrt(sum_w2), rtol=1e-9)
    ztautau = table[(table["sample"] == "ztautau") & (table["cut"] == CUTS[-1])].iloc[0]
    markdown = (workdir / TARGETS[1]).read_text()
    assert f"{ztautau['sum_w']:.4g} +- {ztautau['sum_w_error']:.2g}" in markdown


def test_the_applied_table_scores_every_event_and_measures_with_signed_weights(ntuple_run):
    workdir, written, config = ntuple_run
    applied = pd.read_feather(workdir / TARGETS[3])
    cutflow = pd.read_csv(workdir / TARGETS[0])
    selected = cutflow[cutflow["cut"] == CUTS[-1]].set_index("sample")["events"]
    assert applied.groupby("sample", sort=False).size().to_dict() == selected.to_dict()
    assert applied["score"].dtype == np.float32
    assert applied["score"].between(0, 1).all()
    data = applied[applied["sample"] == "data"]
    assert len(data) > 0 and (data["split"] == "data").all() and data["label"].isna().all()
    mc = applied[applied["sample"] != "data"]
    assert set(mc["split"]) == {"train", "valid", "test"}
    assert (mc["weight"] < 0).any()  # the fixture's negative generator weights, kept signed
    test = mc[mc["split"] == "test"]
    # the shared test split is exactly the applied table's test rows, in order
    y = io.read_array(workdir / f"results/{DATASET}/feather/test/y.feather")
    weight = io.read_array(workdir / f"results/{DATASET}/feather/test/weight.feather")
    np.testing.assert_array_equal(y, test["label"].to_numpy())
    np.testing.assert_array_equal(weight, test["weight"].to_numpy())
    metrics = io.read_json(workdir / TARGETS[2])
    expected = weighted_auc_by_pairs(
        test["score"].to_numpy(np.float64), test["label"].to_numpy(), test["weight"].to_numpy()
    )
    assert metrics["auc_measured"] == pytest.approx(expected, abs=1e-5)
    assert metrics["n_test"] == len(test)
    # trained with the training weights (stated), not the signed physics weights
    info = io.read_json(workdir / f"results/{DATASET}/models/{NAME}/train_info.json")
    assert info["training_weights"]["negative_weights"] == "absolute"
    assert info["training_weights"]["normalisation"] == "EqualNumEvents"


def test_the_pair_loop_is_an_independent_weighted_auc():
    """The check above can fail: the pair loop disagrees with an unweighted AUC where signed
    weights matter, and agrees with metrics.auc on weights of both signs."""
    from hepml import metrics

    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 400)
    score = rng.normal(y * 0.8, 1.0).round(1)  # ties
    weight = rng.normal(1.0, 0.8, 400)  # about 10 % negative
    assert (weight < 0).any()
    by_pairs = weighted_auc_by_pairs(score, y, weight)
    assert metrics.auc(y, score, weight) == pytest.approx(by_pairs, abs=1e-12)
    assert abs(metrics.auc(y, score) - by_pairs) > 1e-3


def test_no_choice_sees_the_test_split(ntuple_run):
    workdir, _, _ = ntuple_run
    """The default run's whole DAG (the network too, planned): no choice sees the test split,
    and the table source's rules (unpack_table, plot_table, higgs_benchmark) are not in it."""
    summary = run_snakemake(workdir, "--detailed-summary", configfile=CONFIG).stdout
    graph = job_graph(summary)
    rules = {rule for rule, _ in graph.values()}
    assert {"unpack_ntuple", "split_ntuples", "train_bdt", "train_model", "apply_model"} <= rules
    assert not rules & {"unpack_table", "plot_table", "higgs_benchmark"}
    assert test_leaks(graph) == []


def test_a_glob_matching_nothing_stops_the_dag_naming_sample_and_glob(ntuple_run):
    workdir, _, config = ntuple_run
    bad = yaml.safe_load(yaml.safe_dump(config))
    bad["datasets"][DATASET]["ntuples"]["samples"]["zee"]["files"] = ["MC/mc_*.Zee_TYPO*.root"]
    (workdir / "bad_glob.yaml").write_text(yaml.safe_dump(bad, sort_keys=False))
    command = [sys.executable, "-m", "snakemake", "-n", *TARGETS, "--configfile", "bad_glob.yaml"]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True)
    assert result.returncode != 0
    assert (
        "datasets.ztautau.ntuples.samples.zee.files: no file matches 'MC/mc_*.Zee_TYPO*.root' "
        "under 'published/1lep1tau'"
    ) in result.stdout + result.stderr


def test_a_damaged_sample_file_stops_its_unpack_with_the_file_in_its_log(ntuple_run):
    workdir, _, _ = ntuple_run
    damaged = (
        workdir / "published" / "1lep1tau" / "MC" / "mc_364114.Zee_PTV0_70_CVetoBVeto.1lep1tau.root"
    )
    damaged.write_bytes(b"not a ROOT file")
    target = f"results/{DATASET}/ntuples/zee.feather"
    table = workdir / target
    with pytest.raises(AssertionError, match="unpack_ntuple"):
        run_snakemake(
            workdir, "--cores", "1", target, "--forcerun", "unpack_ntuple", configfile=CONFIG
        )
    log = (workdir / f"logs/{DATASET}/unpack_ntuple_zee.log").read_text()
    assert f"sample zee: file {damaged.relative_to(workdir)}: cannot be read as ROOT" in log
    assert not table.exists() and not list(table.parent.glob(".*.tmp"))
