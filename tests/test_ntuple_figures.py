"""The TMVA-style figures and tables of the ntuple analyses (hepml.steps.ntuple_figures,
hepml.ntuple_stats; docs/ntuples.md "Figures").

The per-sample tables come from the open-data fixture (tests/ntuple_fixture.py) read with
config/ztautau.yaml's block; a seeded split column and a stand-in classifier (a logistic
function of the variables that ignores ``tau_et``) make the applied table. Every number is
checked against an independent computation: the KS test against scipy, the weighted AUC
against a sum over signal-background pairs, the significance and the yields against direct
weighted sums, the chosen cut against a brute-force scan of the validation rows.
"""

from __future__ import annotations

import math
from pathlib import Path

import ntuple_fixture
import numpy as np
import pandas as pd
import pytest
import yaml
from hepml import io, ntuple_stats
from hepml.io import ntuples
from hepml.steps import evaluate
from hepml.steps import ntuple_figures as steps
from scipy import stats

REPO = Path(__file__).resolve().parents[1]
BLOCK = yaml.safe_load((REPO / "config" / "ztautau.yaml").read_text())["datasets"]["ztautau"][
    "ntuples"
]
NAME = "tmva-bdt"
COLUMNS = ["tau_et", "sum_dphi", "mt", "sum_cos_dphi"]
FRACTIONS = {"valid": 0.2, "test": 0.3}
SIGNIFICANCE = {"background_uncertainty": 0.1, "min_background": 1.0, "min_background_mc": 10}
# The stand-in classifier: tau_et is ignored (its permutation importance must be 0).
COEFFICIENTS = {"tau_et": 0.0, "sum_dphi": -0.8, "mt": -0.06, "sum_cos_dphi": 0.9}


def linear_scorer(model_dir, name, frame, columns):
    """The signature of hepml.steps.ntuples.score_frame; a logistic of the columns."""
    assert list(columns) == COLUMNS and name == NAME
    x = sum(COEFFICIENTS[c] * frame[c].to_numpy(np.float64) for c in columns)
    return 1.0 / (1.0 + np.exp(-(x + 2.0)))


@pytest.fixture(scope="module")
def tables(tmp_path_factory) -> dict:
    """Per-sample tables with a split column and the applied table of the stand-in model."""
    root = tmp_path_factory.mktemp("ntuple_figures")
    ntuple_fixture.write_fixture(root / "in", seed=11, events=10)
    settings = ntuples.NtupleBlock.from_config({**BLOCK, "path": str(root / "in")})
    rng = np.random.default_rng(5)
    paths, frames = {}, []
    for sample in settings.samples:
        raw = root / "raw" / f"{sample.name}.feather"
        ntuples.unpack_sample(settings, sample.name, raw)
        frame = io.read_table(raw)
        frame["split"] = (
            "data"
            if sample.role == "data"
            else rng.choice(["train", "valid", "test"], len(frame), p=[0.5, 0.2, 0.3])
        )
        paths[sample.name] = root / "ntuples" / f"{sample.name}.feather"
        io.write_table(frame, paths[sample.name])
        frames.append(frame)
    applied = pd.concat(frames, ignore_index=True)
    applied["score"] = linear_scorer("m", NAME, applied, COLUMNS).astype(np.float32)
    io.write_table(applied, root / "applied" / f"{NAME}.feather")
    return {"root": root, "samples": paths, "applied": root / "applied" / f"{NAME}.feather"}


def applied_frame(tables) -> pd.DataFrame:
    return io.read_table(tables["applied"])


@pytest.fixture(scope="module")
def significance(tables) -> Path:
    """The significance step run once: its one-row table (the cut chosen on valid)."""
    root = tables["root"]
    outputs = {
        "figure": root / "plots" / "significance" / f"{NAME}.png",
        "table": root / "summary" / "significance" / f"{NAME}.csv",
    }
    params = {"settings": {"fractions": FRACTIONS, "significance": SIGNIFICANCE}}
    steps.ntuple_significance(
        {"applied": tables["applied"]}, outputs, params, dataset="zt", name=NAME
    )
    assert outputs["figure"].stat().st_size > 0
    return outputs["table"]


