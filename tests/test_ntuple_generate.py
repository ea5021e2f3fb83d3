"""The built-in ntuples (hepml.sources.pythia.higgs_ntuples, docs/ntuples.md "Built-in
ntuples"): the Higgs benchmark's signal, t tbar and pseudo-data as ROOT files in the open-data
layout, read back with uproot, and their checks.

The generation fixture makes a few events per sample without multiparton interactions (as
tests/test_higgs_generate.py, half the time per event); about 5 s on a loaded 2-core machine.
"""

from __future__ import annotations

import copy
import math
from pathlib import Path

import awkward as ak
import numpy as np
import pytest
import uproot
import yaml
from hepml.io.ntuples import NtupleBlock, read_table, unpack_sample
from hepml.sources.pythia import chunks
from hepml.sources.pythia import higgs_ntuples as gen

REPO = Path(__file__).resolve().parents[1]
CONFIG = REPO / "config" / "ntuples.yaml"
SEED = 5
# a quick sample: no multiparton interactions, a few events per chunk
QUICK = {"multiparton_interactions": False, "signal_events": 6, "background_events": 6, "chunks": 2}
CONTRACT = (
    "lep_n lep_pt lep_eta lep_phi lep_E lep_charge lep_type jet_n jet_pt jet_eta jet_phi jet_E "
    "jet_btag met_et met_phi"
).split()
JAGGED = [b for b in CONTRACT if b.startswith(("lep_", "jet_")) and b not in ("lep_n", "jet_n")]


def config_block() -> dict:
    return yaml.safe_load(CONFIG.read_text())["datasets"]["ntuples"]["ntuples"]


# ---------------------------------------------------------------------------- settings
def test_settings_defaults_and_unknown_keys():
    settings = gen.NtupleGenSettings.from_config({"chunks": 2, "signal_events": 10})
    assert (settings.jets_min, settings.btags_min, settings.leptons_min) == (2, 0, 1)
    assert settings.events("higgs") == 10 and settings.events("ttbar") == 8000
    assert "HiggsBSM:gg2H2 = on" in settings.commands(True)
    with pytest.raises(ValueError, match=r"ntuples.generate: unknown key\(s\) \['n_events'\]"):
        gen.NtupleGenSettings.from_config({"n_events": 10})
    with pytest.raises(ValueError, match="cannot fill 4 chunks"):
        gen.NtupleGenSettings(signal_events=3)
    with pytest.raises(ValueError, match="no open decay channel"):
        gen.NtupleGenSettings(heavy_higgs_mass_min=400.0)  # the Higgs benchmark's check


def test_config_block_is_accepted_and_names_its_yields():
    block = config_block()
    settings = NtupleBlock.from_config(block)
    assert settings.generate == block["generate"] and settings.path is None
    specs = gen.check_generated_block(block, "ntuples")
    assert set(specs) == set(gen.PROCESSES)
    assert specs["higgs"]["weight"].startswith("mu *") and specs["ttbar"]["define"] == {}


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda b: b.update(path="/data"), r"ntuples.path: must be null when generate is set"),
        (
            lambda b: b["samples"]["ttbar"].update(files=["*.root"]),
            r"ntuples.samples.ttbar.files: '\*.root' is not a generated file",
        ),
        (
            lambda b: b["samples"].update(extra={"role": "background", "files": ["ttbar.root"]}),
            r"2 MC samples read ttbar.root \(\['ttbar', 'extra'\]\)",
        ),
        (lambda b: b["samples"].pop("higgs"), r"0 MC samples read higgs.root"),
        (lambda b: b["generate"].update(chunk=3), r"unknown key\(s\) \['chunk'\]"),
    ],
)
def test_block_checks_name_the_key(edit, message):
    block = copy.deepcopy(config_block())
    gen.check_generated_block(block, "ntuples")  # negative control: the config passes
    edit(block)
    with pytest.raises(ValueError, match=message):
        gen.check_generated_block(block, "ntuples")


