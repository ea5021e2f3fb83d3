"""The muon simulator: settings, layout, determinism, isolation sums, weights and physics."""

import dataclasses
from pathlib import Path

import h5py
import numpy as np
import pytest
from hepml import io, metrics
from hepml.geometry import MUON
from hepml.sources.simulate import muons as sim
from hepml.steps.data import write_muon_dataset
from sklearn.metrics import roc_auc_score

SEED = 11
REPO = Path(__file__).resolve().parents[1]


def sample(n_events: int, seed: int = SEED, chunk_size: int = 10_000, **changes):
    """{(label, split): arrays} of the whole sample, chunks concatenated."""
    settings = sim.MuonSimSettings(**changes)
    parts: dict = {}
    for chunk in sim.simulate_muons(n_events, seed, settings, chunk_size):
        parts.setdefault((chunk.label, chunk.split), []).append(chunk)
    out = {}
    for where, chunks in parts.items():
        assert [c.start for c in chunks] == sorted(c.start for c in chunks)
        out[where] = {k: np.concatenate([c.arrays[k] for c in chunks]) for k in sim.PUBLISHED_KEYS}
    return out


@pytest.fixture(scope="module")
def events():
    """About 6k events: {'signal': arrays, 'bg': arrays} with all splits together."""
    data = sample(6000)
    return {
        label: {
            key: np.concatenate([data[(label, split)][key] for split in sim.SPLITS])
            for key in sim.PUBLISHED_KEYS
        }
        for label in sim.CLASSES
    }


def test_settings_from_config_names_unknown_and_bad_keys():
    settings = sim.MuonSimSettings.from_config(
        {"n_events": 100, "pileup_mu": 40, "iso_radii": [0.2, 0.3], "weight_bins": 10}
    )
    assert settings.pileup_mu == 40.0 and settings.iso_radii == (0.2, 0.3)
    assert isinstance(settings.weight_bins, int)
    with pytest.raises(ValueError, match=r"simulate: unknown key\(s\) \[.pileup_m.\]"):
        sim.MuonSimSettings.from_config({"pileup_m": 40})
    with pytest.raises(ValueError, match="simulate.pt_min"):
        sim.MuonSimSettings.from_config({"pt_min": "ten"})
    with pytest.raises(ValueError, match="iso_radii"):
        sim.MuonSimSettings(iso_radii=(0.3, 0.2))
    with pytest.raises(ValueError, match="pt_min/pt_max"):
        sim.MuonSimSettings(pt_min=30.0, pt_max=20.0)
    with pytest.raises(ValueError, match="signal_fraction"):
        sim.MuonSimSettings(signal_fraction=1.5)


def test_split_sizes_are_64_16_20_per_class():
    sizes = sim.split_sizes(1001, 0.5)
    assert sum(sum(s.values()) for s in sizes.values()) == 1001
    assert sizes["signal"] == {"train": 320, "valid": 80, "test": 100}
    assert sizes["bg"] == {"train": 321, "valid": 80, "test": 100}


def test_layout_shapes_dtypes_and_ranges():
    data = sample(2100)
    sizes = sim.split_sizes(2100, 0.5)
    n_cones = len(sim.MuonSimSettings().iso_radii)
    for (label, split), arrays in data.items():
        n = sizes[label][split]
        assert arrays["images"].shape == (n, *MUON.shape) and arrays["images"].dtype == np.float32
        assert arrays["iso"].shape == (n, n_cones)
        assert arrays["weights"].shape == (n,) and arrays["weights"].dtype == np.float64
        assert arrays["pt"].shape == (n,)
        assert (arrays["images"] >= 0).all() and np.isfinite(arrays["iso"]).all()
        assert ((arrays["pt"] >= 10.0) & (arrays["pt"] <= 60.0)).all()
        assert (np.diff(arrays["iso"], axis=1) >= -1e-6).all()  # cones are nested


def test_seeded_and_independent_of_the_chunk_size():
    first, second = sample(2600, chunk_size=1000), sample(2600, chunk_size=50_000)
    other = sample(2600, seed=SEED + 1)
    for where in first:
        for key in sim.PUBLISHED_KEYS:
            np.testing.assert_array_equal(first[where][key], second[where][key])
    assert not np.array_equal(first["bg", "train"]["images"], other["bg", "train"]["images"])


