"""Guided search: candidate pools, ranking, stop conditions, settings, the scan table, the DAG."""

import math
import re
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hepml import io, metrics
from hepml.guided import ado
from hepml.guided.names import (
    ScanSettings,
    parse_pass_feature_set_name,
    pass_feature_set,
    pass_feature_set_name,
    pass_zero_is_start,
    scans_from_config,
)
from hepml.guided.search import (
    RANKING_COLUMNS,
    candidate_pool,
    rank_candidates,
    select_next_efp,
    stop_reason,
)
from hepml.guided.tables import TABLE_COLUMNS, gap_closed, scan_table, single_aucs
from hepml.settings import SEED_OFFSETS, FeatureSet, NetworkSettings, SettingsError

NETWORK = {
    "conv_blocks": 1,
    "filters": 4,
    "dense_layers": 1,
    "units": 8,
    "learning_rate": 0.003,
    "dropout": 0.0,
}


def dataset_block(**guided_block):
    return {
        "network_defaults": NETWORK,
        "feature_sets": {"et_and_ht": {"inputs": ["et", "ht"]}, "hl": {"inputs": ["hl"]}},
        "guided": guided_block,
    }


@pytest.fixture
def toy():
    """A black box that sees a hidden variable the current model lacks.

    black box = x + h, model = x: the pairs they order differently are those where h decides,
    so the candidate ``hidden`` (h itself) must win, even when given with the opposite sign.
    """
    rng = np.random.default_rng(0)
    n = 4000
    y = rng.integers(0, 2, n)
    x = rng.normal(size=n) + 0.8 * y
    h = rng.normal(size=n) + 0.8 * y
    candidates = {
        "a_noise": rng.normal(size=n),
        "b_weak_hidden": h + 2.0 * rng.normal(size=n),
        "c_model_copy": 2.0 * x + 1.0,  # repeats the model's mistakes
        "d_minus_hidden": -h,  # the best candidate, with signal at low values
    }
    values = np.column_stack(list(candidates.values()))
    return y, x, x + h, values, list(candidates)


def test_ranking_picks_the_hidden_variable(toy):
    y, model, black_box, values, names = toy
    pairs = ado.draw_pairs(y, 20000, seed=1)
    disagreeing = ado.disagreeing_pairs(model, black_box, *pairs)
    assert 0 < disagreeing.mean() < 0.5
    ranking = rank_candidates(values, names, black_box, pairs, disagreeing)
    assert list(ranking.columns) == RANKING_COLUMNS
    assert ranking["efp"].tolist()[:2] == ["d_minus_hidden", "b_weak_hidden"]
    assert ranking["rank"].tolist() == [1, 2, 3, 4]
    copy = ranking.set_index("efp").loc["c_model_copy"]
    # the model's own ordering scores 0 on its disagreeing pairs once oriented, 1 if folded
    assert copy["ado_disagreeing"] == 0.0
    assert copy["ado_disagreeing_folded"] == 1.0
    assert ranking.set_index("efp").loc["a_noise", "ado_disagreeing"] == pytest.approx(
        0.5, abs=0.05
    )


def test_ranking_matches_a_pair_loop(toy):
    y, model, black_box, values, names = toy
    pairs = ado.draw_pairs(y, 500, seed=2)
    disagreeing = ado.disagreeing_pairs(model, black_box, *pairs)
    ranking = rank_candidates(values, names, black_box, pairs, disagreeing).set_index("efp")
    for column, name in enumerate(names):
        f = values[:, column]
        all_do = [
            0.5 * (1 + np.sign((f[i] - f[j]) * (black_box[i] - black_box[j])))
            for i, j in zip(*pairs, strict=True)
        ]
        raw_all = np.mean(all_do)
        raw_dis = np.mean(np.array(all_do)[disagreeing])
        oriented = raw_dis if raw_all >= 0.5 else 1 - raw_dis
        assert ranking.loc[name, "ado_all"] == pytest.approx(max(raw_all, 1 - raw_all))
        assert ranking.loc[name, "ado_disagreeing"] == pytest.approx(oriented)


def select(toy, **overrides):
    y, model, black_box, values, names = toy
    arguments = dict(
        pass_index=1,
        chosen_before=["earlier"],
        n_pairs=5000,
        max_passes=3,
        seed=3,
        model_auc=0.8,
        black_box_auc=0.9,
        auc_split="valid",
    )
    arguments.update(overrides)
    return select_next_efp(y, model, black_box, [(names, values)], **arguments)


