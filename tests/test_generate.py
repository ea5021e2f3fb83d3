"""The generate source: Pythia 8 events through the parametrised calorimeter (hepml.sources.pythia).

No network: Pythia 8 runs locally from its wheel.  The generated samples are a few dozen
candidates per class, enough for the published-layout validation and the determinism checks.
"""

from __future__ import annotations

import math
import re
import subprocess
import sys
from pathlib import Path

import h5py
import numpy as np
import pytest
import yaml
from hepml import io
from hepml.configcheck import validate_config
from hepml.hl import compute_hl
from hepml.io.publish import split_sizes
from hepml.sources.pythia import calorimeter as calo
from hepml.sources.pythia.chunks import (
    flatten_muon_chunk,
    merge_electron_chunks,
    merge_muon_chunks,
    train_pt_weights,
    write_chunk,
)
from hepml.sources.pythia.electrons import ElectronGenSettings, generate_electron_chunk
from hepml.sources.pythia.muons import MuonGenSettings, generate_muon_chunk, pt_weights_from_sample
from hepml.sources.pythia.pileup import MinBiasLibrary, overlay
from hepml.sources.pythia.pythia import (
    Particles,
    final_state,
    is_heavy_flavour_hadron,
    pythia_seed,
    start_pythia,
)
from hepml.sources.simulate.muons import PtWeights

ELECTRON_KEYS = ["et", "ht", "ee", "he", "hl", "mass", "y"]
MUON_KEYS = ["images", "iso", "pt", "y"]


def particles(pid, charge, pt, eta, phi) -> Particles:
    """Massless particles from (pT, eta, phi), all in event 0."""
    pt, eta, phi = (np.asarray(v, dtype=float) for v in (pt, eta, phi))
    return Particles(
        pid=np.asarray(pid),
        charge=np.asarray(charge, dtype=float),
        px=pt * np.cos(phi),
        py=pt * np.sin(phi),
        pz=pt * np.sinh(eta),
        e=pt * np.cosh(eta),
        event=np.zeros(len(pt), dtype=np.int64),
    )


# ------------------------------------------------------------------------------ calorimeter
def test_energy_fractions_follow_the_delphes_atlas_card():
    ecal, hcal = calo.energy_fractions(
        np.array([11, -11, 22, 111, 211, 130, 2112, 310, 3122, 13, 12])
    )
    np.testing.assert_allclose(ecal, [1, 1, 1, 1, 0, 0, 0, 0.3, 0.3, 0, 0])
    np.testing.assert_allclose(hcal, [0, 0, 0, 0, 1, 1, 1, 0.7, 0.7, 0, 0])


def test_neutral_particles_fly_straight_and_charged_ones_bend_by_the_helix_formula():
    p = particles([22, 211, -211], [0, 1, -1], [20.0, 20.0, 20.0], [0.3, 0.3, 0.3], [1.0, 1.0, 1.0])
    eta, phi = calo.propagate(p)
    assert eta[0] == pytest.approx(0.3) and phi[0] == pytest.approx(1.0)
    # Barrel exit: azimuth turns by asin(0.2998 B R / (2 pT)), clockwise for positive charge.
    bend = math.asin(calo.GEV_PER_TESLA_METRE * calo.BZ_TESLA * calo.RADIUS_M / (2 * 20.0))
    assert phi[1] == pytest.approx(1.0 - bend) and phi[2] == pytest.approx(1.0 + bend)
    # z grows with the arc length, r with the chord: the exit eta is a little larger.
    assert eta[1] > 0.3 and eta[1] == pytest.approx(eta[2])
    # A 0.2 GeV looper (2 rho = 0.67 m < 1.15 m) leaves through the end cap, far forward:
    # at most 2 rho from the beam when |z| = 3.51 m.
    looper = calo.propagate(particles([211], [1], [0.2], [0.5], [0.0]))[0][0]
    two_rho = 2 * 0.2 / (calo.GEV_PER_TESLA_METRE * calo.BZ_TESLA)
    assert looper >= math.asinh(calo.HALF_LENGTH_M / two_rho)


