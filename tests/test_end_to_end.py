"""Every test of the finished tiny run (tests/conftest.py ``tiny_run``, tests/tiny_full.yaml),
in one module so that `make pytest` (``--dist loadfile``) builds the run once, on one worker:
two electron datasets side by side, the muon and top-tagging analyses through every stage, the
DAG's contracts (valid chooses, only what changed reruns, the guided passes read back) and the
HTML report.

The checks read the run's files back and compare them with what an independent reading of
the inputs says (the published file through h5py, the config), not with the writer's own
constants.
"""

import copy
import csv
import json

import h5py
import numpy as np
import pandas as pd
import pytest
import yaml
from conftest import REPO, TINY_FULL, run_snakemake
from hepml import io, plan
from hepml.efp.names import parse_efp_name
from hepml.guided.names import pass_feature_set_name, pass_zero_is_start, scans_from_config
from hepml.settings import feature_sets_from_config
from test_dag import job_graph, planned_jobs
from test_dag import test_leaks as leaks_of
from test_report import check_dataset_in_report, embedded, report_variable

CONFIG = "tests/tiny_full.yaml"


def config_of(workdir) -> dict:
    return yaml.safe_load((workdir / CONFIG).read_text())


# --- the tiny run's models learn ---
# Every model of tests/tiny_full.yaml (each result name of each dataset, and each trained pass of
# each guided scan) must learn: status ok and the lower edge of its bootstrap interval on the
# test split above LEARNED_AUC_LOW. The run is seeded, so this is stable; the margin (every
# lower edge sat at 0.67 or more when it was set: muons' PFN and EFN lowest, with n_test of
# 80-120 events and half-widths of 0.02-0.07) absorbs changes of batch order or
# initialisation. A model that may fail to learn at this size is listed here, dataset -> result
# name (or a scan's pass feature set) -> why, and the check skips it; nothing else may.
MAY_NOT_LEARN: dict[str, dict[str, str]] = {}
LEARNED_AUC_LOW = 0.6


def read_auc_table(path) -> pd.DataFrame:
    """An AUC table (summarise_dataset's or a scan's) indexed by result name."""
    table = pd.read_csv(path)
    return table.set_index("name" if "name" in table.columns else "feature_set")


def learning_failures(table: pd.DataFrame, names, threshold: float) -> list[str]:
    """Why each of ``names`` did not learn in an AUC table: no row, a status other than ok, or
    the lower edge of its bootstrap interval missing or at most ``threshold``."""
    failures = []
    for name in names:
        if name not in table.index:
            failures.append(f"{name}: no row")
            continue
        row = table.loc[name]
        if row["status"] != "ok":
            failures.append(f"{name}: status {row['status']} ({row.get('collapse_reason')})")
        elif not np.isfinite(row["auc_low"]) or row["auc_low"] <= threshold:
            failures.append(
                f"{name}: AUC {row['auc']:.4f} [{row['auc_low']:.4f}, {row['auc_high']:.4f}], "
                f"lower edge not above {threshold}"
            )
    return failures