def test_weight_definitions_follow_the_chain():
    define = {"a": "x + 1", "b": "a * 2", "c": "y", "d": "b + c"}
    assert gen.weight_definitions(define, "b * w") == {"a": "x + 1", "b": "a * 2"}
    assert gen.weight_definitions(define, "w") == {}


# ------------------------------------------------------------------------- pseudo-data
def test_pseudo_data_counts_are_seeded_poisson_draws():
    expected = {"higgs": 12.5, "ttbar": 340.0}
    assert gen.data_counts(expected, 3) == gen.data_counts(expected, 3)
    draws = np.array(
        [[gen.data_counts(expected, s)[p] for p in gen.PROCESSES] for s in range(2000)]
    )
    means = np.array([expected[p] for p in gen.PROCESSES])
    # mean and variance of a Poisson law are its mean: within 5 standard errors of each
    error = np.sqrt(means / len(draws))
    assert np.all(np.abs(draws.mean(axis=0) - means) < 5 * error)
    assert np.all(np.abs(draws.var(axis=0) / means - 1) < 5 * math.sqrt(2 / len(draws)))
    assert len({tuple(row) for row in draws[:50]}) > 40  # the seed matters
    shares = [gen.chunk_share(103, 4, c) for c in range(4)]
    assert shares == [26, 26, 26, 25] and sum(shares) == 103


# ---------------------------------------------------------------- generated files
@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """Chunks and merged ROOT files of the three samples; the pseudo-data at a luminosity that
    makes a handful of events (the config's weights with lumi and mu changed)."""
    root = tmp_path_factory.mktemp("ntuples")
    settings = gen.NtupleGenSettings.from_config(QUICK)
    paths = {}
    for sample in gen.PROCESSES:
        paths[sample] = []
        for chunk in range(settings.chunks):
            path = root / "chunks" / sample / f"{chunk}.h5"
            count = gen.chunk_share(settings.events(sample), settings.chunks, chunk)
            gen.write_ntuple_chunk(sample, SEED, chunk, {sample: count}, QUICK, path)
            paths[sample].append(path)
        gen.merge_ntuple_chunks(sample, paths[sample], root / f"{sample}.root", SEED)
    block = config_block()
    block["constants"].update(lumi=2e-4, mu=1e4)  # about 3.5 t tbar and 1 signal events
    specs = gen.check_generated_block(block, "ntuples")
    mc = {process: root / f"{process}.root" for process in gen.PROCESSES}
    counts = [gen.data_chunk_counts(mc, specs, SEED, chunk, 2) for chunk in range(2)]
    paths["data"] = []
    for chunk in range(2):
        path = root / "chunks" / "data" / f"{chunk}.h5"
        gen.write_ntuple_chunk("data", SEED, chunk, counts[chunk], QUICK, path)
        paths["data"].append(path)
    gen.merge_ntuple_chunks("data", paths["data"], root / "data.root", SEED)
    return {"root": root, "chunks": paths, "specs": specs, "counts": counts, "block": block}


def read(path) -> dict:
    with uproot.open(path) as handle:
        tree = handle["mini"]
        return {name: tree[name].array(library="ak") for name in tree.keys()}