@pytest.mark.slow  # Pythia events (a few seconds each)
def test_deposited_energy_equals_the_visible_energy_of_pythia_events():
    """Bookkeeping: ECal + HCal towers (true energies) hold exactly the energy the card sends
    to the calorimeters, which is the total energy minus neutrinos and muons (in coverage)."""
    pythia = start_pythia(["HardQCD:all = on", "PhaseSpace:pTHatMin = 30"], 7, 13000.0)
    for _ in range(3):
        assert pythia.next()
        p, _ = final_state(pythia.event)
        ecal, hcal = calo.deposit(p)
        deposited = ecal.energy.sum() + hcal.energy.sum()
        assert deposited == pytest.approx(calo.visible_energy(p), rel=1e-12)
        eta, _ = calo.propagate(p)
        visible = ~np.isin(np.abs(p.pid), [12, 13, 14, 16]) & (np.abs(eta) <= calo.ETA_COVERAGE)
        assert deposited == pytest.approx(p.e[visible].sum(), rel=1e-12)
        em = np.isin(np.abs(p.pid), [11, 22])
        long_lived = np.isin(np.abs(p.pid), [310, 3122])
        expected_ecal = p.e[visible & em].sum() + 0.3 * p.e[visible & long_lived].sum()
        assert ecal.energy.sum() == pytest.approx(expected_ecal, rel=1e-12)
        # The resolution keeps the scale: the log-normal has the true energy as its mean.
        rng = np.random.default_rng(1)
        big = ecal.take(ecal.energy > 5)
        ratios = [calo.respond(rng, big, ecal=True).energy.sum() for _ in range(200)]
        assert np.mean(ratios) == pytest.approx(big.energy.sum(), rel=0.01)


def test_thresholds_of_the_card_are_applied_per_cell():
    towers = calo.Towers(
        event=np.zeros(3, dtype=np.int64),
        i_eta=np.array([0, 1, 2]),
        i_phi=np.array([0, 0, 0]),
        energy=np.array([0.4, 0.6, 30.0]),
    )
    out = calo.respond(np.random.default_rng(0), towers, ecal=True, smear=False)
    np.testing.assert_allclose(out.energy, [0.6, 30.0])  # EnergyMin 0.5 GeV
    hcal = calo.respond(np.random.default_rng(0), towers, ecal=False, smear=False)
    # HCal: 2 sigma with the 1.59 GeV noise term removes every cell below ~3.5 GeV.
    np.testing.assert_allclose(hcal.energy, [30.0])


# ------------------------------------------------------------------------------ pile-up
def test_overlay_draws_library_events_and_rotates_them():
    lib_particles = particles([211] * 5, [1] * 5, [1.0, 2.0, 3.0, 4.0, 5.0], [0.0] * 5, [0.0] * 5)
    lib_particles.event = np.array([0, 0, 1, 1, 1])
    library = MinBiasLibrary(lib_particles, np.array([0, 2, 5]))
    rng = np.random.default_rng(3)
    sizes = [len(overlay(rng, library, 4.0)) for _ in range(400)]
    assert np.mean(sizes) == pytest.approx(4.0 * 2.5, rel=0.1)  # Poisson(4) x 2.5 particles
    pile = overlay(np.random.default_rng(5), library, 4.0)
    assert set(np.round(pile.pt, 9)) <= {1.0, 2.0, 3.0, 4.0, 5.0}  # pT kept, phi rotated
    assert np.ptp(pile.phi) > 0


def test_heavy_flavour_hadrons_and_seeds():
    assert all(is_heavy_flavour_hadron(pid) for pid in (511, -521, 5122, 421, 443, 4122))
    assert not any(is_heavy_flavour_hadron(pid) for pid in (211, 111, 2212, 13, 5, 310))
    assert pythia_seed(1, 0, 1) == pythia_seed(1, 0, 1) != pythia_seed(1, 1, 1)
    assert 1 <= pythia_seed(123, 4, 2) <= 900_000_000