# --- the weighted KS test ------------------------------------------------------------------


def test_weighted_ks_is_scipys_on_unit_weights_and_repeats_events_for_integer_weights():
    rng = np.random.default_rng(2)
    a, b = rng.normal(0, 1, 300), rng.normal(0.2, 1.1, 170)
    ours = ntuple_stats.weighted_ks(a, np.ones(300), b, np.ones(170))
    asymp = stats.ks_2samp(a, b, method="asymp")
    assert ours["statistic"] == pytest.approx(asymp.statistic, abs=1e-12)
    assert ours["pvalue"] == pytest.approx(asymp.pvalue, rel=1e-9)
    assert (ours["n_eff1"], ours["n_eff2"]) == (pytest.approx(300), pytest.approx(170))
    # weight k = the event k times: the same statistic as scipy on the repeated events
    wa, wb = rng.integers(1, 4, 300), rng.integers(1, 4, 170)
    weighted = ntuple_stats.weighted_ks(a, wa, b, wb)
    repeated = stats.ks_2samp(np.repeat(a, wa), np.repeat(b, wb))
    assert weighted["statistic"] == pytest.approx(repeated.statistic, abs=1e-12)
    assert weighted["n_eff1"] == pytest.approx(wa.sum() ** 2 / (wa**2).sum())
    # the same distribution drawn twice is not flagged; a shifted one is
    same = ntuple_stats.weighted_ks(a[:150], np.ones(150), a[150:], np.ones(150))
    shifted = ntuple_stats.weighted_ks(a, np.ones(300), a + 0.5, np.ones(300))
    assert same["pvalue"] > 0.01 > shifted["pvalue"]


@pytest.fixture(scope="module")
def overtraining(tables) -> dict:
    """The overtraining step run once: its outputs."""
    root = tables["root"]
    outputs = {
        "figure": root / "plots" / "overtraining" / f"{NAME}.png",
        "table": root / "summary" / "overtraining" / f"{NAME}.csv",
    }
    steps.plot_ntuple_overtraining({"applied": tables["applied"]}, outputs, dataset="zt", name=NAME)
    return outputs


def test_overtraining_table_and_figure(tables, overtraining):
    assert overtraining["figure"].stat().st_size > 0
    table = io.read_csv(overtraining["table"])
    frame = applied_frame(tables)
    for cls, label in (("signal", 1), ("background", 0)):
        row = table[table["class"] == cls].iloc[0]
        train = frame[(frame["label"] == label) & (frame["split"] == "train")]
        test = frame[(frame["label"] == label) & (frame["split"] == "test")]
        assert (row["train_events"], row["test_events"]) == (len(train), len(test))
        expected = stats.ks_2samp(train["score"], test["score"]).pvalue
        assert row["ks_pvalue_unweighted"] == pytest.approx(expected, rel=1e-9)
        assert row["test_n_eff"] == pytest.approx(
            test["weight"].sum() ** 2 / (test["weight"] ** 2).sum(), rel=1e-9
        )
        assert 0 <= row["ks_pvalue"] <= 1
    assert list(table["class"]) == ["signal", "background"]


# --- significance --------------------------------------------------------------------------


def asimov(s: float, b: float, sigma: float) -> float:
    """Cowan's Asimov Z with background uncertainty, written out (independent of metrics)."""
    v = sigma**2
    first = (s + b) * math.log((s + b) * (b + v) / (b * b + (s + b) * v))
    second = b * b / v * math.log(1 + v * s / (b * (b + v)))
    return math.sqrt(2 * (first - second))


