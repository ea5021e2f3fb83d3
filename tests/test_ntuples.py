"""Ntuple samples read from ROOT files (hepml.io.ntuples, docs/ntuples.md) on a uproot-written
fixture in the ATLAS Open Data 13 TeV 1lep1tau layout (tests/ntuple_fixture.py), with the
preselection, weights and variables of config/ztautau.yaml.

Every yield is checked against an independent computation: a plain Python loop over the arrays
the fixture wrote, with the preselection written out by hand below (it follows the config's
cuts; change both together)."""

from __future__ import annotations

import copy
import math
from pathlib import Path

import ntuple_fixture
import numpy as np
import pyarrow.feather as pa_feather
import pytest
import yaml
from hepml.io import ntuples
from hepml.io.ntuples import NtupleBlock, NtupleError, training_weights
from hepml.settings import SettingsError

REPO = Path(__file__).resolve().parents[1]
CONFIG = yaml.safe_load((REPO / "config" / "ztautau.yaml").read_text())
BLOCK = CONFIG["datasets"]["ztautau"]["ntuples"]
LUMI = 10.0
CUTS = [
    "all",
    "muon_trigger",
    "one_lepton_one_tau",
    "muon",
    "tau_eta",
    "one_prong_tau",
    "lepton_pt",
    "lepton_eta",
    "transverse_mass",
    "opposite_sign",
    "isolated_lepton",
]


def block(root, **changes) -> dict:
    values = copy.deepcopy(BLOCK)
    values["path"] = str(root)
    values.update(changes)
    return values


@pytest.fixture(scope="module")
def fixture_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("opendata")
    written = ntuple_fixture.write_fixture(root, seed=7)
    return root, written


@pytest.fixture(scope="module")
def unpacked(fixture_root, tmp_path_factory):
    """Every sample of the config unpacked, in steps of 150 entries (two or three per file)."""
    root, written = fixture_root
    out = tmp_path_factory.mktemp("tables")
    settings = NtupleBlock.from_config(block(root, step_size=150))
    cutflows = {
        s.name: ntuples.unpack_sample(settings, s.name, out / f"{s.name}.feather")
        for s in settings.samples
    }
    ntuples.write_cutflow(cutflows.values(), out / "cutflow.csv")
    return settings, written, cutflows, out


# ------------------------------------------------------------------ the independent computation
def delta_phi(a: float, b: float) -> float:
    """|a - b| folded into [0, pi]."""
    d = abs(a - b) % (2 * math.pi)
    return min(d, 2 * math.pi - d)


def expected_events(branches: dict, data: bool):
    """Per event of one file: (weight, cuts passed in order, variables or None), by hand."""
    for i in range(len(branches["mcWeight"])):
        if data:
            weight = 1.0
        else:
            weight = float(branches["mcWeight"][i])
            for name in ("PILEUP", "ELE", "MUON", "LepTRIGGER", "TAU"):
                weight *= float(branches[f"scaleFactor_{name}"][i])
            weight *= (
                float(branches["XSection"][i]) * 1000 * LUMI / float(branches["SumWeights"][i])
            )
        lep = {k[4:]: v[i] for k, v in branches.items() if k.startswith("lep_") and k != "lep_n"}
        tau = {k[4:]: v[i] for k, v in branches.items() if k.startswith("tau_") and k != "tau_n"}
        met, met_phi = float(branches["met_et"][i]), float(branches["met_phi"][i])
        passed = passed_cuts(bool(branches["trigM"][i]), lep, tau, met, met_phi)
        variables = None
        if passed == len(CUTS) - 1:
            variables = event_variables(lep, tau, met, met_phi)
        yield weight, passed, variables


def passed_cuts(trigger: bool, lep: dict, tau: dict, met: float, met_phi: float) -> int:
    """How many cuts of the preselection, in order, one event passes."""
    checks = [
        lambda: trigger,
        lambda: len(lep["pt"]) == 1 and len(tau["pt"]) == 1,
        lambda: lep["type"][0] == 13,
        lambda: abs(tau["eta"][0]) < 2.5,
        lambda: tau["nTracks"][0] == 1,
        lambda: lep["pt"][0] > 26000,
        lambda: abs(lep["eta"][0]) < 2.5,
        lambda: transverse_mass(lep, met, met_phi) < 70,
        lambda: lep["charge"][0] * tau["charge"][0] < 0,
        lambda: lep["ptcone30"][0] / lep["pt"][0] < 0.1 and lep["etcone20"][0] / lep["pt"][0] < 0.1,
    ]
    for passed, check in enumerate(checks):
        if not check():
            return passed
    return len(checks)