def test_files_hold_the_contract_branches(generated):
    for sample in gen.SAMPLES:
        branches = read(generated["root"] / f"{sample}.root")
        missing = set(CONTRACT) - set(branches)
        assert not missing, f"{sample}: {sorted(missing)}"
        assert set(np.unique(ak.flatten(branches["lep_type"]))) <= {11, 13}
        assert set(np.unique(ak.flatten(branches["jet_btag"]))) <= {0, 1}
        assert set(np.unique(ak.flatten(branches["lep_charge"]))) <= {-1, 1}
        # the skim, in MeV: >= 1 lepton above 20 GeV, >= 2 jets above 20 GeV, pT ordered
        assert ak.all(branches["lep_n"] >= 1) and ak.all(branches["jet_n"] >= 2)
        assert ak.all(branches["lep_n"] == ak.num(branches["lep_pt"]))
        assert ak.all(branches["jet_n"] == ak.num(branches["jet_eta"]))
        assert ak.min(branches["lep_pt"]) > 20_000 and ak.min(branches["jet_pt"]) > 20_000
        assert ak.all(abs(branches["jet_eta"]) < 2.5)
        assert all(np.all(np.diff(pt) <= 0) for pt in branches["jet_pt"].to_list())
        assert all(np.all(np.diff(pt) <= 0) for pt in branches["lep_pt"].to_list())


def test_weights_and_truth_are_simulation_only(generated):
    data = read(generated["root"] / "data.root")
    for name in (*gen.WEIGHT_BRANCHES, *gen.TRUTH_BRANCHES):
        assert name not in data, name
    for sample in gen.PROCESSES:
        mc = read(generated["root"] / f"{sample}.root")
        assert "jet_trueflav" in mc
        n = len(mc["lep_n"])
        assert n == QUICK["signal_events" if sample == "higgs" else "background_events"]
        assert ak.all(mc["mcWeight"] == 1.0)
        assert ak.all(mc["XSection"] > 0) and ak.all(mc["XSection"] == mc["XSection"][0])
        assert ak.all(mc["SumWeights"] >= n)


def test_sum_weights_and_cross_section_from_the_chunks(generated):
    """Independently of the merge: SumWeights = generated events of every chunk, XSection =
    their estimates weighted by generated events, in pb (Pythia gives mb)."""
    for sample in gen.PROCESSES:
        parts = [chunks.read_chunk(path) for path in generated["chunks"][sample]]
        generated_events = np.array([float(part[f"{sample}/generated"]) for part in parts])
        sigma = np.array([float(part[f"{sample}/sigma_mb"]) for part in parts])
        mc = read(generated["root"] / f"{sample}.root")
        assert mc["SumWeights"][0] == generated_events.sum()
        pooled = (generated_events * sigma).sum() / generated_events.sum() * 1e9
        assert mc["XSection"][0] == pytest.approx(pooled, rel=1e-12)


def event_rows(rows: dict, side: int) -> list:
    """Per-event tuples of every branch (side 0: the chunks, 1: the file), sorted."""
    return sorted(zip(*(rows[name][side] for name in sorted(rows)), strict=True))


def test_jagged_branches_round_trip(generated):
    """The chunk's counts and flat values come back from the ROOT file (MC: in chunk order;
    the pseudo-data: shuffled, so compared as sets of per-event rows)."""
    for sample in gen.SAMPLES:
        parts = [chunks.read_chunk(path) for path in generated["chunks"][sample]]
        tree = read(generated["root"] / f"{sample}.root")
        rows = {}
        for name in ["lep_n", "jet_n", "met_et", *JAGGED]:
            if sample == "data" and name in gen.TRUTH_BRANCHES:
                continue
            written = np.concatenate([part[name] for part in parts])
            back = tree[name]
            if name in JAGGED:
                counts = np.concatenate([part[f"{name[:3]}_n"] for part in parts])
                assert written.dtype == ak.flatten(back).to_numpy().dtype, name
                rows[name] = (ak.unflatten(written, counts).to_list(), back.to_list())
            else:
                rows[name] = (written.tolist(), back.to_list())
        if sample == "data":
            assert event_rows(rows, 0) == event_rows(rows, 1)
        else:
            for name, (written, back) in rows.items():
                assert written == back, f"{sample}: {name}"