def direct(frame: pd.DataFrame, split: str, cut: float) -> tuple[float, float, int]:
    rows = frame[(frame["split"] == split) & (frame["score"] >= cut)]
    scale = 1 / FRACTIONS[split]
    s = rows.loc[rows["label"] == 1, "weight"].sum() * scale
    b = rows.loc[rows["label"] == 0, "weight"].sum() * scale
    return s, b, int((rows["label"] == 0).sum())


def test_significance_at_the_cut_is_the_direct_weighted_sum_and_the_cut_is_valids_best(
    tables, significance
):
    row = io.read_csv(significance).iloc[0]
    frame = applied_frame(tables)
    for split in ("valid", "test"):
        s, b, _ = direct(frame, split, row["cut"])
        assert row[f"{split}_s"] == pytest.approx(s, rel=1e-9)
        assert row[f"{split}_b"] == pytest.approx(b, rel=1e-9)
        assert row[f"{split}_s_over_sqrt_s_plus_b"] == pytest.approx(s / math.sqrt(s + b))
        assert row[f"{split}_z_asimov"] == pytest.approx(asimov(s, b, 0.1 * b), rel=1e-9)
    before = direct(frame, "test", -np.inf)
    assert row["test_s_before"] == pytest.approx(before[0], rel=1e-9)
    # brute force over the valid scores: the best Asimov Z with enough background, lowest cut
    candidates = []
    for cut in np.unique(frame.loc[frame["split"] == "valid", "score"]):
        s, b, n = direct(frame, "valid", cut)
        if b >= 1.0 and n >= 10:
            candidates.append((asimov(s, b, 0.1 * b), -cut))
    z, cut = max(candidates)
    assert row["cut"] == pytest.approx(-cut)
    assert row["valid_z_asimov"] == pytest.approx(z, rel=1e-9)


def rescored(tables, tmp_path, split: str, name: str) -> Path:
    """The applied table with the scores of one split's rows redrawn (seeded)."""
    frame = applied_frame(tables)
    rows = (frame["split"] == split).to_numpy()
    frame.loc[rows, "score"] = np.random.default_rng(9).uniform(0, 1, rows.sum()).astype("f4")
    path = tmp_path / name / f"{NAME}.feather"
    io.write_table(frame, path)
    return path


def test_the_cut_is_chosen_on_valid_only(tables, tmp_path):
    settings = ntuple_stats.NtupleSignificanceSettings(**SIGNIFICANCE)

    def row(path: Path) -> dict:
        return ntuple_stats.significance_row(io.read_table(path), NAME, FRACTIONS, settings)[0]

    reference = row(tables["applied"])
    changed = row(rescored(tables, tmp_path, "test", "t"))
    assert changed["cut"] == reference["cut"]  # test rows changed: the cut stays
    assert changed["valid_z_asimov"] == reference["valid_z_asimov"]
    assert changed["test_z_asimov"] != reference["test_z_asimov"]  # ...what test reports moves
    # negative control: changing the valid rows moves the cut
    assert row(rescored(tables, tmp_path, "valid", "v"))["cut"] != reference["cut"]


def test_a_cut_needs_enough_background(tables, tmp_path):
    outputs = {"figure": tmp_path / "s.png", "table": tmp_path / "s.csv"}
    params = {
        "settings": {
            "fractions": FRACTIONS,
            "significance": {**SIGNIFICANCE, "min_background_mc": 10**6},
        }
    }
    with pytest.raises(ValueError, match="min_background"):
        steps.ntuple_significance(
            {"applied": tables["applied"]}, outputs, params, dataset="zt", name=NAME
        )
    assert not outputs["table"].exists() and not outputs["figure"].exists()


# --- permutation importance ----------------------------------------------------------------


def pairwise_auc(y, score, weight) -> float:
    """Weighted AUC as the sum over signal-background pairs (ties count half)."""
    s, b = y == 1, y == 0
    greater = (score[s][:, None] > score[b][None, :]) + 0.5 * (
        score[s][:, None] == score[b][None, :]
    )
    pairs = weight[s][:, None] * weight[b][None, :]
    return float((greater * pairs).sum() / pairs.sum())