def test_the_learning_check_fails_a_model_that_did_not_learn(tmp_path):
    """Negative control of the check, on an AUC table written as summarise_dataset writes it
    (metrics.evaluate_scores, metrics.summary_table): a model that learned passes; one that
    collapsed, one just outside the collapse tolerance of AUC 0.5, a weak one whose interval
    reaches down to the threshold and a missing one fail."""
    from hepml import metrics
    from hepml.settings import EvaluationSettings

    settings = EvaluationSettings.from_config(config_of(REPO)["evaluation"])
    rng = np.random.default_rng(0)
    y = rng.integers(0, 2, 4000)
    scores = {
        "learned": y + rng.normal(0, 0.5, y.size),
        "collapsed": np.full(y.size, 0.5),
        "chance": 0.15 * y + rng.normal(0, 1, y.size),  # AUC about 0.54
        "weak": y + rng.normal(0, 3.0, y.size),
    }
    entries = []
    for name, score in scores.items():
        entry = metrics.evaluate_scores(y, score, None, settings, seed=1)
        entries.append({**entry, "name": name, "model": "nn"})
    path = tmp_path / "auc_table.csv"
    table = metrics.summary_table(entries, None, settings.signal_efficiencies)
    table.to_csv(path, index=False)
    table = read_auc_table(path)
    assert table.loc["collapsed", "status"] == "collapsed"
    assert table.loc["chance", "status"] == "ok"  # |AUC - 0.5| beyond the collapse tolerance
    assert 0.5 < table.loc["weak", "auc"] and table.loc["weak", "auc_low"] <= LEARNED_AUC_LOW

    failures = learning_failures(table, [*scores, "missing"], LEARNED_AUC_LOW)
    assert [failure.split(":")[0] for failure in failures] == [
        "collapsed",
        "chance",
        "weak",
        "missing",
    ], failures
    assert learning_failures(table, ["learned"], LEARNED_AUC_LOW) == []


@pytest.mark.slow
def test_every_model_of_the_tiny_run_learns(tiny_run):
    """Each dataset's models and each scan's trained passes: status ok and the lower edge of
    the test-split interval above LEARNED_AUC_LOW, but for the names in MAY_NOT_LEARN."""
    config = config_of(tiny_run)
    results = tiny_run / "results"
    failures = []
    for dataset, block in config["datasets"].items():
        names = plan.result_names(block)
        tables = {"": read_auc_table(results / dataset / "summary" / "auc_table.csv")}
        assert sorted(tables[""].index) == sorted(names)
        for scan in (block.get("guided") or {}).get("scans", {}):
            tables[f"scan {scan} "] = read_auc_table(
                results / dataset / "guided" / scan / "table.csv"
            )
        exempt = MAY_NOT_LEARN.get(dataset, {})
        known = {name for table in tables.values() for name in table.index}
        assert set(exempt) <= known, f"{dataset}: MAY_NOT_LEARN names no model: {exempt}"
        for label, table in tables.items():
            expected = [name for name in table.index if name not in exempt]
            failures += [
                f"{dataset} {label}{failure}"
                for failure in learning_failures(table, expected, LEARNED_AUC_LOW)
            ]
    assert failures == [], "\n".join(failures)


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
    for dataset, table in tables.items():
        assert sorted(table.index) == sorted(plan.result_names(config["datasets"][dataset]))
    comparison = pd.read_csv(results / "compare" / "electrons" / "auc_table.csv")
    assert set(comparison["name"]) == set(tables["electrons"].index) | set(
        tables["electrons_path"].index
    )
    assert set(tables["electrons"].index) - set(tables["electrons_path"].index)  # empty cells
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
    from hepml.io import jets as benchmark

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
    assert sorted(table.index) == sorted(["images", "hl", "efp-linear"])
    # The benchmark's values beside ours, as the config gives them (only images has one here).
    reference = config["benchmark_reference"]
    assert set(reference) == {"images"}
    for name, published in reference.items():
        for key, value in published.items():
            assert table.loc[name, f"benchmark_{key}"] == value, (name, key)
    assert table["benchmark_tagger"].isna().sum() == len(table) - len(reference)
    metrics = json.loads((results / "metrics" / "efp-linear.json").read_text())
    assert table.loc["efp-linear", "auc"] == pytest.approx(metrics["auc"])

    # The linear model: every kept EFP, the shrinkage the validation split chose.
    kept = (results / "efp" / "kept.txt").read_text().split()
    assert {parse_efp_name(name).image for name in kept} == {"constituents"}  # as the benchmark
    linear = io.read_npz(results / "models" / "efp-linear" / "linear.npz")
    assert [str(name) for name in linear["names"]] == kept
    history = pd.read_csv(results / "models" / "efp-linear" / "history.csv")
    chosen = history.loc[history["chosen"]]
    assert len(chosen) == 1 and float(linear["shrinkage"]) == chosen["shrinkage"].iloc[0]
    assert chosen["valid_auc"].iloc[0] == history["valid_auc"].max()


