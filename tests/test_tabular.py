"""Kind tabular (docs/tabular.md): reading tables in every format, the split, bad input,
loading a feature set's columns, the plan's checks, the discovery significance and the Higgs
benchmark table.

Tables are written here with numpy / pandas / pyarrow (not with the reader under test) and
the unpacked files are read back with plain pyarrow.
"""

import gzip
import math

import numpy as np
import pandas as pd
import pyarrow.feather as pa_feather
import pytest
from hepml import io, metrics, plan
from hepml.io import DataError
from hepml.io import tabular as tab
from hepml.io.dataset import load_split
from hepml.settings import SettingsError, feature_sets_from_config

SPLITS = ("train", "valid", "test")


def uci_rows(n: int, seed: int = 0) -> np.ndarray:
    """(n, 29) rows in the UCI layout: label, then 28 features (feature 0 shifted by class)."""
    rng = np.random.default_rng(seed)
    y = rng.integers(0, 2, n).astype(np.float64)
    x = rng.normal(size=(n, 28))
    x[:, 0] += y
    # float32 values, so that "%.9g" text reads back to the same float32
    return np.column_stack([y, x]).astype(np.float32).astype(np.float64)


def write_csv(path, rows: np.ndarray, header: str | None = None) -> None:
    text = "\n".join(",".join(f"{v:.9g}" for v in row) for row in rows) + "\n"
    if header:
        text = header + "\n" + text
    opener = gzip.open if str(path).endswith(".gz") else open
    with opener(path, "wt") as handle:
        handle.write(text)


def outputs_in(directory) -> dict:
    return {s: {k: directory / s / f"{k}.feather" for k in tab.KEYS} for s in SPLITS}


def read_back(outputs, split):
    """(features table, y, weight) of a split, read with plain pyarrow / the array codec."""
    table = pa_feather.read_table(outputs[split]["features"]).to_pandas()
    return table, io.read_array(outputs[split]["y"]), io.read_array(outputs[split]["weight"])


def test_uci_layout_round_trip_and_split(tmp_path):
    rows = uci_rows(3000)
    path = tmp_path / "HIGGS.csv.gz"
    write_csv(path, rows)
    outputs = outputs_in(tmp_path / "out")
    spec = tab.TableSpec(test_rows=700, valid_fraction=0.2)
    sizes = tab.unpack_table(path, spec, outputs, seed=5)
    assert sizes["test"] == 700 and sizes["train"] + sizes["valid"] == 2300
    # valid_fraction of the 2,300 training rows, within 4 binomial sigma
    assert abs(sizes["valid"] - 460) < 4 * math.sqrt(2300 * 0.2 * 0.8)
    test, y_test, w_test = read_back(outputs, "test")
    assert list(test.columns) == list(plan.HIGGS_FEATURES)
    assert test.dtypes.unique().tolist() == [np.float32]
    np.testing.assert_array_equal(y_test, rows[-700:, 0].astype(np.int8))
    np.testing.assert_allclose(test.to_numpy(), rows[-700:, 1:], rtol=1e-6)
    np.testing.assert_array_equal(w_test, np.ones(700))
    # train and valid together are the first 2,300 rows, each in file order
    parts = [read_back(outputs, split) for split in ("train", "valid")]
    first = np.concatenate([p[0].to_numpy() for p in parts])
    expected = rows[:2300, 1:].astype(np.float32)
    order = np.lexsort(first.T)
    np.testing.assert_array_equal(first[order], expected[np.lexsort(expected.T)])
    assert y_test.dtype == np.int8


def test_split_is_seeded_and_independent_of_block_size(tmp_path, monkeypatch):
    path = tmp_path / "t.csv"
    write_csv(path, uci_rows(2000))
    spec = tab.TableSpec(test_rows=300)
    a = tab.unpack_table(path, spec, outputs_in(tmp_path / "a"), seed=1)
    monkeypatch.setattr(tab, "CSV_BLOCK_BYTES", 4096)  # many small blocks
    b = tab.unpack_table(path, spec, outputs_in(tmp_path / "b"), seed=1)
    tab.unpack_table(path, spec, outputs_in(tmp_path / "c"), seed=2)
    assert a == b
    va = read_back(outputs_in(tmp_path / "a"), "valid")[0]
    vb = read_back(outputs_in(tmp_path / "b"), "valid")[0]
    vc = read_back(outputs_in(tmp_path / "c"), "valid")[0]
    pd.testing.assert_frame_equal(va, vb)
    assert not (len(va) == len(vc) and np.array_equal(va.to_numpy(), vc.to_numpy()))