def test_permutation_importance_on_valid(tables, tmp_path):
    outputs = {"table": tmp_path / "r.csv", "figure": tmp_path / "r.png"}
    params = {"settings": {"columns": COLUMNS, "ranking": {"repeats": 3}, "seed": 4}}
    inputs = {"applied": tables["applied"], "model": tmp_path / "models" / NAME / "model.txt"}
    table = steps.ntuple_ranking(
        inputs, outputs, params, dataset="zt", name=NAME, scorer=linear_scorer
    )
    assert outputs["figure"].stat().st_size > 0
    by_name = table.set_index("variable")
    assert by_name.loc["tau_et", "auc_drop"] == 0.0  # the scorer ignores it
    assert by_name.loc["tau_et", "auc_drop_std"] == 0.0
    assert by_name.loc["mt", "auc_drop"] > 0.05  # the fixture's separating variable
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert table["auc_drop"].is_monotonic_decreasing
    frame = applied_frame(tables)
    valid = frame[frame["split"] == "valid"]
    score = linear_scorer("m", NAME, valid, COLUMNS)
    expected = pairwise_auc(valid["label"].to_numpy(), score, valid["weight"].to_numpy())
    assert table["auc"].iloc[0] == pytest.approx(expected, abs=1e-12)
    # seeded: the same table again
    again = steps.ntuple_ranking(
        inputs, outputs, params, dataset="zt", name=NAME, scorer=linear_scorer
    )
    pd.testing.assert_frame_equal(table, again)


# --- data against the simulation -----------------------------------------------------------


def test_data_mc_yields_are_the_direct_sums_and_the_figures_are_drawn(
    tables, significance, tmp_path
):
    cut = io.read_csv(significance)["cut"].iloc[0]
    inputs = {"applied": tables["applied"], "significance": significance}
    params = {"settings": {"fractions": FRACTIONS}}
    outputs = {"table": tmp_path / "y.csv", "markdown": tmp_path / "y.md"}
    table = steps.ntuple_data_mc_yields(inputs, outputs, params, name=NAME).set_index("process")
    frame = applied_frame(tables)
    test = frame[frame["split"] == "test"]
    data = frame[frame["split"] == "data"]
    for process, rows in test.groupby("process"):
        after = rows[rows["score"] >= cut]
        assert table.loc[process, "before"] == pytest.approx(rows["weight"].sum() / 0.3)
        assert table.loc[process, "after"] == pytest.approx(after["weight"].sum() / 0.3)
        assert table.loc[process, "before_error"] == pytest.approx(
            math.sqrt((rows["weight"] ** 2).sum()) / 0.3
        )
        assert table.loc[process, "after_events"] == len(after)
    assert table.loc["total MC", "before"] == pytest.approx(test["weight"].sum() / 0.3)
    assert table.loc["data", "before"] == len(data)
    assert table.loc["data", "after"] == (data["score"] >= cut).sum()
    assert "score >= " in outputs["markdown"].read_text()
    # the stacked histograms of the figure hold the same yields
    from hepml.plots import ntuples as plots

    stacked, _ = plots.data_mc_histograms(
        ntuple_stats.data_mc_frame(frame, FRACTIONS, cut), "m_vis", np.linspace(0, 200, 11)
    )
    for process, (sum_w, _) in stacked.items():
        assert sum_w.sum() == pytest.approx(table.loc[process, "after"], rel=1e-9)
    figures = {"before": tmp_path / "m_vis_before.png", "after": tmp_path / "m_vis_after.png"}
    steps.plot_ntuple_data_mc(inputs, figures, params, name=NAME, column="m_vis")
    assert all(path.stat().st_size > 0 for path in figures.values())


