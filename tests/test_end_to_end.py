"""End to end on the finished tiny run (tests/conftest.py ``tiny_run``, tests/tiny_full.yaml):
two electron datasets side by side, and the muon analysis through every stage.

The checks read the run's files back and compare them with what an independent reading of
the inputs says (the published file through h5py, the config), not with the writer's own
constants.
"""

import json

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from leptonid import io
from leptonid.efp.names import parse_efp_name

CONFIG = "tests/tiny_full.yaml"


def config_of(workdir) -> dict:
    return yaml.safe_load((workdir / CONFIG).read_text())


@pytest.mark.slow
def test_two_datasets_of_one_kind_run_side_by_side(tiny_run):
    """electrons (simulated) and electrons_path (published files read in place): each its own
    results, its own data, and one comparison table that agrees with both AUC tables."""
    config = config_of(tiny_run)
    assert config["datasets"]["electrons_path"]["kind"] == "electrons"
    results = tiny_run / "results"

    # The path dataset unpacked the file the user pointed at, not the simulator's output.
    published = tiny_run / config["datasets"]["electrons_path"]["path"] / "unscaled_data.h5"
    with h5py.File(published, "r") as h5:
        expected = h5["hl/test"][()]
    unpacked = io.read_array(results / "electrons_path" / "feather" / "test" / "hl.feather")
    np.testing.assert_array_equal(unpacked, expected)
    simulated = io.read_array(results / "electrons" / "feather" / "test" / "hl.feather")
    assert unpacked.shape[1:] == simulated.shape[1:]
    assert not np.array_equal(unpacked[: len(simulated)], simulated[: len(unpacked)])
    # No simulator ran for the path dataset.
    assert not (tiny_run / "resources" / "electrons_path").exists()

    tables = {
        dataset: pd.read_csv(results / dataset / "summary" / "auc_table.csv").set_index("name")
        for dataset in ("electrons", "electrons_path")
    }
    assert sorted(tables["electrons_path"].index) == ["hl", "hl-bdt"]
    comparison = pd.read_csv(results / "compare" / "electrons" / "auc_table.csv")
    assert set(comparison["name"]) == set(tables["electrons"].index) | {"hl", "hl-bdt"}
    for row in comparison.itertuples():
        for dataset, table in tables.items():
            got = getattr(row, f"auc_{dataset}")
            if row.name in table.index:
                assert got == pytest.approx(table.loc[row.name, "auc"], abs=1e-12)
            else:
                assert np.isnan(got)
    both = comparison.set_index("name").loc["hl"]
    assert both["delta_electrons_path"] == pytest.approx(
        tables["electrons_path"].loc["hl", "auc"] - tables["electrons"].loc["hl", "auc"]
    )
    assert both["delta_error_electrons_path"] > 0
    # One kind has a single dataset: nothing to compare there.
    assert not (results / "compare" / "muons").exists()


@pytest.mark.slow
def test_muon_analysis_end_to_end(tiny_run):
    """Images (CNN), cones (DNN, BDT), PFN, EFN, pT weights, EFPs and the IRC-safe scan."""
    config = config_of(tiny_run)["datasets"]["muons"]
    results = tiny_run / "results" / "muons"

    table = pd.read_csv(results / "summary" / "auc_table.csv").set_index("name")
    assert sorted(table.index) == sorted(["images", "iso", "iso-bdt", "pfn", "efn"])
    assert set(table["status"]) <= {"ok", "collapsed"}
    assert (table["n_test"] > 0).all()

    # Background is reweighted to the signal pT spectrum; signal weights are one.
    y = io.read_array(results / "feather" / "train" / "y.feather")
    weight = io.read_array(results / "feather" / "train" / "weight.feather")
    assert np.all(weight[y == 1] == 1.0)
    assert np.any(weight[y == 0] != 1.0) and np.all(weight >= 0)

    # The scan ran its configured passes over IRC-safe (kappa = 1) EFPs only.
    scan = pd.read_csv(results / "guided" / "iso_irc" / "table.csv")
    assert list(scan["pass"]) == list(range(config["guided"]["max_passes"] + 1))
    ranking = pd.read_csv(results / "guided" / "iso_irc" / "pass1" / "ranking.csv")
    kept = (results / "efp" / "kept.txt").read_text().split()
    assert any(parse_efp_name(name).kappa != 1 for name in kept)  # the grid has kappa 2 too
    assert all(parse_efp_name(name).kappa == 1 for name in ranking["efp"])
    choice = json.loads((results / "guided" / "iso_irc" / "pass1" / "choice.json").read_text())
    assert choice["efp"] == ranking["efp"].iloc[0]

    profile = pd.read_csv(results / "data" / "radial_profile.csv")
    assert set(profile["label"]) == {0, 1}


@pytest.mark.slow
def test_top_tagging_end_to_end(tiny_run):
    """Generated jets in the benchmark's layout, unpacked to images, constituents and the
    standard features; every model, the linear EFP model, the table beside the benchmark."""
    from leptonid.jets import benchmark

    config = config_of(tiny_run)["datasets"]["jets"]
    results = tiny_run / "results" / "jets"
    generated = tiny_run / "resources" / "jets" / "generated"
    files = benchmark.SPLIT_FILES.values()
    sizes = {name: benchmark.count_jets(generated / name) for name in files}
    assert sum(sizes.values()) == config["generate"]["n_events"]
    assert sizes["train.h5"] == round(0.6 * config["generate"]["n_events"])

    # The unpacked test split is the test file, jet for jet (labels read back independently).
    labels = pd.read_hdf(generated / "test.h5", "table")["is_signal_new"].to_numpy()
    np.testing.assert_array_equal(io.read_array(results / "feather" / "test" / "y.feather"), labels)
    image = io.read_array(results / "feather" / "test" / "jet.feather")
    assert image.shape == (len(labels), 40, 40, 1)
    np.testing.assert_allclose(image.sum(axis=(1, 2, 3)), 1.0, rtol=1e-5)

    table = pd.read_csv(results / "summary" / "top_tagging.csv").set_index("name")
    assert sorted(table.index) == sorted(["images", "hl", "pfn", "efp-linear"])
    assert table.loc["images", "benchmark_tagger"] == "CNN"
    assert table.loc["images", "benchmark_rejection_0.3"] == 913.6
    assert table["benchmark_tagger"].isna().sum() == 3  # only images has a reference here
    metrics = json.loads((results / "metrics" / "efp-linear.json").read_text())
    assert table.loc["efp-linear", "auc"] == pytest.approx(metrics["auc"])

    # The linear model: every kept EFP, the shrinkage the validation split chose.
    kept = (results / "efp" / "kept.txt").read_text().split()
    linear = io.read_npz(results / "models" / "efp-linear" / "linear.npz")
    assert [str(name) for name in linear["names"]] == kept
    history = pd.read_csv(results / "models" / "efp-linear" / "history.csv")
    chosen = history.loc[history["chosen"]]
    assert len(chosen) == 1 and float(linear["shrinkage"]) == chosen["shrinkage"].iloc[0]
    assert chosen["valid_auc"].iloc[0] == history["valid_auc"].max()