def test_select_next_efp_chooses_and_summarises(toy):
    y, model, black_box, _, _ = toy
    selection = select(toy)
    assert selection.choice["stop"] is False
    assert selection.choice["efp"] == "d_minus_hidden"
    assert selection.choice["efps"] == ["earlier", "d_minus_hidden"]
    summary = selection.summary
    pairs = ado.draw_pairs(y, 5000, seed=3)
    expected = int(ado.disagreeing_pairs(model, black_box, *pairs).sum())
    assert summary["n_pairs"] == 5000
    assert summary["n_disagreeing"] == expected
    assert summary["fraction_disagreeing"] == pytest.approx(expected / 5000)
    assert summary["ado_model_black_box"] == pytest.approx(
        ado.average_decision_ordering(model, black_box, *pairs, folded=False)
    )


def test_select_next_efp_is_seeded(toy):
    first, again = select(toy), select(toy)
    pd.testing.assert_frame_equal(first.ranking, again.ranking)
    assert first.summary == again.summary


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"pass_index": 4}, "pass limit"),
        ({"model_auc": 0.95, "black_box_auc": 0.95}, "AUC reached"),
    ],
)
def test_select_next_efp_stops(toy, overrides, reason):
    selection = select(toy, **overrides)
    assert selection.choice["stop"] is True
    assert reason in selection.choice["stop_reason"]
    assert selection.choice["efp"] is None
    assert selection.choice["efps"] == ["earlier"]
    assert len(selection.ranking) == 4  # the ranking is still written


def test_select_next_efp_stops_without_an_informative_candidate(toy):
    y, model, black_box, values, names = toy
    # only the model's own ordering and noise-free constants: nothing orders the disagreeing
    # pairs like the black box
    useless = np.column_stack([2 * model, np.ones_like(model)])
    selection = select_next_efp(
        y,
        model,
        black_box,
        [(["a_copy"], useless[:, :1]), (["b_constant"], useless[:, 1:])],
        pass_index=1,
        chosen_before=[],
        n_pairs=2000,
        max_passes=3,
        seed=0,
        model_auc=None,
        black_box_auc=None,
        auc_split="valid",
    )
    assert "more often than not" in selection.choice["stop_reason"]
    assert selection.choice["efp"] is None
    assert list(selection.ranking["efp"]) == ["a_copy"]  # the constant is never ranked
    assert selection.summary["n_candidates"] == 1


def test_select_next_efp_stops_when_model_agrees_with_black_box(toy):
    y, model, _, values, names = toy
    selection = select_next_efp(
        y,
        model,
        3 * model,
        iter(()),  # never read: no pair disagrees
        pass_index=2,
        chosen_before=[],
        n_pairs=1000,
        max_passes=3,
        seed=0,
        model_auc=None,
        black_box_auc=None,
        auc_split="valid",
    )
    assert selection.summary["n_disagreeing"] == 0
    assert selection.summary["ado_model_black_box"] == 1.0
    assert "reached 1" in selection.choice["stop_reason"]
    assert selection.ranking.empty


@pytest.mark.parametrize(
    ("arguments", "expected"),
    [
        ({}, None),
        ({"pass_index": 4}, "pass limit"),
        ({"model_auc": 0.91}, "AUC reached"),
        ({"model_auc": None}, None),  # unknown AUC: no AUC stop
        ({"black_box_auc": None}, None),
        ({"n_disagreeing": 0}, "reached 1"),
        ({"n_candidates": 0}, "no candidate"),
        ({"best_ado": 0.5}, "more often than not"),
        ({"best_ado": 0.51}, None),
    ],
)
def test_stop_reason(arguments, expected):
    values = dict(
        pass_index=3,
        max_passes=3,
        n_disagreeing=10,
        n_candidates=5,
        model_auc=0.85,
        black_box_auc=0.9,
    )
    values.update(arguments)
    reason = stop_reason(**values)
    if expected is None:
        assert reason is None
    else:
        assert expected in reason


