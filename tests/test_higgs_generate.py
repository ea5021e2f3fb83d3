"""The Higgs benchmark's events from Pythia 8 (hepml.sources.pythia.higgs) and their merge into
the UCI layout (hepml.sources.pythia.chunks.merge_table_chunks), docs/generator.md "Higgs
benchmark events"."""

from __future__ import annotations

import csv
import gzip
import json
import math

import numpy as np
import pytest
from hepml.sources.pythia import chunks
from hepml.sources.pythia import higgs as gen
from hepml.sources.pythia.pythia import final_state, start_pythia

# A quick sample: no multiparton interactions (half the time per event), both classes.
QUICK = gen.HiggsGenSettings(multiparton_interactions=False)
EVENTS_PER_CLASS = 200


def four(pt, eta, phi, m=0.0) -> np.ndarray:
    return gen.four_vectors(pt, eta, phi, m)


# ---------------------------------------------------------------------------- settings
def test_settings_from_config_and_their_checks():
    settings = gen.HiggsGenSettings.from_config({"n_events": 10, "chunks": 2, "jet_r": 0.4})
    assert settings.jet_r == 0.4 and settings.ecm_gev == 8000.0
    with pytest.raises(ValueError, match=r"generate: unknown key\(s\) \['jet_radius'\]"):
        gen.HiggsGenSettings.from_config({"jet_radius": 0.4})
    with pytest.raises(ValueError, match="no open decay channel"):
        gen.HiggsGenSettings(heavy_higgs_mass_min=400.0)  # below m_W + m_H+- = 405.4
    with pytest.raises(ValueError, match="btags_min"):
        gen.HiggsGenSettings(btags_min=1)
    signal = gen.HiggsGenSettings().commands(True)
    assert "HiggsH2:coup2HchgW = 1.0" in signal and "35:mMin = 406.0" in signal
    assert "Top:gg2ttbar = on" in gen.HiggsGenSettings().commands(False)


def test_without_the_h0_w_hchg_coupling_pythia_has_no_signal():
    """Negative control of the coupling: Pythia's default 0 leaves no open channel, and its
    initialisation fails (Pythia 8 manual, "Higgs Processes")."""
    commands = [c for c in QUICK.commands(True) if not c.startswith("HiggsH2:coup2HchgW")]
    with pytest.raises(RuntimeError, match="initialisation failed"):
        start_pythia([*commands, "PartonLevel:all = off"], 1, QUICK.ecm_gev)


# ------------------------------------------------------------------ kinematics by hand
def test_neutrino_pz_from_the_w_mass():
    """A W at rest-frame angles, boosted along z: the smaller-|pz| root is the true neutrino
    when it is the smaller one, and m(l nu) = m_W; without a real root, m(l nu) > m_W."""
    lepton = four(40.0, 0.3, 0.2)
    # the true neutrino: pT 35 at phi 2.0, with the pz that puts m(l nu) at m_W
    for eta_nu in np.linspace(-1.5, 1.5, 7):
        nu_true = four(35.0, eta_nu, 2.0)
        if gen.mass(lepton, nu_true) < 1.0:
            continue
        # rescale the neutrino's pT so that the pair is exactly on the W mass
        scale = gen.W_MASS**2 / gen.mass(lepton, nu_true) ** 2
        nu_true = four(35.0 * scale, eta_nu, 2.0)
        nu = gen.neutrino(lepton, nu_true[1], nu_true[2])
        assert gen.mass(lepton, nu) == pytest.approx(gen.W_MASS, rel=1e-9)
        assert abs(nu[3]) <= abs(nu_true[3]) + 1e-6  # the true pz is one of the two roots
    nu = gen.neutrino(lepton, 300.0 * math.cos(3.3), 300.0 * math.sin(3.3))  # m_T >> m_W
    assert gen.mass(lepton, nu) > gen.W_MASS