def test_unknown_generate_keys_are_named():
    with pytest.raises(ValueError, match=r"generate: unknown key\(s\) \[.pileup_muu.\]"):
        MuonGenSettings.from_config({"n_events": 10, "chunks": 1, "pileup_muu": 5})
    with pytest.raises(ValueError, match="eta_max"):
        ElectronGenSettings.from_config({"eta_max": 3.0})


# ------------------------------------------------------------------------------ samples
ELECTRON_SETTINGS = ElectronGenSettings()
MUON_SETTINGS = MuonGenSettings(pileup_mu=10.0, minbias_library_size=20)


@pytest.fixture(scope="module")
def electron_chunks():
    return [generate_electron_chunk(11, chunk, 24, ELECTRON_SETTINGS) for chunk in (0, 1)]


@pytest.fixture(scope="module")
def muon_chunk():
    return generate_muon_chunk(11, 0, 48, MUON_SETTINGS)


@pytest.mark.slow  # Pythia events (a few seconds each)
def test_generated_electrons_pass_the_published_layout_validation(electron_chunks, tmp_path):
    paths = [tmp_path / f"chunk{i}.h5" for i in range(2)]
    for path, chunk in zip(paths, electron_chunks, strict=True):
        write_chunk(path, chunk)
    merge_electron_chunks(paths, tmp_path / "unscaled_data.h5", tmp_path / "data.h5", 100.0)
    for name in ("unscaled_data.h5", "data.h5"):
        summary = io.published_summary(tmp_path / name, "electrons", ELECTRON_KEYS)
        assert sum(n for (n,) in summary.sizes.values()) == 48
    with h5py.File(tmp_path / "unscaled_data.h5") as h5:
        y = np.concatenate([h5["y"][split][()] for split in io.SPLITS])
        et = np.concatenate([h5["et"][split][()] for split in io.SPLITS])
        ht = np.concatenate([h5["ht"][split][()] for split in io.SPLITS])
        ee = np.concatenate([h5["ee"][split][()] for split in io.SPLITS])
        hl = np.concatenate([h5["hl"][split][()] for split in io.SPLITS])
    assert y.sum() == 24  # half signal
    np.testing.assert_allclose(hl, compute_hl(et, ht, ee))
    # The preselection: the centre cell's 3 x 3 ET exceeds 10 GeV, the centre is the hottest
    # ECal cell of its neighbourhood.
    centre = et[:, 14:17, 14:17, 0].sum(axis=(1, 2))
    assert (centre > 10.0).all()
    assert (et[:, 15, 15, 0] >= et[:, 13:18, 13:18, 0].max(axis=(1, 2)) - 1e-5).all()
    # Physics, not tuning: electrons leave almost nothing in the HCal, jets do.
    r_had = hl[:, 0]
    assert np.median(r_had[y == 1]) < np.median(r_had[y == 0])


@pytest.mark.slow  # Pythia events (a few seconds each)
def test_generated_muons_pass_the_published_layout_validation(muon_chunk, tmp_path):
    path = tmp_path / "chunk0.h5"
    write_chunk(path, flatten_muon_chunk(muon_chunk))
    merge_muon_chunks([path], tmp_path / "unscaled_data.h5", tmp_path / "data.h5", MUON_SETTINGS)
    summary = io.published_summary(tmp_path / "data.h5", "muons", MUON_KEYS)
    assert sum(n for n, _ in summary.sizes.values()) == 24
    assert sum(m for _, m in summary.sizes.values()) == 24
    with h5py.File(tmp_path / "data.h5") as h5:
        weights_bg_train = h5["weights_bg/train"][()]  # the weights are fitted on train
        weights_signal = np.concatenate([h5["weights_signal"][s][()] for s in io.SPLITS])
        iso = np.concatenate([h5["iso_bg"][s][()] for s in io.SPLITS])
    np.testing.assert_array_equal(weights_signal, 1.0)
    assert weights_bg_train.mean() == pytest.approx(1.0)
    assert (np.diff(iso, axis=1) >= -1e-6).all()  # cones grow with the radius
    pt = muon_chunk["signal"]["pt"]
    assert ((pt >= 10.0) & (pt <= 60.0)).all()