@pytest.mark.parametrize("file_format", ["table", "fixed"])
def test_a_booby_trapped_hdf5_table_is_refused_without_running_anything(tmp_path, file_format):
    """An HDF5 table is read through h5py like the top-tagging files: an attribute holding a
    pickle that would call code refuses the file, and the code never runs."""
    from test_jets_benchmark import booby_trap

    path = tmp_path / "events.h5"
    frame = pd.DataFrame(uci_rows(50, seed=1)[:, :4], columns=["y", "a", "b", "c"])
    frame.to_hdf(path, key="events", format=file_format)
    spec = tab.TableSpec.from_config(
        {"header": True, "label": "y", "columns": {"a": "a"}, "test_rows": 10}
    )
    # negative control: the same file reads before the trap is set
    assert sum(len(block) for block in tab.read_blocks(path, spec)) == 50
    marker = tmp_path / "pwned"
    attribute = "axis0_variety" if file_format == "fixed" else "data_columns"
    booby_trap(path, "events", attribute, marker)
    with pytest.raises(DataError, match="GLOBAL"):
        tab.unpack_table(path, spec, outputs_in(tmp_path / "out"), seed=0)
    assert not marker.exists()
    assert not any((tmp_path / "out").rglob("*.feather"))


@pytest.mark.parametrize("suffix", [".parquet", ".feather", ".h5", ".csv"])
def test_other_formats_with_names_positions_weight_and_a_seeded_split(tmp_path, suffix):
    rows = uci_rows(1000, seed=3)
    frame = pd.DataFrame(rows[:, 1:4], columns=["a", "b", "c"])
    frame.insert(0, "is_signal", rows[:, 0].astype(np.int64))
    frame["w"] = np.linspace(0.5, 2.0, 1000)
    path = tmp_path / f"table{suffix}"
    if suffix == ".parquet":
        frame.to_parquet(path)
    elif suffix == ".feather":
        frame.to_feather(path)
    elif suffix == ".h5":
        frame.to_hdf(path, key="events", format="table")
    else:
        frame.to_csv(path, index=False)
    spec = tab.TableSpec.from_config(
        {
            "header": True,
            "label": "is_signal",
            "weight": "w",
            "columns": {"second": "c", "first": 1},  # by name and by position, reordered
            "test_rows": None,
            "test_fraction": 0.25,
            "valid_fraction": 0.2,
        }
    )
    outputs = outputs_in(tmp_path / "out")
    sizes = tab.unpack_table(path, spec, outputs, seed=7)
    assert sum(sizes.values()) == 1000
    assert abs(sizes["test"] - 250) < 4 * math.sqrt(1000 * 0.25 * 0.75)
    got = pd.concat([read_back(outputs, s)[0] for s in SPLITS])
    weights = np.concatenate([read_back(outputs, s)[2] for s in SPLITS])
    assert list(got.columns) == ["second", "first"]
    # every row arrives once, its weight with it
    index = np.argsort(weights)
    np.testing.assert_allclose(weights[index], frame["w"].to_numpy(), rtol=1e-12)
    np.testing.assert_allclose(got["second"].to_numpy()[index], frame["c"], rtol=1e-6)
    np.testing.assert_allclose(got["first"].to_numpy()[index], frame["a"], rtol=1e-6)


def bad_table(tmp_path, edit) -> tuple:
    rows = uci_rows(600).astype(object)
    edit(rows)
    path = tmp_path / "bad.csv"
    path.write_text("\n".join(",".join(str(v) for v in row) for row in rows) + "\n")
    return path