def test_input_figures_read_the_train_split_and_name_a_missing_column(tables, tmp_path):
    paths = [p for s, p in tables["samples"].items() if s != "data"]
    params = {"settings": {"variables": COLUMNS, "spectators": ["m_vis"]}}
    outputs = {"variables": tmp_path / "v.png", "correlation": tmp_path / "c.png"}
    steps.plot_ntuple_inputs({"tables": paths}, outputs, params)
    assert all(path.stat().st_size > 0 for path in outputs.values())
    broken = tmp_path / "broken.feather"
    io.write_table(io.read_table(paths[0]).drop(columns="split"), broken)
    bad = {"variables": tmp_path / "bv.png", "correlation": tmp_path / "bc.png"}
    with pytest.raises(io.DataError, match=r"broken\.feather.*'split'"):
        steps.plot_ntuple_inputs({"tables": [broken, *paths[1:]]}, bad, params)
    assert not any(path.exists() for path in bad.values())


def test_a_bad_applied_table_is_named_and_leaves_nothing(tables, tmp_path):
    frame = applied_frame(tables)
    frame.loc[3, "score"] = np.nan
    path = tmp_path / "nan.feather"
    io.write_table(frame, path)
    outputs = {"figure": tmp_path / "o.png", "table": tmp_path / "o.csv"}
    with pytest.raises(io.DataError, match=r"nan\.feather.*'score'.*1 NaN"):
        steps.plot_ntuple_overtraining({"applied": path}, outputs, dataset="zt", name=NAME)
    frame = applied_frame(tables)
    frame.loc[frame["split"] == "data", "label"] = 0
    io.write_table(frame, path)
    with pytest.raises(io.DataError, match=r"'label' must be null on data rows"):
        steps.plot_ntuple_overtraining({"applied": path}, outputs, dataset="zt", name=NAME)
    assert not any(p.exists() for p in outputs.values())


# --- summaries and the results document ----------------------------------------------------


def test_summaries_and_the_results_document(tables, significance, overtraining, tmp_path):
    results = tmp_path / "results"
    summary = results / "zt" / "summary"
    outputs = {
        "overtraining": summary / "overtraining.csv",
        "overtraining_markdown": summary / "overtraining.md",
        "significance": summary / "significance.csv",
        "significance_markdown": summary / "significance.md",
    }
    inputs = {"overtraining": [overtraining["table"]], "significance": [significance]}
    params = {"settings": {"names": [NAME], "fractions": FRACTIONS, "significance": SIGNIFICANCE}}
    steps.summarise_ntuple_figures(inputs, outputs, params)
    gathered = io.read_csv(outputs["significance"])
    pd.testing.assert_frame_equal(gathered, io.read_csv(significance))
    assert "chosen on the validation split" in outputs["significance_markdown"].read_text()
    assert "weighted with the signed" in outputs["overtraining_markdown"].read_text()
    other = {"settings": {**params["settings"], "names": ["other"]}}
    with pytest.raises(io.DataError, match="expected the rows of 'other'"):
        steps.summarise_ntuple_figures(inputs, outputs, other)
    # the results document: the ntuple tables under their dataset, the figures linked
    io.write_text(summary / "cutflow.md", "| sample | cut |\n|---|---|\n| ztautau | all |\n")
    io.write_text(summary / f"data_mc_{NAME}.md", "| process | before |\n|---|---|\n| data | 3 |\n")
    figure = results / "zt" / "plots" / "overtraining" / f"{NAME}.png"
    io.write_text(figure, "png")
    table_paths = [
        summary / "cutflow.md",
        outputs["significance_markdown"],
        summary / f"data_mc_{NAME}.md",
    ]
    text = evaluate.write_results(
        {"tables": table_paths, "figures": [figure]},
        {"document": results / "results.md"},
        {"settings": {"datasets": [["zt", "tabular"]], "config": {"seed": 1}}},
        code_directory=tmp_path,
    )
    headings = ["Ntuples: cut-flow", "Ntuples: significance", f"yields, `{NAME}`"]
    assert [text.index(h) for h in headings] == sorted(text.index(h) for h in headings)
    assert f"ntuples: overtraining check, `{NAME}`: `results/zt/plots/overtraining/" in text
    assert "| ztautau | all |" in text
