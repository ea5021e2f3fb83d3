"""Top and QCD jets from Pythia 8: settings, towers, jet finding, top matching, a seeded chunk."""

from __future__ import annotations

import math

import numpy as np
import pytest
from hepml.io import jets as benchmark
from hepml.jets.preprocess import jet_kinematics
from hepml.sources.pythia import jets as gen
from hepml.sources.pythia.pythia import Particles


def massless(pt, eta, phi) -> np.ndarray:
    pt, eta, phi = np.broadcast_arrays(*(np.asarray(a, dtype=float) for a in (pt, eta, phi)))
    return np.stack([pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], -1)


# ---------------------------------------------------------------------------- settings
def test_settings_from_config():
    settings = gen.TopGenSettings.from_config(
        {"n_events": 10, "chunks": 2, "background_commands": ["HardQCD:all = on"], "smear": False}
    )
    assert settings.background_commands == ("HardQCD:all = on",)
    assert settings.smear is False and settings.ecm_gev == 14000.0
    with pytest.raises(ValueError, match=r"generate: unknown key\(s\) \['jet_ptmin'\]"):
        gen.TopGenSettings.from_config({"jet_ptmin": 500})
    with pytest.raises(ValueError, match="signal_fraction"):
        gen.TopGenSettings(signal_fraction=1.0)
    with pytest.raises(ValueError, match="jet_pt_min, jet_pt_max"):
        gen.TopGenSettings(jet_pt_min=700.0)
    with pytest.raises(AttributeError):
        settings.smear = True  # frozen


def test_commands_switch_mpi():
    """Off by default, as in the benchmark's sample (its readme: no MPI, no pile-up)."""
    assert gen.TopGenSettings().commands(True)[-1] == "PartonLevel:MPI = off"
    on = gen.TopGenSettings(multiparton_interactions=True).commands(False)
    assert on[-1] == "PartonLevel:MPI = on" and "HardQCD:all = on" in on


# -------------------------------------------------------------------- towers and jets
def test_towers_are_massless_at_the_cell_centres():
    particles = Particles(
        pid=np.array([22, 211, 12]),
        charge=np.array([0.0, 1.0, 0.0]),
        px=np.array([100.0, 0.0, 30.0]),
        py=np.array([0.0, 80.0, 0.0]),
        pz=np.array([20.0, -40.0, 0.0]),
        e=np.array([math.hypot(100.0, 20.0), math.hypot(80.0, 40.0), 30.0]),
        event=np.zeros(3, dtype=np.int64),
    )
    towers = gen.tower_constituents(particles, np.random.default_rng(0), smear=False)
    assert towers.shape == (2, 4)  # the neutrino leaves nothing
    np.testing.assert_allclose(towers[:, 0] ** 2, (towers[:, 1:] ** 2).sum(axis=1), rtol=1e-12)
    np.testing.assert_allclose(sorted(towers[:, 0]), sorted(particles.e[:2]), rtol=1e-12)
    photon = towers[np.argmax(towers[:, 1])]
    eta = math.asinh(photon[3] / math.hypot(photon[1], photon[2]))
    assert abs(eta - math.asinh(0.2)) < 0.0125 + 1e-12  # within half an ECal cell


def test_leading_jet_is_the_hardest_and_pt_ordered():
    rng = np.random.default_rng(1)
    hard = massless(rng.uniform(1, 50, 12), rng.normal(0.3, 0.1, 12), rng.normal(1.0, 0.1, 12))
    soft = massless(rng.uniform(1, 5, 6), rng.normal(-1.5, 0.1, 6), rng.normal(-2.0, 0.1, 6))
    jet, members = gen.leading_jet(np.concatenate([soft, hard]), 0.8)
    np.testing.assert_allclose(jet, hard.sum(axis=0), rtol=1e-12)
    assert len(members) == 12
    pts = np.hypot(members[:, 1], members[:, 2])
    assert np.all(np.diff(pts) <= 0)
    assert gen.leading_jet(np.zeros((0, 4)), 0.8) is None


def test_selection_cuts():
    settings = gen.TopGenSettings()
    assert gen.passes_selection(massless(600.0, 1.9, 0.0), settings)
    assert not gen.passes_selection(massless(600.0, 2.1, 0.0), settings)
    assert not gen.passes_selection(massless(549.0, 0.0, 0.0), settings)
    assert not gen.passes_selection(massless(651.0, 0.0, 0.0), settings)