@pytest.mark.parametrize(
    ("edit", "spec", "expected"),
    [
        (
            lambda r: r.__setitem__((417, 5), "abc"),
            {},
            r"column 5 .*missing_energy_phi.*row 417 \(line 418\): 'abc': expected a number",
        ),
        (
            lambda r: r.__setitem__((300, 2), "nan"),
            {},
            r"column 2 .*lepton_eta.*row 300: empty or NaN cell",
        ),
        (
            lambda r: r.__setitem__((301, 2), "inf"),
            {},
            r"column 2 .*lepton_eta.*row 301: inf, expected a finite number",
        ),
        (
            lambda r: r.__setitem__((12, 0), 2.0),
            {},
            r"column 0 \(table.label\), row 12: label 2.0, expected 0 or 1",
        ),
        (
            lambda r: None,
            {"columns": {"x": 40}},
            r"column 40 \(table.columns.x\) does not exist: the file has 29 columns",
        ),
        (
            lambda r: None,
            {"columns": {"x": "m_bb"}},
            r"column 'm_bb' \(table.columns.x\) not found.*give positions",
        ),
        (lambda r: None, {"test_rows": 600}, r"600 rows, but table.test_rows is 600"),
    ],
    ids=["text", "nan", "inf", "label", "missing_position", "name_without_header", "too_short"],
)
def test_bad_input_is_named_and_leaves_nothing(tmp_path, edit, spec, expected):
    path = bad_table(tmp_path, edit)
    out = tmp_path / "out"
    with pytest.raises(DataError, match=expected) as error:
        tab.unpack_table(
            path, tab.TableSpec.from_config({"test_rows": 100, **spec}), outputs_in(out), seed=0
        )
    assert str(path) in str(error.value)
    assert not [p for p in out.rglob("*") if p.is_file()]  # no output, no temporary


def test_the_good_table_passes(tmp_path):
    """Negative control of the bad-input cases: the same table unedited unpacks."""
    path = bad_table(tmp_path, lambda r: None)
    sizes = tab.unpack_table(path, tab.TableSpec(test_rows=100), outputs_in(tmp_path / "o"), seed=0)
    assert sizes["test"] == 100


def test_load_split_reads_a_feature_sets_columns(tmp_path):
    path = tmp_path / "t.csv"
    rows = uci_rows(500)
    write_csv(path, rows)
    outputs = outputs_in(tmp_path / "out")
    tab.unpack_table(path, tab.TableSpec(test_rows=100), outputs, seed=0)
    files = list(outputs["test"].values())
    arrays = load_split(files, ["features"], columns=["m_wwbb", "lepton_pT"])
    assert arrays["features"].shape == (100, 2) and arrays["features"].dtype == np.float32
    np.testing.assert_allclose(arrays["features"], rows[-100:, [28, 1]], rtol=1e-6)
    assert load_split(files, ["features"])["features"].shape == (100, 28)
    with pytest.raises(DataError, match=r"features.feather: feature column\(s\) \['bogus'\]"):
        load_split(files, ["features"], columns=["bogus"])


def higgs_block(**changes) -> dict:
    block = {
        "kind": "tabular",
        "keys": ["features", "y"],
        "feature_sets": {
            "high": {"columns": list(plan.HIGGS_FEATURES[21:]), "models": ["nn", "bdt"]}
        },
    }
    block.update(changes)
    return block


def test_plan_checks_tabular_feature_sets():
    assert plan.dataset_problems("higgs", higgs_block()) == []
    sets = feature_sets_from_config(higgs_block())
    assert sets["high"].inputs == ("features",) and len(sets["high"].columns) == 7
    assert (
        "columns"
        not in feature_sets_from_config({"feature_sets": {"hl": {"inputs": ["hl"]}}})[
            "hl"
        ].to_dict()
    )
    bad = higgs_block(feature_sets={"low": {"columns": ["lepton_pT", "m_top"]}})
    assert plan.dataset_problems("higgs", bad) == [
        "datasets.higgs.feature_sets.low.columns: 'm_top' is not a column of "
        f"datasets.higgs.table.columns ({', '.join(plan.HIGGS_FEATURES)})"
    ]
    custom = higgs_block(table={"columns": {"a": 1}}, feature_sets={"s": {"columns": ["a"]}})
    assert plan.dataset_problems("higgs", custom) == []
    no_columns = higgs_block(feature_sets={"s": {"inputs": ["features"]}})
    assert "kind tabular needs columns" in plan.dataset_problems("higgs", no_columns)[0]
    electrons = {
        "kind": "electrons",
        "keys": ["hl", "y"],
        "feature_sets": {"hl": {"inputs": ["hl"], "columns": ["a"]}},
    }
    assert "only kind tabular has columns" in " ".join(plan.dataset_problems("e", electrons))
    with pytest.raises(SettingsError, match="cannot be combined"):
        feature_sets_from_config({"feature_sets": {"s": {"inputs": ["hl"], "columns": ["a"]}}})
    assert set(plan.KIND_KEYS["tabular"]) == set(tab.KEYS)
    assert tab.HIGGS_COLUMNS == {name: i + 1 for i, name in enumerate(plan.HIGGS_FEATURES)}