def transverse_mass(lep, met, met_phi) -> float:
    pt, phi = float(lep["pt"][0]), float(lep["phi"][0])
    return math.sqrt(2 * pt * met * (1 - math.cos(phi - met_phi))) / 1000


def event_variables(lep, tau, met, met_phi) -> dict[str, float]:
    l_pt, l_eta, l_phi, l_e = (float(lep[k][0]) for k in ("pt", "eta", "phi", "E"))
    t_pt, t_eta, t_phi, t_e = (float(tau[k][0]) for k in ("pt", "eta", "phi", "E"))
    px = l_pt * math.cos(l_phi) + t_pt * math.cos(t_phi)
    py = l_pt * math.sin(l_phi) + t_pt * math.sin(t_phi)
    pz = l_pt * math.sinh(l_eta) + t_pt * math.sinh(t_eta)
    return {
        "tau_et": t_e / math.cosh(t_eta) / 1000,
        "sum_dphi": delta_phi(l_phi, met_phi) + delta_phi(t_phi, met_phi),
        "mt": transverse_mass(lep, met, met_phi),
        "sum_cos_dphi": math.cos(l_phi - met_phi) + math.cos(t_phi - met_phi),
        "m_vis": math.sqrt(max((l_e + t_e) ** 2 - px**2 - py**2 - pz**2, 0.0)) / 1000,
    }


def expected_sample(files: list[dict], data: bool):
    """Cut-flow rows (events, sum w, sum w^2 per cut) and the selected events' values."""
    events = np.zeros(len(CUTS), dtype=int)
    sum_w, sum_w2 = np.zeros(len(CUTS)), np.zeros(len(CUTS))
    selected = []
    for branches in files:
        for weight, passed, variables in expected_events(branches, data):
            for row in range(passed + 1):
                events[row] += 1
                sum_w[row] += weight
                sum_w2[row] += weight * weight
            if variables is not None:
                selected.append({**variables, "weight": weight})
    return events, sum_w, sum_w2, selected


# ------------------------------------------------------------------ yields and tables
def test_every_weighted_yield_matches_an_independent_computation(unpacked):
    settings, written, cutflows, out = unpacked
    rows = ntuples.read_cutflow(out / "cutflow.csv")
    assert [r["cut"] for r in rows if r["sample"] == "ztautau"] == CUTS
    for sample in settings.samples:
        events, sum_w, sum_w2, _ = expected_sample(written[sample.name], sample.role == "data")
        mine = [r for r in rows if r["sample"] == sample.name]
        assert [r["events"] for r in mine] == events.tolist(), sample.name
        np.testing.assert_allclose(
            [r["sum_w"] for r in mine], sum_w, rtol=1e-9, err_msg=sample.name
        )
        np.testing.assert_allclose(
            [r["sum_w2"] for r in mine], sum_w2, rtol=1e-9, err_msg=sample.name
        )
        assert events[-1] > 0, (
            f"{sample.name}: the fixture must leave events after the preselection"
        )


def test_tables_hold_the_selected_events_with_their_variables_and_signed_weights(unpacked):
    settings, written, _, out = unpacked
    negative = 0
    for sample in settings.samples:
        table = pa_feather.read_table(out / f"{sample.name}.feather")
        assert table.column_names == [
            *settings.columns,
            "weight",
            "label",
            "sample",
            "process",
            "entry",
        ]
        _, _, _, selected = expected_sample(written[sample.name], sample.role == "data")
        assert table.num_rows == len(selected)
        for name in settings.columns:
            np.testing.assert_allclose(
                table[name].to_numpy(),
                [e[name] for e in selected],
                rtol=2e-6,
                atol=2e-5,
                err_msg=name,
            )
        weight = table["weight"].to_numpy()
        np.testing.assert_allclose(weight, [e["weight"] for e in selected], rtol=1e-12)
        negative += int((weight < 0).sum())
        assert set(table["sample"].to_pylist()) == {sample.name}
        assert set(table["process"].to_pylist()) == {sample.process}
        labels = table["label"]
        if sample.role == "data":
            assert labels.null_count == table.num_rows  # data are unlabeled
        else:
            assert labels.to_pylist() == [1 if sample.role == "signal" else 0] * table.num_rows
    assert negative > 0, "the fixture must put negative generator weights in the tables"