def test_candidate_pool():
    names = [
        "et_efp_1_0_0_k_2_b_0.5",
        "et_efp_2_1_0_k_1_b_0.5",
        "ht_efp_2_1_0_k_1_b_2",
        "ht_efp_2_1_0_k_0.5_b_1",
    ]
    assert candidate_pool(names, "all") == names
    assert candidate_pool(names, "irc_safe") == names[1:3]
    assert candidate_pool(names, "irc_safe", exclude=[names[1]]) == [names[2]]
    with pytest.raises(ValueError, match="candidate pool"):
        candidate_pool(names, "safe")


def test_pass_names_round_trip():
    for scan in ["hl", "hl_irc", "x_pass1"]:
        name = pass_feature_set_name(scan, 12)
        assert parse_pass_feature_set_name(name) == (scan, 12)
    assert parse_pass_feature_set_name("hl") is None
    assert parse_pass_feature_set_name("guided_hl") is None


def test_scans_from_config_merges_defaults():
    block = dataset_block(
        black_box="et_and_ht",
        n_pairs=100,
        max_passes=3,
        network={"dense_layers": 3, "units": 50},
        scans={
            "hl": {"start": "hl"},
            "hl_irc": {"start": "hl", "candidates": "irc_safe", "max_passes": 2, "seed": 5},
        },
    )
    scans = scans_from_config(block, master_seed=10)
    assert scans["hl"].candidates == "all"
    assert scans["hl"].seed == 10 + SEED_OFFSETS["guided_pairs"]
    assert scans["hl"].network.units == 50 and scans["hl"].network.filters == 4
    assert scans["hl_irc"].max_passes == 2 and scans["hl_irc"].seed == 5
    assert scans_from_config({"feature_sets": {}}, 0) == {}


@pytest.mark.parametrize(
    ("block", "message"),
    [
        (
            {"scans": {"s": {"start": "hl", "strat": 1}}},
            r"guided.scans.s: unknown key\(s\) \['strat'\]",
        ),
        ({"scans": {"s": {"start": "mass"}}}, "guided.scans.s.start: feature set 'mass'"),
        ({"scans": {"s": {"start": "hl", "black_box": "cnn"}}}, "black_box: feature set 'cnn'"),
        ({"scans": {"s": {"start": "hl", "candidates": "safe"}}}, "candidates is 'safe'"),
        ({"max_pases": 3}, r"guided: unknown key\(s\) \['max_pases'\]"),
    ],
)
def test_scans_from_config_errors_name_the_key(block, message):
    full = {"black_box": "et_and_ht", "n_pairs": 10, "max_passes": 2, **block}
    with pytest.raises(SettingsError, match=message):
        scans_from_config(dataset_block(**full), master_seed=0)


def test_reserved_feature_set_names():
    block = dataset_block(scans={})
    block["feature_sets"]["guided_hl_pass1"] = {"inputs": ["hl"]}
    with pytest.raises(SettingsError, match="reserved"):
        scans_from_config(block, master_seed=0)


def scan_settings():
    return ScanSettings(
        name="hl",
        start="hl",
        candidates="all",
        black_box="et_and_ht",
        n_pairs=10,
        max_passes=3,
        seed=0,
        network=NetworkSettings.from_config(NETWORK),
    )


def test_pass_feature_set():
    scan = scan_settings()
    start = FeatureSet.from_config("hl", {"inputs": ["hl"]}, NETWORK)
    feature_set = pass_feature_set(scan, start, 2, ["et_efp_1_0_0_k_2_b_0.5"])
    assert feature_set.name == "guided_hl_pass2"
    assert feature_set.inputs == ("hl",)
    assert feature_set.efps == ("et_efp_1_0_0_k_2_b_0.5",)
    image_start = FeatureSet.from_config("et", {"inputs": ["et"]}, NETWORK)
    with pytest.raises(SettingsError, match="image inputs"):
        pass_feature_set(scan, image_start, 1, [])