# --- discovery significance ---


def profile_likelihood_z(s: float, b: float, sigma_b: float) -> float:
    """Z = sqrt(q0) of the Asimov data set, computed numerically from the on/off likelihood
    (n ~ Pois(mu s + beta), m ~ Pois(tau beta), tau = b / sigma_b^2): an independent route to
    the closed form under test."""
    from scipy.optimize import minimize_scalar

    tau = b / sigma_b**2
    n, m = s + b, tau * b

    def nll(mu, beta):
        # Poisson log-likelihood extended to real counts (Asimov data are not integers)
        return -(n * np.log(mu * s + beta) - (mu * s + beta) + m * np.log(tau * beta) - tau * beta)

    free = minimize_scalar(lambda beta: nll(1.0, beta), bounds=(1e-9, 10 * n), method="bounded")
    null = minimize_scalar(lambda beta: nll(0.0, beta), bounds=(1e-9, 10 * n), method="bounded")
    return math.sqrt(2 * (null.fun - free.fun))


@pytest.mark.parametrize(("s", "b", "sigma_b"), [(100, 1000, 50), (30, 20, 1.0), (5, 50, 10)])
def test_asimov_significance_against_the_numerical_profile_likelihood(s, b, sigma_b):
    assert metrics.asimov_significance(s, b, sigma_b) == pytest.approx(
        profile_likelihood_z(s, b, sigma_b), rel=1e-4
    )


def test_asimov_significance_limits():
    # sigma_b -> 0: the standard Asimov Z, sqrt(2((s+b) ln(1+s/b) - s))
    standard = math.sqrt(2 * ((100 + 1000) * math.log(1 + 100 / 1000) - 100))
    assert metrics.asimov_significance(100, 1000, 0.0) == pytest.approx(standard, rel=1e-12)
    assert metrics.asimov_significance(100, 1000, 1e-4) == pytest.approx(standard, rel=1e-6)
    # s << b: s / sqrt(b + sigma_b^2)
    assert metrics.asimov_significance(1, 1e6, 300) == pytest.approx(
        1 / math.sqrt(1e6 + 9e4), rel=1e-3
    )
    assert metrics.asimov_significance(0, 10, 1) == 0
    assert math.isinf(metrics.asimov_significance(5, 0, 0))
    # the background uncertainty only lowers Z
    assert metrics.asimov_significance(100, 1000, 50) < standard


def test_threshold_is_chosen_on_valid_and_measured_on_test():
    settings = metrics.SignificanceSettings(min_background_selected=5)
    rng = np.random.default_rng(0)
    y = np.r_[np.ones(2000), np.zeros(2000)].astype(int)
    valid_score = np.r_[rng.normal(1.5, 1, 2000), rng.normal(0, 1, 2000)]
    chosen = metrics.choose_threshold(y, valid_score, None, settings)
    scan = metrics.significance_scan(y, valid_score, None, settings)
    allowed = scan[scan["background_selected"] >= 5]
    assert chosen["z"] == pytest.approx(allowed["z"].max())
    # the test split measures at that threshold: eps from the test scores, not valid's
    test_score = valid_score - 0.5
    measured = metrics.significance_at(y, test_score, None, chosen["threshold"], settings)
    eps_s = float((test_score[y == 1] >= chosen["threshold"]).mean())
    eps_b = float((test_score[y == 0] >= chosen["threshold"]).mean())
    assert measured["eps_s"] == pytest.approx(eps_s) and measured["eps_b"] == pytest.approx(eps_b)
    b = 1000 * eps_b
    assert measured["z"] == pytest.approx(
        float(metrics.asimov_significance(100 * eps_s, b, 0.05 * b))
    )
    # the minimum background: without it the best cut sits where a few events pass
    loose = metrics.choose_threshold(
        y, valid_score, None, metrics.SignificanceSettings(min_background_selected=0)
    )
    assert loose["threshold"] > chosen["threshold"] and loose["z"] > chosen["z"]


def write_scores(path, y, score):
    io.write_table(pd.DataFrame({"y": y, "score": score, "weight": np.ones(len(y))}), path)