def test_chunks_are_bounded():
    sizes = [
        len(chunk.arrays["pt"])
        for chunk in sim.simulate_muons(9000, SEED, sim.MuonSimSettings(), chunk_size=2000)
    ]
    assert max(sizes) <= 2000 and sum(sizes) == 9000


def test_isolation_is_the_cone_sum_of_the_image_over_pt(events):
    """Brute force: for every cone inside the image, loop over pixels with centre dR < R0."""
    settings = sim.MuonSimSettings()
    delta_r = MUON.delta_r()
    arrays = events["bg"]
    for k, radius in enumerate(settings.iso_radii):
        if radius > MUON.n_eta * MUON.d_eta / 2:
            continue  # cones past the image edge use the wider simulated grid
        for event in range(0, 300, 7):
            total = 0.0
            for row in range(MUON.n_phi):
                for col in range(MUON.n_eta):
                    if delta_r[row, col] < radius:
                        total += float(arrays["images"][event, row, col])
            expected = total / float(arrays["pt"][event])
            assert arrays["iso"][event, k] == pytest.approx(expected, rel=1e-4, abs=1e-6)


def test_the_muon_itself_deposits_nothing():
    quiet = dict(pileup_mu=0.0, ue_density=0.0, fsr_probability=0.0)
    data = sample(1000, **quiet)
    for split in sim.SPLITS:
        assert not data["signal", split]["images"].any()
        assert not data["signal", split]["iso"].any()
    assert data["bg", "train"]["images"].any()  # only the b-jet fragments remain


def test_weights_flatten_the_pt_difference(events):
    signal, background = events["signal"], events["bg"]
    np.testing.assert_array_equal(signal["weights"], 1.0)
    assert background["weights"].mean() == pytest.approx(1.0, abs=0.1)
    edges = np.geomspace(10, 60, 8)
    sig = np.histogram(signal["pt"], edges)[0] / len(signal["pt"])
    raw = np.histogram(background["pt"], edges)[0] / len(background["pt"])
    weighted = np.histogram(background["pt"], edges, weights=background["weights"])[0]
    weighted /= background["weights"].sum()
    assert np.abs(weighted - sig).max() < 0.3 * np.abs(raw - sig).max() + 0.01


def test_pt_weights_are_normalised_density_ratios():
    settings = sim.MuonSimSettings(weight_reference_events=200_000)
    weights = sim.pt_weights(SEED, settings)
    rng = np.random.default_rng(0)
    pt = sim.sample_pt(rng, 200_000, False, settings)
    assert weights(pt, False).mean() == pytest.approx(1.0, abs=0.02)
    np.testing.assert_array_equal(weights(pt[:10], True), 1.0)


def test_non_prompt_muons_have_more_et_close_by_growing_with_radius(events):
    """docs/reference.md 2: extra ET close to non-prompt muons that grows with the cone radius."""
    sig, bg = events["signal"], events["bg"]
    excess = np.average(bg["iso"], axis=0, weights=bg["weights"]) - sig["iso"].mean(axis=0)
    assert (excess > 0).all()
    assert (np.diff(excess) > -0.02).all() and excess[-1] > 1.5 * excess[0]


def test_pileup_is_a_roughly_uniform_floor(events):
    """Signal ET per pixel is flat in Delta R (pile-up + UE), background peaks at the muon."""
    delta_r = MUON.delta_r()
    rings = [(0.0, 0.1), (0.1, 0.2), (0.2, 0.3), (0.3, 0.4)]
    per_pixel = {
        label: [
            events[label]["images"][:, (delta_r >= lo) & (delta_r < hi)].mean() for lo, hi in rings
        ]
        for label in sim.CLASSES
    }
    signal = np.array(per_pixel["signal"])
    assert signal.max() / signal.min() < 1.25
    assert per_pixel["bg"][0] > 1.5 * per_pixel["signal"][0]


def test_more_pileup_means_more_et():
    low = sample(1000, pileup_mu=10.0)["signal", "train"]["images"].sum()
    high = sample(1000, pileup_mu=80.0)["signal", "train"]["images"].sum()
    assert high > 2 * low