class _Particle:
    def __init__(self, record, index, pid, four, daughters=()):
        self._record, self._index, self._id = record, index, pid
        self._four, self._daughters = four, list(daughters)

    def id(self):
        return self._id

    def index(self):
        return self._index

    def daughterList(self):  # noqa: N802 (Pythia's name)
        return self._daughters

    def e(self):
        return self._four[0]

    def px(self):
        return self._four[1]

    def py(self):
        return self._four[2]

    def pz(self):
        return self._four[3]


class _Record(list):
    """A stand-in for Pythia's process record: t -> W b, W -> q q'."""

    def __init__(self, b_phi: float):
        super().__init__()
        quark = {"b": massless(150.0, 0.1, b_phi), "u": massless(250.0, 0.0, 0.1),
                 "d": massless(200.0, -0.1, -0.1)}  # fmt: skip
        w = quark["u"] + quark["d"]
        top = w + quark["b"]
        entries = [
            (0, 90, (0, 0, 0, 0), ()),
            (1, 6, top, (2, 3)),
            (2, 24, w, (4, 5)),
            (3, 5, quark["b"], ()),
            (4, 2, quark["u"], ()),
            (5, -1, quark["d"], ()),
        ]
        for index, pid, four, daughters in entries:
            self.append(_Particle(self, index, pid, np.asarray(four, dtype=float), daughters))


def test_top_matching_needs_the_top_and_its_three_quarks():
    merged = _Record(b_phi=0.3)
    jet = sum(p._four for p in merged[3:])
    tops = gen.hadronic_tops(merged)
    assert len(tops) == 1 and tops[0][1].shape == (3, 4)
    np.testing.assert_allclose(gen.matched_top(jet, merged, 0.8), merged[1]._four)
    far_b = _Record(b_phi=1.2)  # the b quark 1.2 from the W quarks: outside 0.8
    jet_light = far_b[4]._four + far_b[5]._four
    assert gen.matched_top(jet_light, far_b, 0.8) is None
    assert gen.matched_top(massless(600.0, 0.0, 2.5), merged, 0.8) is None


# ------------------------------------------------------------------- a seeded chunk
@pytest.mark.slow
def test_seeded_chunk(tmp_path):
    settings = gen.TopGenSettings()
    chunk = gen.generate_top_chunk(seed=5, chunk=0, n_jets=6, settings=settings)
    constituents, labels, truth = chunk["constituents"], chunk["labels"], chunk["truth"]
    assert constituents.shape == (6, 200, 4) and labels.tolist().count(1) == 3
    pt, eta, phi = jet_kinematics(constituents)
    counts = (np.hypot(constituents[..., 1], constituents[..., 2]) > 0).sum(axis=1)
    assert np.all(counts < 200)  # all constituents kept: the sum is the jet
    assert np.all((pt > 550) & (pt < 650)) and np.all(np.abs(eta) < 2)
    for jet, n in zip(constituents, counts, strict=True):
        pts = np.hypot(jet[:, 1], jet[:, 2])
        assert np.all(np.diff(pts[:n]) <= 0) and not jet[n:].any()
        np.testing.assert_allclose(jet[:n, 0] ** 2, (jet[:n, 1:] ** 2).sum(axis=1), rtol=1e-9)
    assert np.all(truth[labels == 0] == 0)
    signal = labels == 1
    for top, jet in zip(truth[signal], constituents[signal].sum(axis=1), strict=True):
        assert gen.delta_r(top, jet) < 0.8
        assert 100 < math.sqrt(max(top[0] ** 2 - (top[1:] ** 2).sum(), 0)) < 250
    again = gen.generate_top_chunk(seed=5, chunk=0, n_jets=6, settings=settings)
    for key in chunk:
        np.testing.assert_array_equal(again[key], chunk[key])
    other = gen.generate_top_chunk(seed=5, chunk=1, n_jets=6, settings=settings)
    assert not np.array_equal(other["constituents"], constituents)
    path = tmp_path / "train.h5"
    benchmark.write_benchmark(path, constituents, labels, truth)
    block = benchmark.read_benchmark(path)
    np.testing.assert_allclose(block.constituents, constituents, rtol=1e-6, atol=1e-4)
    np.testing.assert_array_equal(block.labels, labels)