def test_higgs_benchmark_table(tmp_path):
    from hepml.steps.tabular import higgs_benchmark

    rng = np.random.default_rng(1)
    y = np.r_[np.ones(1000), np.zeros(1000)].astype(np.int8)
    inputs = {"metrics": [], "valid": [], "test": []}
    for name, shift in (("high", 1.0), ("high-bdt", 0.5)):
        io.write_json(
            tmp_path / f"{name}.json",
            {
                "name": name,
                "model": "x",
                "auc": 0.7,
                "auc_low": 0.69,
                "auc_high": 0.71,
                "status": "ok",
            },
        )
        for split in ("valid", "test"):
            write_scores(tmp_path / f"{name}_{split}.feather", y, rng.normal(shift * y, 1.0))
            inputs[split].append(tmp_path / f"{name}_{split}.feather")
        inputs["metrics"].append(tmp_path / f"{name}.json")
    params = {
        "names": ["high", "high-bdt"],
        "significance": {
            "signal_events": 100,
            "background_events": 1000,
            "background_uncertainty": 50,
            "min_background_selected": 10,
        },
        "published": {"high": {"tagger": "DN", "auc": 0.8, "significance": 3.6}},
    }
    outputs = {"table": tmp_path / "t.csv", "markdown": tmp_path / "t.md"}
    table = higgs_benchmark(inputs, outputs, {"settings": params}).set_index("name")
    valid = io.read_table(inputs["valid"][0])
    test = io.read_table(inputs["test"][0])
    settings = metrics.SignificanceSettings()
    chosen = metrics.choose_threshold(valid["y"], valid["score"], valid["weight"], settings)
    expected = metrics.significance_at(
        test["y"], test["score"], test["weight"], chosen["threshold"], settings
    )
    assert table.loc["high", "threshold"] == chosen["threshold"]
    assert table.loc["high", "significance"] == pytest.approx(expected["z"])
    assert table.loc["high", "significance"] > table.loc["high-bdt", "significance"]
    assert table.loc["high", "paper_significance"] == 3.6 and math.isnan(
        table.loc["high-bdt", "paper_auc"]
    )
    text = outputs["markdown"].read_text()
    assert "not on these events" in text and "never used as a target" in text
    assert list(pd.read_csv(outputs["table"])["name"]) == ["high", "high-bdt"]


def test_results_document_shows_the_tabular_dataset():
    from hepml.steps.evaluate import results_markdown

    tables = {
        "higgs/summary/higgs_benchmark.md": "| name | significance |\n|---|---|\n| high | 2.1 |\n"
    }
    text = results_markdown(
        tables,
        ["higgs/plots/table_features.png"],
        {"datasets": {"higgs": "tabular"}, "config": {}},
        "abc",
    )
    assert "## higgs (kind tabular)" in text
    assert "### Higgs benchmark" in text and "| high | 2.1 |" in text
    assert "results/higgs/plots/table_features.png" in text


def test_valid_rows_are_the_rows_before_the_test_rows(tmp_path):
    """The authors' split (uci-igb/higgs-susy physics.py): train, then valid_rows, then test."""
    rows = uci_rows(1000)
    path = tmp_path / "t.csv"
    write_csv(path, rows)
    outputs = outputs_in(tmp_path / "out")
    spec = tab.TableSpec(test_rows=200, valid_rows=150)
    assert tab.unpack_table(path, spec, outputs, seed=0) == {
        "train": 650,
        "valid": 150,
        "test": 200,
    }
    for split, part in (("train", rows[:650]), ("valid", rows[650:800]), ("test", rows[800:])):
        features, y, _ = read_back(outputs, split)
        np.testing.assert_array_equal(features.to_numpy(), part[:, 1:].astype(np.float32))
        np.testing.assert_array_equal(y, part[:, 0].astype(np.int8))


def test_a_bad_cell_is_named_by_its_file_column_when_only_some_columns_are_read(tmp_path):
    """pyarrow numbers columns in the file, not among those read: the message must name
    the configured column the bad cell is in (here the second of two, out of file order)."""
    rows = uci_rows(300).astype(object)
    rows[123, 5] = "1.2.3"
    path = tmp_path / "t.csv"
    path.write_text("\n".join(",".join(str(v) for v in row) for row in rows) + "\n")
    spec = tab.TableSpec.from_config({"columns": [["phi", 5], ["eta", 2]], "test_rows": 50})
    assert list(spec.columns) == ["phi", "eta"]  # [name, ref] pairs keep their order
    with pytest.raises(DataError, match=r"column 5 \(table.columns.phi\), row 123 \(line 124\)"):
        tab.unpack_table(path, spec, outputs_in(tmp_path / "out"), seed=0)