def ttbar_event(rng):
    """Four-vectors of a made-up lepton + jets t tbar event: W -> jj, t -> jjb, t -> l nu b."""
    w_jets = [four(60.0, 0.1, 0.5), None]
    # the second W jet: the massless vector that puts m(jj) on the W mass
    j2 = four(45.0, -0.4, 1.9)
    j2 *= gen.W_MASS**2 / gen.mass(w_jets[0], j2) ** 2
    w_jets[1] = j2
    lepton, nu = four(50.0, 0.5, -1.0), four(40.0, 0.9, -2.5)
    nu *= gen.W_MASS**2 / gen.mass(lepton, nu) ** 2
    b_had, b_lep = four(70.0, -0.2, 2.9), four(65.0, 1.1, -1.7)
    extra = four(90.0, 2.0, 0.0)  # an untagged radiation jet, harder than the W jets
    jets = np.array([b_had, b_lep, *w_jets, extra])
    tags = np.array([True, True, False, False, False])
    order = rng.permutation(len(jets))
    return lepton, nu, jets[order], tags[order], (w_jets, b_had, b_lep)


def test_high_level_masses_follow_the_assignment_rules():
    lepton, nu, jets, tags, (w_jets, b_had, b_lep) = ttbar_event(np.random.default_rng(3))
    pt = np.hypot(jets[:, 1], jets[:, 2])
    order = np.argsort(-pt)
    m = dict(zip(gen.HIGH_LEVEL, gen.high_level(lepton, nu, jets[order], tags[order]), strict=True))
    assert m["m_jj"] == pytest.approx(gen.W_MASS)  # the pair nearest m_W, not the radiation
    assert m["m_lv"] == pytest.approx(gen.W_MASS)
    assert m["m_bb"] == pytest.approx(gen.mass(b_had, b_lep))
    # the b jets go where both tops come out closest to the top mass
    straight = (gen.mass(*w_jets, b_had) - gen.TOP_MASS) ** 2 + (
        gen.mass(lepton, nu, b_lep) - gen.TOP_MASS
    ) ** 2
    swapped = (gen.mass(*w_jets, b_lep) - gen.TOP_MASS) ** 2 + (
        gen.mass(lepton, nu, b_had) - gen.TOP_MASS
    ) ** 2
    expect_had = b_had if straight <= swapped else b_lep
    assert m["m_jjj"] == pytest.approx(gen.mass(*w_jets, expect_had))
    assert m["m_wwbb"] == pytest.approx(gen.mass(*w_jets, lepton, nu, b_had, b_lep))
    assert m["m_wbb"] == pytest.approx(gen.mass(*w_jets, b_had, b_lep))


def test_card_numbers():
    """The Delphes ATLAS card's b-tag and lepton numbers at a few points."""
    eff = gen.btag_efficiency(np.array([5, 4, 0]), np.array([100.0, 100.0, 100.0]))
    np.testing.assert_allclose(
        eff, [0.8 * math.tanh(0.3) * 30 / 9.6, 0.2 * math.tanh(2.0) / 1.34, 0.00273], rtol=1e-9
    )
    leptons = gen.lepton_efficiency(np.array([11, 11, 13, 13, 11]), np.array([50.0, 50, 50, 50, 5]),
                                    np.array([0.5, 2.0, 0.5, 2.6, 0.5]))  # fmt: skip
    np.testing.assert_allclose(leptons, [0.95 * 0.95, 0.83 * 0.85, 0.99 * 0.95, 0.0, 0.0])


# ---------------------------------------------------------------- Pythia 8 events
def sample(signal: bool, seed: int) -> tuple[np.ndarray, int, float]:
    """Features of the selected events among EVENTS_PER_CLASS, failed next() calls, sigma."""
    pythia = start_pythia(QUICK.commands(signal), seed, QUICK.ecm_gev)
    rng = np.random.default_rng(seed)
    rows, failed = [], 0
    for _ in range(EVENTS_PER_CLASS):
        if not pythia.next():
            failed += 1
            continue
        particles, _ = final_state(pythia.event)
        row = gen.event_features(particles, pythia.event, rng, QUICK)
        if row is not None:
            rows.append(row)
    return np.array(rows), failed, pythia.infoPython().sigmaGen()