def test_results_do_not_depend_on_the_step_size(fixture_root, unpacked, tmp_path):
    """Steps of 40 entries (four per file of wmunu's two) give the same table and cut-flow as
    steps of 150."""
    root, _ = fixture_root
    _, _, cutflows, out = unpacked
    settings = NtupleBlock.from_config(block(root, step_size=40))
    cutflow = ntuples.unpack_sample(settings, "wmunu", tmp_path / "wmunu.feather")
    mine, reference = cutflow.rows(), cutflows["wmunu"].rows()
    assert [r["events"] for r in mine] == [r["events"] for r in reference]
    for key in ("sum_w", "sum_w2"):  # summed step by step: equal up to rounding
        np.testing.assert_allclose([r[key] for r in mine], [r[key] for r in reference], rtol=1e-12)
    assert pa_feather.read_table(tmp_path / "wmunu.feather").equals(
        pa_feather.read_table(out / "wmunu.feather")
    )


def test_only_the_branches_the_expressions_need_are_read(unpacked):
    settings = unpacked[0]
    needed = settings.branches(settings.sample("ztautau"))
    assert "tau_BDTid" not in needed and "scaleFactor_BTAG" not in needed
    assert {"lep_pt", "tau_nTracks", "met_et", "mcWeight", "SumWeights", "trigM"} <= set(needed)
    assert "m_t" not in needed and "lumi" not in needed  # derived and constant


def test_the_shipped_config_leaves_out_tau_pi0_n():
    assert "tau_pi0_n" not in BLOCK["variables"]
    assert "tau_pi0_n" in (REPO / "config" / "ztautau.yaml").read_text()  # said why, in a comment


def test_the_figures_draw_on_the_fixture_tables(unpacked):
    """Data against the stacked simulation of every background and the signal, the variable
    distributions and the correlations, on the unpacked fixture (hepml.plots.ntuples)."""
    import pandas as pd
    from hepml.plots import ntuples as plots

    settings, _, _, out = unpacked
    frame = pd.concat(
        [ntuples.read_table(out / f"{s.name}.feather").to_pandas() for s in settings.samples]
    )
    processes, (data, _) = plots.data_mc_histograms(frame, "m_vis", np.linspace(0, 150, 16))
    assert len(processes) == 7 and data.sum() == (frame["sample"] == "data").sum()
    plots.data_mc_figure(frame, "m_vis", np.linspace(0, 150, 16))
    edges = {n: np.linspace(frame[n].min(), frame[n].max(), 11) for n in settings.columns}
    plots.variable_distributions_figure(frame, edges)
    plots.correlation_figure(frame, [n for n, _ in settings.variables])


# ------------------------------------------------------------------ negative weights
def test_training_weights_modes():
    weight = np.array([2.0, -1.0, 0.5])
    assert training_weights(weight, "absolute").tolist() == [2.0, 1.0, 0.5]
    assert training_weights(weight, "keep").tolist() == [2.0, -1.0, 0.5]
    assert training_weights(weight, "drop").tolist() == [2.0, 0.0, 0.5]
    assert training_weights(weight).tolist() == [2.0, 1.0, 0.5]  # the default: absolute
    with pytest.raises(ValueError, match="'flip' is not one of"):
        training_weights(weight, "flip")


def test_a_bad_negative_weights_option_is_named(tmp_path):
    with pytest.raises(SettingsError, match="ntuples.negative_weights: 'ignore' is not one of"):
        NtupleBlock.from_config(block(tmp_path, negative_weights="ignore"))


# ------------------------------------------------------------------ bad input
def failing_unpack(settings, name, output: Path) -> str:
    """Unpack expecting NtupleError; returns its message after checking nothing was left."""
    with pytest.raises(NtupleError) as error:
        ntuples.unpack_sample(settings, name, output)
    left = list(output.parent.iterdir()) if output.parent.exists() else []
    assert left == [], "a failed unpack leaves no file behind"
    return str(error.value)


def test_a_missing_branch_names_sample_file_branch_and_expression(fixture_root, tmp_path):
    root, _ = fixture_root
    values = block(root)
    values["variables"] = {**values["variables"], "pi0": "tau_pi0_n[0]"}
    message = failing_unpack(
        NtupleBlock.from_config(values), "ttbar", tmp_path / "out" / "t.feather"
    )
    assert "sample ttbar" in message and "mc_410000.ttbar_lep.1lep1tau.root" in message
    assert "no branch 'tau_pi0_n', read by variable pi0 ('tau_pi0_n[0]')" in message


def test_a_glob_matching_nothing_is_named(fixture_root, tmp_path):
    root, _ = fixture_root
    values = block(root)
    values["samples"]["zee"]["files"] = ["MC/mc_*.Zee_missing.root"]
    message = failing_unpack(NtupleBlock.from_config(values), "zee", tmp_path / "out" / "z.feather")
    assert "sample zee: no file matches 'MC/mc_*.Zee_missing.root'" in message