# --- the DAG contracts on the finished run (helpers in tests/test_dag.py) ---
@pytest.mark.slow
def test_no_choice_sees_the_test_split(tiny_run):
    summary = run_snakemake(tiny_run, "--detailed-summary").stdout
    graph = job_graph(summary)
    rules = {rule for rule, _ in graph.values()}
    assert {"train_model", "train_bdt", "deduplicate_efps", "select_next_efp"} <= rules
    assert any(rule == "select_next_efp" and "pass2" in out for out, (rule, _) in graph.items())
    assert leaks_of(graph) == []


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
        "compare_datasets": 1,  # the electrons dataset has a BDT
        "write_results": 1,  # the results document (its stamp holds the config digest)
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
        "top_tagging_table",
        "write_results",
    }, jobs
    # every pass whose choice did not stop the scan, and pass 0 where it is a model of its own
    # (not the start set's: test_guided_pass_zero_is_the_start_model_where_it_is_the_same)
    passes = 0
    for dataset, block in datasets.items():
        for scan in (block.get("guided") or {}).get("scans", {}):
            guided = tiny_run / "results" / dataset / "guided" / scan
            choices = sorted(guided.glob("pass*/choice.json"))
            passes += sum(not json.loads(path.read_text())["stop"] for path in choices)
            pass_zero = tiny_run / "results" / dataset / "models" / pass_feature_set_name(scan, 0)
            passes += pass_zero.exists()
    models = sum(len(plan.result_names(block)) for block in datasets.values())  # efp-linear too
    assert jobs["evaluate_model"] == models + passes
    assert jobs["summarise_dataset"] == len(datasets)

    gallery = copy.deepcopy(config)
    gallery["datasets"]["electrons"]["efp"]["gallery_size"] = 1
    assert planned_jobs(tiny_run, gallery) == {"draw_efp_gallery": 1, "write_results": 1}


@pytest.mark.slow
def test_results_document_holds_every_table_of_the_run(tiny_run):
    """results/results.md: each dataset's AUC table (and the jets' top-tagging table, every
    scan's table, the comparison) copied from the run's own files, with the run's stamp."""
    config = config_of(tiny_run)
    results = tiny_run / "results"
    text = (results / "results.md").read_text()
    tables = [results / name / "summary" / "auc_table.md" for name in config["datasets"]]
    tables += sorted(results.glob("*/summary/top_tagging.md"))
    tables += sorted(results.glob("*/guided/*/table.md"))
    tables += sorted(results.glob("compare/*/auc_table.md"))
    assert len(tables) > len(config["datasets"])
    for path in tables:
        assert path.read_text().strip() in text, path
    assert "- code: `" in text and "## The resolved configuration" in text


@pytest.mark.slow
def test_efp_tables_of_the_tiny_run(tiny_run):
    """Every EFP grid of the tiny run (rules/efp.smk; tests/test_efp.py plans the file alone):
    each split's table indexes its chunks in order, one row per event and one column per
    EFP of the grid; kept and confirmed duplicates make up the grid; the single-EFP AUCs cover
    the kept EFPs; the gallery draws gallery_size of them."""
    from hepml.efp.settings import EFPSettings
    from hepml.efp.table import efp_names
    from hepml.io import efp_store
    from hepml.steps.efp import read_kept

    config = config_of(tiny_run)
    grids = {name: block["efp"] for name, block in config["datasets"].items() if "efp" in block}
    assert len(grids) >= 3
    for dataset, efp in grids.items():
        efp_dir = tiny_run / "results" / dataset / "efp"
        names = efp_names(EFPSettings.from_config(efp))
        for split in ("train", "valid", "test"):
            n = len(io.read_array(tiny_run / "results" / dataset / "feather" / split / "y.feather"))
            table = efp_store.EFPTable(efp_dir / split / "index.json")
            assert (table.n_events, table.names) == (n, names), (dataset, split)
            assert table.read(table.names[:2]).shape == (n, 2)
        kept = read_kept(efp_dir / "kept.txt")
        duplicates = pd.read_csv(efp_dir / "duplicates.csv")
        assert len(kept) + int(duplicates["confirmed"].sum()) == len(names), dataset
        for split in ("valid", "test"):
            single = pd.read_csv(efp_dir / f"single_auc_{split}.csv")
            assert set(single["efp"]) == set(kept), (dataset, split)
        gallery = list((efp_dir / "gallery").glob("rank*_*.png"))
        assert len(gallery) == min(efp["gallery_size"], len(kept)), dataset


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