def test_pass_zero_is_the_start_set_only_when_it_is_the_same_model():
    """Pass 0 reuses the start set's model when nothing that decides the network differs:
    the start set's own EFPs and its secondary models (a BDT) do not matter; another network
    (one key), a tuned start set or another primary model make pass 0 a model of its own."""
    import dataclasses

    scan = scan_settings()
    start = FeatureSet.from_config("hl", {"inputs": ["hl"], "models": ["nn", "bdt"]}, NETWORK)
    assert pass_zero_is_start(scan, start, start_tuned=False)
    with_efps = dataclasses.replace(start, efps=("et_efp_1_0_0_k_2_b_0.5",))
    assert pass_zero_is_start(scan, with_efps, start_tuned=False)

    assert not pass_zero_is_start(scan, start, start_tuned=True)
    for key, value in (("units", 16), ("learning_rate", 0.01), ("dropout", 0.1)):
        network = NetworkSettings.from_config(NETWORK, {key: value})
        other = dataclasses.replace(scan, network=network)
        assert not pass_zero_is_start(other, start, start_tuned=False), key
    dnn = FeatureSet.from_config("hl", {"inputs": ["hl"], "models": ["dnn"]}, NETWORK)
    assert not pass_zero_is_start(scan, dnn, start_tuned=False)


def test_scan_table():
    scan = scan_settings()
    choices = [{"efp": "et_efp_2_1_0_k_2_b_0.5", "ado_disagreeing": 0.7, "ado_all": 0.8}]
    summaries = [{"n_disagreeing": 40, "fraction_disagreeing": 0.04, "ado_model_black_box": 0.9}]
    metrics = [
        {"auc": 0.90, "auc_low": 0.89, "auc_high": 0.91, "status": "ok"},
        {"auc": 0.93, "auc_low": 0.92, "auc_high": 0.94, "status": "ok"},
    ]
    table = scan_table(scan.name, choices, summaries, metrics, {"et_efp_2_1_0_k_2_b_0.5": 0.75})
    assert list(table.columns) == TABLE_COLUMNS
    assert table["pass"].tolist() == [0, 1]
    row = table.iloc[1]
    assert (row["calorimeter"], row["graph"], row["kappa"], row["beta"]) == (
        "ECal",
        "2_1_0",
        2,
        0.5,
    )
    assert row["efp_auc"] == 0.75 and row["feature_set"] == "guided_hl_pass1"
    assert table.iloc[0]["efp"] is None
    # the feature_set column names the model each row measures: its metrics' name (pass 0 is
    # the start set's own model when the two are the same, guided.names.pass_zero_is_start)
    named = [{**metrics[0], "name": "hl"}, {**metrics[1], "name": "guided_hl_pass1"}]
    named_table = scan_table(scan.name, choices, summaries, named, {})
    assert named_table["feature_set"].tolist() == ["hl", "guided_hl_pass1"]
    assert table.iloc[0]["feature_set"] == "guided_hl_pass0"  # no name: the pass's own
    # the final pass (where the validation-split procedure ended), not the best test AUC
    assert gap_closed(table, baseline_auc=0.90, black_box_auc=0.96) == pytest.approx(0.5)
    earlier_best = table.assign(auc=[0.95, 0.93])
    assert gap_closed(earlier_best, 0.90, 0.96) == pytest.approx(0.5)
    assert math.isnan(gap_closed(table, baseline_auc=0.96, black_box_auc=0.90))
    with pytest.raises(ValueError, match="metrics"):
        scan_table(scan.name, choices, summaries, metrics[:1], {})


# ------------------------------------------------------------------ rule entry points (files)
def write_scores(path, y, score):
    io.write_table(pd.DataFrame({"y": y, "score": score, "weight": np.ones(len(y))}), path)