def test_pseudo_data_follow_the_poisson_counts(generated):
    """The data's events of each process are the drawn counts around the expected yields,
    which are the MC weights' sums (computed here from the branches, independently)."""
    specs, block = generated["specs"], generated["block"]
    lumi, mu = block["constants"]["lumi"], block["constants"]["mu"]
    expected = gen.expected_yields(
        {p: generated["root"] / f"{p}.root" for p in gen.PROCESSES}, specs
    )
    for process in gen.PROCESSES:
        mc = read(generated["root"] / f"{process}.root")
        by_hand = float(ak.sum(mc["mcWeight"] * mc["XSection"] * 1000 * lumi / mc["SumWeights"]))
        by_hand *= mu if process == "higgs" else 1.0
        assert expected[process] == pytest.approx(by_hand, rel=1e-6)
    totals = gen.data_counts(expected, SEED)
    for number, process in enumerate(gen.PROCESSES):
        per_chunk = [counts[process] for counts in generated["counts"]]
        assert sum(per_chunk) == totals[process]
        found = [
            int((chunks.read_chunk(path)["process"] == number).sum())
            for path in generated["chunks"]["data"]
        ]
        assert found == per_chunk
    assert len(read(generated["root"] / "data.root")["lep_n"]) == sum(totals.values())
    assert sum(totals.values()) > 0  # not vacuous


def test_unpack_reads_the_generated_files_with_the_config(generated):
    """The config's expressions run on the generated layout (hepml.io.ntuples), and its MC
    cut-flow's first row is the expected yield the pseudo-data were drawn around."""
    settings = NtupleBlock.from_config(generated["block"])
    expected = gen.expected_yields(
        {p: generated["root"] / f"{p}.root" for p in gen.PROCESSES}, generated["specs"]
    )
    out = generated["root"] / "tables"
    for name in ("higgs", "ttbar", "data"):
        cutflow = unpack_sample(settings, name, out / f"{name}.feather", root=generated["root"])
        table = read_table(out / f"{name}.feather")
        assert table.num_rows == cutflow.events[-1]
        if name in expected:
            assert cutflow.sum_w[0] == pytest.approx(expected[name], rel=1e-9)


def test_same_seed_same_events(generated):
    """A chunk is a function of (seed, chunk, sample): regenerated, the fixture's first ttbar
    chunk is the same, array for array; the pseudo-data's streams are not the simulation's."""
    settings = gen.NtupleGenSettings.from_config(QUICK)
    again = gen.generate_ntuple_chunk("ttbar", SEED, 0, {"ttbar": 3}, settings)
    first = chunks.read_chunk(generated["chunks"]["ttbar"][0])
    assert sorted(again) == sorted(first)
    for name, values in again.items():
        np.testing.assert_array_equal(values, first[name], err_msg=name)
    pseudo = gen.generate_ntuple_chunk("data", SEED, 0, {"ttbar": 3}, settings)
    assert not np.array_equal(pseudo["met_et"], first["met_et"])


def test_bad_chunks_are_named_and_leave_nothing(generated, tmp_path):
    good = chunks.read_chunk(generated["chunks"]["ttbar"][0])
    broken = dict(good)
    broken["jet_pt"] = broken["jet_pt"][:-1]
    chunks.write_chunk(tmp_path / "short.h5", broken)
    out = tmp_path / "ttbar.root"
    with pytest.raises(ValueError, match=r"short.h5: key 'jet_pt': expected \d+ values"):
        gen.merge_ntuple_chunks("ttbar", [tmp_path / "short.h5"], out, SEED)
    missing = {k: v for k, v in good.items() if k != "met_phi"}
    chunks.write_chunk(tmp_path / "missing.h5", missing)
    with pytest.raises(ValueError, match=r"missing.h5: not an ntuple chunk \(no key 'met_phi'\)"):
        gen.merge_ntuple_chunks("ttbar", [tmp_path / "missing.h5"], out, SEED)
    assert not out.exists() and not list(tmp_path.glob(".*partial"))
    with pytest.raises(ValueError, match="no generated sample 'zz'"):
        gen.merge_ntuple_chunks("zz", generated["chunks"]["ttbar"], out, SEED)