def test_settings_are_frozen_and_documented_in_the_schema():
    import yaml

    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    text = yaml.safe_dump(schema)
    for field in dataclasses.fields(sim.MuonSimSettings):
        assert field.name in text, f"simulate.{field.name} missing from config/schema.yaml"
    with pytest.raises(dataclasses.FrozenInstanceError):
        sim.MuonSimSettings().pt_min = 5.0  # type: ignore[misc]


def test_weighted_metrics_on_muons_match_sklearn(events):
    """Muon weights in the workflow's metrics: AUC as scikit-learn's, interval around it."""
    y = np.r_[np.ones(len(events["signal"]["pt"])), np.zeros(len(events["bg"]["pt"]))]
    weight = np.r_[events["signal"]["weights"], events["bg"]["weights"]]
    score = -np.r_[events["signal"]["iso"][:, 2], events["bg"]["iso"][:, 2]]  # isolated = prompt
    pt = np.r_[events["signal"]["pt"], events["bg"]["pt"]]
    expected = roc_auc_score(y, score, sample_weight=weight)
    assert metrics.auc(y, score, weight) == pytest.approx(expected, abs=1e-9)
    low, high, _ = metrics.bootstrap_auc(
        y, score, weight, resamples=50, confidence_level=0.68, seed=3
    )
    assert low < expected < high and high - low < 0.05
    # pT reweighting removes the pT information: weighted pT alone is near 0.5.
    assert abs(metrics.auc(y, pt, weight) - 0.5) < abs(metrics.auc(y, pt) - 0.5) + 0.005
    assert abs(metrics.auc(y, pt, weight) - 0.5) < 0.03


def test_published_file_round_trip_through_the_unpacker(tmp_path):
    """write_muon_dataset writes the layout io.unpack_key reads (docs/reference.md 2)."""
    settings = sim.MuonSimSettings()
    unscaled, path = tmp_path / "unscaled_data.h5", tmp_path / "data.h5"
    write_muon_dataset(1500, SEED, settings, unscaled, path, chunk_size=1000)
    sizes = sim.split_sizes(1500, settings.signal_fraction)
    keys = ["images", "iso", "pt", "y"]
    summary = io.published_summary(path, "muons", keys)
    for split in sim.SPLITS:
        assert summary.sizes[split] == (sizes["signal"][split], sizes["bg"][split])
    direct = sample(1500)
    for key in keys[:3]:
        out = tmp_path / f"{key}.feather"
        io.unpack_key(path, "muons", keys, "valid", key, out, seed=5)
        unpacked = io.read_array(out)
        expected = np.concatenate([direct["signal", "valid"][key], direct["bg", "valid"][key]])
        order = io.shuffle_permutation(len(expected), 5, "valid")
        np.testing.assert_array_equal(
            unpacked.reshape(len(expected), -1), expected[order].reshape(len(expected), -1)
        )
    with h5py.File(unscaled) as raw, h5py.File(path) as copy:
        assert sorted(raw) == sorted(copy) == sorted(sim.published_layout(settings))
        for group in raw:
            np.testing.assert_array_equal(raw[group]["test"][:], copy[group]["test"][:])


def test_the_schema_minimum_gives_both_classes_in_every_split():
    """n_events at the schema's minimum: both classes in every split (split 64/16/20 per
    class); a signal_fraction that leaves a split without a class stops before simulating,
    naming simulate.n_events."""
    from test_simulate_electrons import schema_minimum

    n_events = schema_minimum("muons")
    data = sample(n_events, weight_reference_events=10_000)  # a faster pT reweighting
    assert sorted(data) == sorted((label, split) for label in sim.CLASSES for split in sim.SPLITS)
    assert sum(len(arrays["pt"]) for arrays in data.values()) == n_events
    with pytest.raises(ValueError, match=r"simulate.n_events = 100 with signal_fraction 0.02: "
                       r"valid has no signal event \(each class"):  # fmt: skip
        next(sim.simulate_muons(100, SEED, sim.MuonSimSettings(signal_fraction=0.02)))