@pytest.fixture(scope="module")
def events():
    return {
        label: sample(label == "signal", seed) for label, seed in (("signal", 11), ("ttbar", 12))
    }


def column(features: np.ndarray, name: str) -> np.ndarray:
    return features[:, gen.FEATURES.index(name)]


def test_pythia_settings_give_events_and_no_aborted_decays(events):
    for label, (features, failed, sigma) in events.items():
        assert sigma > 0, label
        assert failed == 0, f"{label}: {failed} aborted events (no open decay channel?)"
        assert len(features) >= 20, f"{label}: only {len(features)} selected"
        assert np.isfinite(features).all()


def test_selected_events_pass_the_paper_selection(events):
    for features, _, _ in events.values():
        assert (column(features, "lepton_pT") > 20).all()
        assert (np.abs(column(features, "lepton_eta")) < 2.5).all()
        pts = features[:, [gen.FEATURES.index(f"jet{j}_pt") for j in range(1, 5)]]
        assert (pts > 20).all() and (np.diff(pts, axis=1) <= 0).all()  # pT ordered
        tags = features[:, [gen.FEATURES.index(f"jet{j}_btag") for j in range(1, 5)]]
        assert np.isin(tags, (0.0, 1.0)).all()
        assert (np.abs(features[:, [gen.FEATURES.index(n) for n in gen.SIGNED if "phi" in n]])
                <= math.pi).all()  # fmt: skip


def test_masses_peak_where_the_physics_puts_them(events):
    """Medians in the windows docs/generator.md states, from the physics and not from a run:
    the leptonic W on m_W (its pz solves the W-mass constraint: exactly m_W unless there is no
    real root, then above); the h0 -> bb pair at or below 125 GeV (b jets lose the neutrinos
    of semileptonic b decays and cells below the tower thresholds: 90-135); the H0 near 425
    GeV (broadened by jet response, radiation jets and the neutrino pz: 320-530); the t tbar
    hadronic top near 172.6 GeV (145-200)."""
    signal, ttbar = events["signal"][0], events["ttbar"][0]
    for features in (signal, ttbar):
        assert 78 < np.median(column(features, "m_lv")) < 85
    assert 90 < np.median(column(signal, "m_bb")) < 135
    assert 320 < np.median(column(signal, "m_wwbb")) < 530
    assert 145 < np.median(column(ttbar, "m_jjj")) < 200
    # the h0 makes the difference: more signal than t tbar b pairs within 25 GeV of 120 GeV
    near = [np.mean(np.abs(column(f, "m_bb") - 120) < 25) for f in (signal, ttbar)]
    assert near[0] > near[1]


def test_chunk_holds_both_classes(tmp_path):
    """The generate_chunk path of kind tabular: n_events of each class, shuffled."""
    path = tmp_path / "0.h5"
    chunks.write_generated_chunk("tabular", 5, 0, 1, {"multiparton_interactions": False}, path)
    arrays = chunks.read_chunk(path)
    assert arrays["features"].shape == (2, 28) and sorted(arrays["labels"]) == [0, 1]
    assert np.isfinite(arrays["features"]).all()