def selection_files(tmp_path, toy):
    from hepml.io.efp_store import StorageSettings
    from test_efp_dedup import write_store

    y, model, black_box, _, _ = toy
    rng = np.random.default_rng(5)
    h = black_box - model  # the hidden variable
    efps = pd.DataFrame(
        {
            "et_efp_1_0_0_k_2_b_0.5": -h,  # carries the hidden variable
            "et_efp_2_1_0_k_1_b_1": rng.normal(size=y.size),
            "ht_efp_2_1_0_k_1_b_2": 2 * model,
            "ht_efp_1_0_0_k_0.5_b_1": h,  # the same information, not IRC safe, already chosen
        }
    )
    storage = StorageSettings(block_rows=1000, block_columns=2)
    index = write_store(tmp_path / "valid", efps, storage, n_chunks=3)
    (tmp_path / "kept.txt").write_text("\n".join(efps.columns) + "\n")
    write_scores(tmp_path / "model.feather", y, model)
    write_scores(tmp_path / "black_box.feather", y, black_box)
    io.write_json(tmp_path / "previous.json", {"efps": ["ht_efp_1_0_0_k_0.5_b_1"]})
    inputs = {
        "model_scores": tmp_path / "model.feather",
        "black_box_scores": tmp_path / "black_box.feather",
        "valid_efps": index,
        "kept": tmp_path / "kept.txt",
        "previous_choice": tmp_path / "previous.json",
    }
    settings = {
        "feature_set": {"name": "guided_hl_pass2", "inputs": ["hl"], "efps": [], "models": ["nn"]},
        "pass": 2,
        "candidates": "all",
        "n_pairs": 3000,
        "max_passes": 3,
        "seed": 1,
        # one column of 4,000 events per group: the ranking is streamed column by column
        "storage": {"block_rows": 4000, "block_columns": 1},
    }
    outputs = {
        name: tmp_path / "out" / file
        for name, file in (
            ("pairs", "pairs.json"),
            ("ranking", "ranking.csv"),
            ("choice", "choice.json"),
            ("feature_set", "feature_set.json"),
        )
    }
    return {"inputs": inputs, "outputs": outputs, "params": {"settings": settings}}


def test_select_next_efp_step_writes_every_output(tmp_path, toy):
    from hepml.steps import guided as steps

    arguments = selection_files(tmp_path, toy)
    selection = steps.select_next_efp(**arguments)
    choice = io.read_json(arguments["outputs"]["choice"])
    assert choice["efp"] == "et_efp_1_0_0_k_2_b_0.5"
    assert choice["efps"] == ["ht_efp_1_0_0_k_0.5_b_1", "et_efp_1_0_0_k_2_b_0.5"]
    feature_set = io.read_json(arguments["outputs"]["feature_set"])
    assert feature_set["efps"] == choice["efps"] and feature_set["inputs"] == ["hl"]
    ranking = pd.read_csv(arguments["outputs"]["ranking"])
    assert len(ranking) == 3  # the EFP chosen before is no candidate any more
    # streaming the table column by column ranks exactly as the whole table at once
    from hepml.guided import ado
    from hepml.io.efp_store import EFPTable

    y, model, black_box, _, _ = toy
    pool = ["et_efp_1_0_0_k_2_b_0.5", "et_efp_2_1_0_k_1_b_1", "ht_efp_2_1_0_k_1_b_2"]
    pairs = ado.draw_pairs(y, 3000, seed=1, weight=np.ones(y.size))
    disagreeing = ado.decision_ordering(model, black_box, *pairs) == 0.0
    whole = rank_candidates(
        EFPTable(arguments["inputs"]["valid_efps"]).read(pool), pool, black_box, pairs, disagreeing
    )
    pd.testing.assert_frame_equal(ranking, whole, check_dtype=False)
    # the AUC stop compares validation AUCs, measured on the scores read here
    summary = io.read_json(arguments["outputs"]["pairs"])
    assert summary["auc_split"] == "valid"
    assert summary["model_auc"] == pytest.approx(metrics.auc(y, model))
    assert summary["black_box_auc"] == pytest.approx(metrics.auc(y, black_box))
    assert selection.summary == summary
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == [
        "choice.json",
        "feature_set.json",
        "pairs.json",
        "ranking.csv",
    ]


def test_select_next_efp_step_irc_safe_pool(tmp_path, toy):
    from hepml.steps import guided as steps

    arguments = selection_files(tmp_path, toy)
    arguments["params"]["settings"]["candidates"] = "irc_safe"
    selection = steps.select_next_efp(**arguments)
    assert set(selection.ranking["efp"]) == {"et_efp_2_1_0_k_1_b_1", "ht_efp_2_1_0_k_1_b_2"}


def test_select_next_efp_step_rejects_scores_of_other_events(tmp_path, toy):
    from hepml.steps import guided as steps

    arguments = selection_files(tmp_path, toy)
    y, _, black_box, _, _ = toy
    write_scores(arguments["inputs"]["black_box_scores"], y[::-1], black_box)
    with pytest.raises(ValueError, match="labels differ"):
        steps.select_next_efp(**arguments)
    assert not (tmp_path / "out").exists()