def test_a_wrong_tree_is_named(fixture_root, tmp_path):
    root, _ = fixture_root
    message = failing_unpack(
        NtupleBlock.from_config(block(root, tree="nominal")),
        "zee",
        tmp_path / "out" / "z.feather",
    )
    assert "no tree 'nominal' (it holds ['mini'])" in message


def test_the_mc_weight_on_data_is_refused_not_written(fixture_root, tmp_path):
    """Data carry zero SumWeights: the MC weight expression gives NaN, an error (negative
    control: with weight '1' the same sample unpacks)."""
    root, _ = fixture_root
    values = block(root)
    values["samples"]["data"]["weight"] = values["weight"]
    message = failing_unpack(
        NtupleBlock.from_config(values), "data", tmp_path / "out" / "d.feather"
    )
    assert "sample data: weight" in message and "NaN or infinite" in message
    values["samples"]["data"]["weight"] = "1"
    ntuples.unpack_sample(NtupleBlock.from_config(values), "data", tmp_path / "ok" / "d.feather")


def test_a_variable_on_a_missing_object_is_an_error_naming_it(fixture_root, tmp_path):
    """Without the object cut, events with no lepton reach lep_pt[0]: NaN, refused with the
    count (negative control: the shipped preselection unpacks)."""
    root, _ = fixture_root
    values = block(root)
    values["preselection"] = [{"name": "muon_trigger", "cut": "trigM"}]
    values["variables"] = {"lead_pt": "lep_pt[0] / 1000"}
    values["spectators"] = {}
    message = failing_unpack(
        NtupleBlock.from_config(values), "ztautau", tmp_path / "out" / "z.feather"
    )
    assert "sample ztautau: variable lead_pt ('lep_pt[0] / 1000') is NaN or infinite for" in message
    values["preselection"].append({"name": "has_lepton", "cut": "lep_n >= 1"})
    ntuples.unpack_sample(NtupleBlock.from_config(values), "ztautau", tmp_path / "ok" / "z.feather")


def test_a_cut_that_is_not_a_condition_is_named(fixture_root, tmp_path):
    root, _ = fixture_root
    values = block(root)
    values["preselection"] = [{"name": "pt", "cut": "lep_pt[0] - 26000"}]
    message = failing_unpack(NtupleBlock.from_config(values), "zee", tmp_path / "out" / "z.feather")
    assert "cut pt ('lep_pt[0] - 26000') is not a condition" in message


def test_a_derived_name_shadowing_a_branch_is_refused(fixture_root, tmp_path):
    root, _ = fixture_root
    values = block(root)
    values["define"] = {**values["define"], "tau_BDTid": "1"}
    message = failing_unpack(NtupleBlock.from_config(values), "zee", tmp_path / "out" / "z.feather")
    assert "the derived or constant name(s) ['tau_BDTid'] are also branches" in message
    values = block(root, constants={"lumi": 10.0, "XSection": 1.0})
    message = failing_unpack(NtupleBlock.from_config(values), "zee", tmp_path / "c" / "z.feather")
    assert "name(s) ['XSection'] are also branches" in message


@pytest.mark.parametrize(
    ("change", "fragment"),
    [
        ({"colour": 1}, "ntuples: unknown key(s) ['colour']"),
        (
            {"preselection": [{"name": "x", "cut": "mt < 70"}]},
            "cut x ('mt < 70') reads ['mt'], computed after it",
        ),
        ({"variables": {"a": "b", "b": "met_et"}}, "a ('b') reads ['b'], computed after it"),
        ({"variables": {"weight": "met_et"}}, "'weight' is a column of every table"),
        ({"variables": {}}, "at least one training variable"),
        ({"step_size": 0}, "ntuples.step_size: expected a positive integer"),
        ({"constants": {"lumi": "ten"}}, "ntuples.constants.lumi: expected a number"),
        (
            {"samples": {"a": {"role": "background", "files": "x.root"}}},
            "no sample has role signal",
        ),
        (
            {"samples": {"a": {"role": "higgs", "files": "x.root"}}},
            "ntuples.samples.a.role: 'higgs'",
        ),
        ({"samples": {"a": {"role": "signal", "files": []}}}, "ntuples.samples.a.files"),
        ({"weight": "__import__('os')"}, "the function '__import__'"),
    ],
)
def test_settings_errors_name_the_key(tmp_path, change, fragment):
    with pytest.raises((SettingsError, ValueError)) as error:
        NtupleBlock.from_config(block(tmp_path, **change))
    assert fragment in str(error.value)