# ------------------------------------------------------------- the merged UCI table
def synthetic_chunks(directory, rng, n_chunks=3, rows=40):
    """Chunk files of made-up features; column 0 (lepton_pT) is a unique row id + 1."""
    paths = []
    for c in range(n_chunks):
        features = np.abs(rng.normal(50.0, 10.0, size=(rows, 28)))
        signed = [gen.FEATURES.index(n) for n in gen.SIGNED]
        features[:, signed] = rng.normal(0.0, 1.5, size=(rows, len(signed)))
        features[:, 0] = 1.0 + c * rows + np.arange(rows)
        labels = np.tile([1, 0], rows // 2).astype(np.int8)
        paths.append(directory / f"{c}.h5")
        chunks.write_chunk(paths[-1], {"features": features, "labels": labels})
    return paths


def read_uci(path) -> np.ndarray:
    """An independent reader of the UCI layout: gzip, comma separated, no header."""
    with gzip.open(path, "rt", newline="") as stream:
        rows = [[float(value) for value in row] for row in csv.reader(stream)]
    return np.array(rows)


def test_merged_table_has_the_uci_layout(tmp_path):
    paths = synthetic_chunks(tmp_path, np.random.default_rng(0))
    out = tmp_path / "HIGGS.csv.gz"
    chunks.merge_table_chunks(paths, out, tmp_path / "scaling.json", seed=7, test_rows=30)
    table = read_uci(out)  # a header row would not parse as floats
    assert table.shape == (120, 29)
    assert set(table[:, 0]) == {0.0, 1.0} and table[:, 0].sum() == 60
    scaling = json.loads((tmp_path / "scaling.json").read_text())
    assert scaling["fitted_rows"] == 90 and scaling["fitted_on"] == "train"
    train = table[:90, 1:]
    for k, name in enumerate(gen.FEATURES):
        if name in gen.SIGNED:
            assert train[:, k].mean() == pytest.approx(0.0, abs=1e-6)
            assert train[:, k].std() == pytest.approx(1.0, rel=1e-6)
        else:
            assert train[:, k].mean() == pytest.approx(1.0, rel=1e-6)
    # rows are shuffled: the ids (column lepton_pT) are not in chunk order
    ids = table[:, 1] * scaling["columns"]["lepton_pT"]["scale"]
    assert not np.all(np.diff(ids) > 0)
    np.testing.assert_allclose(np.sort(ids), np.arange(1, 121), rtol=1e-7)
    first = out.read_bytes()
    chunks.merge_table_chunks(paths, out, tmp_path / "scaling.json", seed=7, test_rows=30)
    assert out.read_bytes() == first  # same chunks and seed, same bytes


def test_test_rows_do_not_move_the_scaling(tmp_path):
    """Blow the test rows' values up by 1000 in the chunks: the training rows and the
    statistics must not change (they would if the scaling saw every row)."""
    rng = np.random.default_rng(1)
    first = tmp_path / "a"
    paths = synthetic_chunks(first, rng)
    chunks.merge_table_chunks(paths, first / "t.csv.gz", first / "s.json", seed=3, test_rows=30)
    scaling = json.loads((first / "s.json").read_text())
    table = read_uci(first / "t.csv.gz")
    test_ids = set(np.rint(table[90:, 1] * scaling["columns"]["lepton_pT"]["scale"]).astype(int))
    assert len(test_ids) == 30
    second = tmp_path / "b"
    second.mkdir()
    moved = []
    for path in paths:
        arrays = chunks.read_chunk(path)
        hit = np.isin(np.rint(arrays["features"][:, 0]).astype(int), list(test_ids))
        arrays["features"][hit, 1:] *= 1000.0
        moved.append(second / path.name)
        chunks.write_chunk(moved[-1], arrays)
    chunks.merge_table_chunks(moved, second / "t.csv.gz", second / "s.json", seed=3, test_rows=30)
    assert json.loads((second / "s.json").read_text()) == scaling
    np.testing.assert_array_equal(read_uci(second / "t.csv.gz")[:90], table[:90])


def test_bad_chunks_and_test_rows_are_named_and_leave_nothing(tmp_path):
    paths = synthetic_chunks(tmp_path, np.random.default_rng(2), n_chunks=1)
    out, scaling = tmp_path / "HIGGS.csv.gz", tmp_path / "s.json"
    with pytest.raises(ValueError, match=r"table.test_rows: 40 test rows of 40"):
        chunks.merge_table_chunks(paths, out, scaling, seed=1, test_rows=40)
    chunks.write_chunk(tmp_path / "bad.h5", {"features": np.zeros((4, 27))})
    with pytest.raises(ValueError, match=r"bad.h5: key 'features': expected shape \(n, 28\)"):
        chunks.merge_table_chunks([tmp_path / "bad.h5"], out, scaling, seed=1, test_rows=1)
    assert not out.exists() and not scaling.exists()
    assert not list(tmp_path.glob(".*partial"))