def test_summarise_scan(tmp_path):
    from hepml.steps import guided as steps

    choice = {"pass": 1, "efp": "et_efp_1_0_0_k_2_b_0.5", "ado_disagreeing": 0.8, "ado_all": 0.7}
    io.write_json(tmp_path / "choice1.json", choice)
    io.write_json(tmp_path / "pairs1.json", {"n_disagreeing": 10, "fraction_disagreeing": 0.1})
    for name, auc in (("m0", 0.90), ("m1", 0.93), ("bb", 0.95), ("hl", 0.91)):
        io.write_json(
            tmp_path / f"{name}.json",
            {"auc": auc, "auc_low": auc - 0.01, "auc_high": auc + 0.01, "status": "ok"},
        )
    stop = {"pass": 2, "stop": True, "stop_reason": "no candidate EFP left"}
    io.write_json(tmp_path / "stop.json", stop)
    pd.DataFrame({"efp": ["et_efp_1_0_0_k_2_b_0.5"], "auc": [0.77]}).to_csv(
        tmp_path / "single_auc.csv", index=False
    )
    table = steps.summarise_scan(
        {
            "choices": [tmp_path / "choice1.json"],
            "pairs": [tmp_path / "pairs1.json"],
            "metrics": [tmp_path / "m0.json", tmp_path / "m1.json"],
            "stop": tmp_path / "stop.json",
            "single_auc": tmp_path / "single_auc.csv",
            "black_box_metrics": tmp_path / "bb.json",
            "start_metrics": tmp_path / "hl.json",
        },
        {"table": tmp_path / "table.csv", "markdown": tmp_path / "table.md"},
        {"settings": {"black_box": "et_and_ht", "start": "hl"}},
        scan="hl",
    )
    assert table["efp_auc"].tolist()[1] == 0.77
    assert pd.read_csv(tmp_path / "table.csv")["auc"].tolist() == [0.90, 0.93]
    text = (tmp_path / "table.md").read_text()
    assert "Stopped before pass 2: no candidate EFP left" in text
    closed = "gap closed by the final pass (pass 1, where the validation-split procedure ended)"
    assert f"{closed}: 0.50" in text  # (0.93 - 0.91) / (0.95 - 0.91)
    assert "0.0400 AUC = 4.0 bootstrap half-widths" in text
    assert "| 2 | 0.5 |" in text  # kappa and beta as in the EFP name


def test_single_auc_columns_are_checked(tmp_path):
    pd.DataFrame({"name": ["x"], "auc": [0.5]}).to_csv(tmp_path / "s.csv", index=False)
    with pytest.raises(ValueError, match=r"s.csv: column\(s\) \['efp'\] missing"):
        single_aucs(io.read_csv(tmp_path / "s.csv"), str(tmp_path / "s.csv"))