def test_weights_reweight_background_pt_to_signal():
    rng = np.random.default_rng(2)
    signal, bg = rng.uniform(10, 60, 20000), 10 * (1 + rng.pareto(3.0, 20000))
    bg = bg[bg < 60]
    weights = pt_weights_from_sample(signal, bg, MuonGenSettings())
    w = weights(bg, signal=False)
    edges = np.geomspace(10, 60, 21)
    weighted = np.histogram(bg, edges, weights=w)[0] / w.sum()
    np.testing.assert_allclose(weighted, np.histogram(signal, edges)[0] / len(signal), atol=3e-3)


def write_muon_chunks(directory, pts, settings, n_chunks=2):
    """Chunk files of the muon layout holding the given pT per class (empty images and cones:
    only the pT enters the weights), the pT split evenly over n_chunks files, in order."""
    paths = []
    for chunk in range(n_chunks):
        arrays = {}
        for label, pt in pts.items():
            part = np.array_split(pt, n_chunks)[chunk]
            arrays[f"{label}/pt"] = part.astype(np.float32)
            arrays[f"{label}/images"] = np.zeros((len(part), 32, 32), np.float32)
            arrays[f"{label}/iso"] = np.zeros((len(part), len(settings.iso_radii)), np.float32)
        paths.append(directory / f"chunk{chunk}.h5")
        write_chunk(paths[-1], arrays)
    return paths


def merged_muon_weights(directory, pts, settings):
    """(weights_bg per split, root attributes) of data.h5 merged from chunks holding pts."""
    directory.mkdir()
    paths = write_muon_chunks(directory, pts, settings)
    merge_muon_chunks(paths, directory / "unscaled_data.h5", directory / "data.h5", settings)
    with h5py.File(directory / "data.h5") as h5:
        weights = {split: h5["weights_bg"][split][()] for split in io.SPLITS}
        return weights, dict(h5.attrs), h5["pt_bg"]["test"][()]


def test_muon_pt_weights_are_fitted_on_train_only(tmp_path):
    """Changing only the valid and test events of the chunks changes neither the fitted pT
    weights nor any train weight (a statistic computed inside the merge job, which the DAG's
    file-level leak check cannot see); the new valid/test events are weighted with the train
    fit. Negative control: a fit on the pooled splits does see the change."""
    settings = MuonGenSettings()
    rng = np.random.default_rng(5)
    pts = {"signal": rng.uniform(10, 60, 500), "bg": np.minimum(10 * (1 + rng.pareto(3, 400)), 59)}
    train = {label: split_sizes(len(pt))["train"] for label, pt in pts.items()}
    changed = {label: pt.copy() for label, pt in pts.items()}
    changed["signal"][train["signal"] :] = 12.0  # valid + test signal all soft
    changed["bg"][train["bg"] :] = 50.0  # valid + test background all hard
    before, attrs, _ = merged_muon_weights(tmp_path / "before", pts, settings)
    after, attrs_after, pt_test = merged_muon_weights(tmp_path / "after", changed, settings)
    assert attrs["pt_weights_fitted_on"] == "train"
    np.testing.assert_array_equal(attrs["pt_weights_train_events"], [train["signal"], train["bg"]])
    np.testing.assert_array_equal(attrs_after["pt_weights_ratio"], attrs["pt_weights_ratio"])
    np.testing.assert_array_equal(after["train"], before["train"])
    assert after["train"].mean() == pytest.approx(1.0)  # normalised on the train background
    fitted = PtWeights(attrs["pt_weights_edges"], attrs["pt_weights_ratio"])
    np.testing.assert_allclose(after["test"], fitted(pt_test, signal=False))
    # negative control: the pooled fit (the old merge) moves with the valid/test events
    pooled = [pt_weights_from_sample(p["signal"], p["bg"], settings) for p in (pts, changed)]
    assert np.abs(pooled[0].ratio - pooled[1].ratio).max() > 0.1
    assert not np.array_equal(
        pooled[0](pts["bg"][: train["bg"]], False), pooled[1](pts["bg"][: train["bg"]], False)
    )