@pytest.mark.slow
def test_guided_pass_zero_is_the_start_model_where_it_is_the_same(tiny_run):
    """A scan's pass 0 is the start set's own model, its scores and metrics (no second
    training), where the two are the same model (guided.names.pass_zero_is_start: electrons'
    and muons' scans here); where the scan's network differs (jets': another learning rate)
    pass 0 is trained under its own name. The scan table names the model of each row."""
    config = config_of(tiny_run)
    cases = {}
    for dataset, block in config["datasets"].items():
        results = tiny_run / "results" / dataset
        for scan in scans_from_config(block, config["seed"]).values():
            start = plan.feature_set(block, scan.start)
            shared = pass_zero_is_start(scan, start, start_tuned=False)  # no tuning block
            cases[f"{dataset}/{scan.name}"] = shared
            own = scan.feature_set_name(0)
            table = pd.read_csv(results / "guided" / scan.name / "table.csv")
            assert table.loc[0, "feature_set"] == (scan.start if shared else own)
            metrics = io.read_json(results / "metrics" / f"{table.loc[0, 'feature_set']}.json")
            assert table.loc[0, "auc"] == pytest.approx(metrics["auc"], abs=1e-12)
            assert (results / "models" / own).exists() is not shared
            assert (results / "scores" / own).exists() is not shared
            assert (results / "metrics" / f"{own}.json").exists() is not shared
            # pass 1 chose from the validation scores of pass 0's model
            assert (results / "scores" / table.loc[0, "feature_set"] / "valid.feather").exists()
    # the tiny run has both kinds of scan
    assert set(cases.values()) == {True, False}, cases


# --- the HTML report of the finished run (helpers in tests/test_report.py) ---
@pytest.mark.slow
def test_tiny_workflow_report_has_every_model(tiny_run):
    workdir = tiny_run
    config = yaml.safe_load((workdir / CONFIG).read_text())

    run_snakemake(workdir, "--cores", "1", "--report", "results/report.html", timeout=300)

    html = (workdir / "results" / "report.html").read_text()
    results = report_variable(html, "results")
    categories = report_variable(html, "categories")
    assert {"Data", "Training", "ROC", "EFPs", "Guided search", "Comparison", "Top tagging"} <= set(
        categories
    ), sorted(categories)
    assert "Feature sets trained" in report_variable(html, "workflow_desc")
    assert len(config["datasets"]) == 4
    for dataset, block in config["datasets"].items():
        sets = feature_sets_from_config(block)
        check_dataset_in_report(results, dataset, sets, MAY_NOT_LEARN.get(dataset, {}))

    # Two datasets of kind electrons: their tables side by side, with its caption.
    comparison = embedded(results["results/compare/electrons/auc_table.csv"]).decode()
    header = comparison.splitlines()[0].split(",")
    assert {"auc_electrons", "auc_electrons_path", "delta_electrons_path"} <= set(header)
    assert "What to look for" in results["results/compare/electrons/auc.png"]["caption"]
    assert not any(path.startswith("results/compare/muons") for path in results)
    # The Top tagging section: the average jet images and the table beside the benchmark.
    top_tagging = [path for paths in categories["Top tagging"].values() for path in paths]
    for path in ("results/jets/plots/jet_images.png", "results/jets/summary/top_tagging.csv"):
        assert path in top_tagging and "What to look for" in results[path]["caption"]