# ------------------------------------------------------------------------- the guided DAG
REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
def test_guided_dag_dry_run(tmp_path):
    """config/tiny.yaml plus a small guided block: the DAG reaches the first checkpoint, and
    pass 0 is trained only where it is not the start set's own model."""
    config = yaml.safe_load((REPO / "config" / "tiny.yaml").read_text())
    config["datasets"]["electrons"].setdefault(
        "efp",
        {"images": ["et", "ht"], "graphs": [["d<=2", "p==1"]], "kappas": [1, 2], "betas": [1]},
    )
    config["datasets"]["electrons"]["guided"] = {
        "black_box": "et_and_ht",
        "n_pairs": 1000,
        "max_passes": 2,
        "network": {"dense_layers": 1, "units": 8},
        "scans": {
            "hl": {"start": "hl"},
            "hl_irc": {"start": "hl", "candidates": "irc_safe", "network": {"units": 16}},
        },
    }
    config_path = tmp_path / "guided.yaml"
    config_path.write_text(yaml.safe_dump(config, sort_keys=False))
    result = subprocess.run(
        [
            str(Path(sys.executable).with_name("snakemake")),
            "--snakefile",
            str(REPO / "Snakefile"),
            "--directory",
            str(tmp_path),
            "--configfile",
            str(config_path),
            "--dry-run",
            "--cores",
            "1",
            "--quiet",
            "rules",
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, (result.stdout + result.stderr)[-3000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", result.stdout, flags=re.MULTILINE))
    # pass 1 of each scan is selected
    assert int(jobs["select_next_efp"]) == 2
    # Pass 0 of scan hl has hl's network: it is hl's own model (no second training); scan
    # hl_irc's network differs in one key, so its pass 0 is trained (guided.names
    # pass_zero_is_start). Trained: et_and_ht, hl, guided_hl_irc_pass0.
    assert int(jobs["train_model"]) == 3
    # valid scores of the black box, of hl (pass 0 of scan hl) and of guided_hl_irc_pass0,
    # and the test scores of the two configured models (et_and_ht, hl); the passes' test
    # scores wait for the checkpoints
    assert int(jobs["score_model"]) == 3 + 2
    assert int(jobs["summarise_scan"]) == 2 and int(jobs["plot_guided"]) == 1


def test_plot_guided_writes_three_figures(tmp_path):
    from hepml.plots import guided as plots_guided
    from hepml.steps import guided as steps

    table = pd.DataFrame(
        {
            "pass": [0, 1],
            "efp": [None, "et_efp_1_0_0_k_2_b_0.5"],
            "auc": [0.90, 0.93],
            "auc_low": [0.89, 0.92],
            "auc_high": [0.91, 0.94],
        }
    )
    table.to_csv(tmp_path / "table.csv", index=False)
    ranking = pd.DataFrame(
        {"efp": ["et_efp_1_0_0_k_2_b_0.5", "et_efp_2_1_0_k_1_b_1"], "ado_disagreeing": [0.7, 0.5]}
    )
    ranking.to_csv(tmp_path / "ranking.csv", index=False)
    io.write_json(tmp_path / "choice.json", {"efp": "et_efp_1_0_0_k_2_b_0.5"})
    io.write_json(tmp_path / "bb.json", {"auc": 0.95, "auc_low": 0.94, "auc_high": 0.96})
    io.write_json(tmp_path / "hl.json", {"auc": None})  # a collapsed model: no line
    drawn = []
    outputs = {name: tmp_path / f"{name}.png" for name in ("auc", "ado", "graphs")}
    steps.plot_guided(
        {
            "table_hl": tmp_path / "table.csv",
            "ranking_hl": [tmp_path / "ranking.csv"],
            "choice_hl": [tmp_path / "choice.json"],
            "metrics_et_and_ht": tmp_path / "bb.json",
            "metrics_hl": tmp_path / "hl.json",
        },
        outputs,
        {"settings": {"scans": ["hl"], "black_boxes": ["et_and_ht"], "starts": ["hl"]}},
        dataset="electrons",
        draw=lambda axis, name: drawn.append(name),
    )
    assert all(path.stat().st_size > 0 for path in outputs.values())
    assert drawn == ["et_efp_1_0_0_k_2_b_0.5"]
    assert plots_guided.efp_label("ht_efp_2_1_0_k_1_b_0.5") == "HCal 2_1_0 k=1 b=0.5"


def test_constant_candidates_are_dropped_before_ranking():
    from hepml.guided.search import drop_constant_columns

    rng = np.random.default_rng(3)
    varying = rng.normal(size=100)
    ones_with_rounding = 1.0 + rng.normal(scale=1e-15, size=100)  # sum z_i at kappa 1
    values = np.column_stack([ones_with_rounding, varying, np.full(100, 4.0)])
    kept, names = drop_constant_columns(values, ["et_1_0_0", "et_2_1_0", "ht_const"])
    assert names == ["et_2_1_0"]
    np.testing.assert_array_equal(kept[:, 0], varying)


def test_constant_means_equal_to_relative_tolerance_whatever_the_scale():
    """A kappa = -1-like column (one 1e14 event, the rest of order one) that varies only
    where its values are small is informative and kept; a column equal to relative rounding
    is constant at any scale (1e-30 or 1e30)."""
    from hepml.guided.search import drop_constant_columns

    rng = np.random.default_rng(4)
    soft = rng.lognormal(size=200)
    soft[7] = 1e14
    ones = 1.0 + rng.normal(scale=1e-15, size=200)
    values = np.column_stack([soft, 1e-30 * ones, 1e30 * ones, 1e-30 * soft])
    kept, names = drop_constant_columns(values, ["soft", "tiny_const", "huge_const", "tiny_soft"])
    assert names == ["soft", "tiny_soft"]
    np.testing.assert_array_equal(kept, values[:, [0, 3]])