def test_muon_pt_weights_need_train_events(tmp_path):
    pts = {"signal": np.array([20.0]), "bg": np.array([30.0])}  # 1 event: round(0.64) = 1
    with pytest.raises(ValueError, match="no train events to fit the pT weights"):
        train_pt_weights({"signal": pts["signal"], "bg": pts["bg"][:0]}, MuonGenSettings())
    weights, attrs = train_pt_weights(pts, MuonGenSettings())
    assert attrs["pt_weights_fitted_on"] == "train"


@pytest.mark.slow  # Pythia events (a few seconds each)
def test_same_seed_same_events_other_chunk_other_events(electron_chunks, muon_chunk):
    again = generate_electron_chunk(11, 0, 24, ELECTRON_SETTINGS)
    for key, values in electron_chunks[0].items():
        np.testing.assert_array_equal(values, again[key])
    assert not np.array_equal(electron_chunks[0]["et"], electron_chunks[1]["et"])
    muons = generate_muon_chunk(11, 0, 48, MUON_SETTINGS)
    for label, part in muon_chunk.items():
        for key, values in part.items():
            np.testing.assert_array_equal(values, muons[label][key])


@pytest.mark.slow  # Pythia events (a few seconds each)
def test_merged_files_are_bit_identical(electron_chunks, tmp_path):
    for run in ("a", "b"):
        path = tmp_path / f"{run}_chunk.h5"
        write_chunk(path, electron_chunks[0])
        merge_electron_chunks(
            [path], tmp_path / f"{run}_unscaled.h5", tmp_path / f"{run}.h5", 100.0
        )
    assert (tmp_path / "a_unscaled.h5").read_bytes() == (tmp_path / "b_unscaled.h5").read_bytes()
    assert (tmp_path / "a.h5").read_bytes() == (tmp_path / "b.h5").read_bytes()


def test_the_generated_config_is_valid_and_its_blocks_build_settings():
    repo = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((repo / "config" / "generated.yaml").read_text())
    validate_config(config, yaml.safe_load((repo / "config" / "schema.yaml").read_text()))
    for name, cls in (("electrons", ElectronGenSettings), ("muons", MuonGenSettings)):
        block = config["datasets"][name]
        assert block["source"] == "generate"
        cls.from_config(block["generate"])


@pytest.mark.slow
def test_generate_source_plans_chunks_merge_and_unpack(tmp_path):
    """Dry run: source generate reads resources/electrons/generated/<file>, made by one
    generate_chunk job per chunk and one merge."""
    repo = Path(__file__).resolve().parents[1]
    config = yaml.safe_load((repo / "config" / "generated.yaml").read_text())
    electrons = config["datasets"]["electrons"]
    electrons["generate"]["chunks"] = 3
    config["datasets"] = {"electrons": electrons}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    target = "results/electrons/feather/test/y.feather"
    command = [sys.executable, "-m", "snakemake", target, "-n", "--snakefile", repo / "Snakefile"]
    command += ["--directory", tmp_path, "--configfile", tmp_path / "config.yaml"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    jobs = dict(re.findall(r"^(\w+)\s+(\d+)$", done.stdout, flags=re.MULTILINE))
    assert jobs["generate_chunk"] == "3" and jobs["merge_generated_chunks"] == "1"
    assert "resources/electrons/generated/unscaled_data.h5" in done.stdout
    assert "simulate_dataset" not in jobs
