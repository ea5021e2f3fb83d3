"""The built-in electron/jet simulator and the published-layout writer
(hepml.sources.simulate.electrons, hepml.steps.data, hepml.io.publish)."""

import hashlib

import h5py
import numpy as np
import pytest
from hepml import io
from hepml.io.publish import SPLITS, PublishedWriter, scale_published, split_sizes, write_published
from hepml.sources.simulate.electrons import (
    ElectronSimSettings,
    simulate_block,
    simulate_electrons,
)
from hepml.steps.data import write_electron_dataset

SETTINGS = ElectronSimSettings()


@pytest.fixture(scope="module")
def files(tmp_path_factory):
    """A 300-event dataset written once: (unscaled path, scaled path)."""
    folder = tmp_path_factory.mktemp("electrons")
    unscaled, scaled = folder / "unscaled_data.h5", folder / "data.h5"
    write_electron_dataset(300, 11, SETTINGS, unscaled, scaled, chunk_size=128)
    return unscaled, scaled


@pytest.fixture(scope="module")
def sample():
    """2000 events in memory (two blocks)."""
    return simulate_block(5, 0, 2000, SETTINGS)


def digest(path):
    return hashlib.sha256(path.read_bytes()).hexdigest()


# Settings -----------------------------------------------------------------------------------


def test_settings_from_config_ignore_n_events_and_name_unknown_keys():
    settings = ElectronSimSettings.from_config({"n_events": 100, "jet_kt_mean": 0.5})
    assert settings.jet_kt_mean == 0.5
    assert settings.fragmentation_index == SETTINGS.fragmentation_index
    with pytest.raises(ValueError, match=r"simulate: unknown key\(s\) \[.jet_kt_maen.\]"):
        ElectronSimSettings.from_config({"jet_kt_maen": 0.5})
    with pytest.raises(ValueError, match="simulate.pileup_ecal_density"):
        ElectronSimSettings.from_config({"pileup_ecal_density": -1.0})
    with pytest.raises(ValueError, match="simulate.signal_fraction"):
        ElectronSimSettings.from_config({"signal_fraction": 1.5})
    with pytest.raises(ValueError, match="expected a number"):
        ElectronSimSettings.from_config({"et_min": "15"})


# Layout and determinism ---------------------------------------------------------------------


def test_published_layout(files):
    """Both files have the layout the reader (hepml.io) expects, not just the writer's own
    table: every group the reader takes, with its accepted per-event shape, 64/16/20 split."""
    expected = {"train": 192, "valid": 48, "test": 60}
    reader = io.layout_for("electrons")
    read_keys = [key for key, spec in reader.keys.items() if spec.groups]
    for path in files:
        with h5py.File(path, "r") as h5:
            summary = io.check_published(h5, "electrons", read_keys)
            assert summary.sizes == {split: (n,) for split, n in expected.items()}
            for key in read_keys:
                (group,) = reader.keys[key].groups
                assert set(h5[group]) == set(SPLITS), (path, key)
                for split in SPLITS:
                    data = h5[group][split]
                    assert data.shape[0] == expected[split], (path, key, split)
                    assert data.shape[1:] in reader.keys[key].shapes, (path, key, split)
                    assert data.dtype.kind in "biuf"
    with h5py.File(files[0], "r") as h5:
        assert h5["et/train"].shape[1:] == (31, 31, 1)
        assert h5["ht/train"].shape[1:] == (32, 32, 1)
        assert h5["hl/test"].shape[1:] == (7,)
        assert h5["mass/valid"].shape[1:] == (1,)
        assert h5["y/train"].ndim == 1


def read_all(path):
    with h5py.File(path, "r") as h5:
        return {(key, split): h5[key][split][:] for key in h5 for split in h5[key]}


def test_same_seed_same_bytes(files, tmp_path):
    unscaled, scaled = tmp_path / "u.h5", tmp_path / "d.h5"
    write_electron_dataset(300, 11, SETTINGS, unscaled, scaled, chunk_size=128)
    assert digest(unscaled) == digest(files[0])
    assert digest(scaled) == digest(files[1])
    # Another chunk size writes the same events (the bytes may differ: HDF5 chunk order).
    write_electron_dataset(300, 11, SETTINGS, unscaled, scaled, chunk_size=1000)
    first, again = read_all(files[0]), read_all(unscaled)
    assert first.keys() == again.keys()
    for name in first:
        np.testing.assert_array_equal(first[name], again[name], err_msg=str(name))
    write_electron_dataset(300, 12, SETTINGS, unscaled, scaled)
    assert not np.array_equal(read_all(unscaled)[("et", "train")], first[("et", "train")])
    assert not list(tmp_path.glob(".*partial"))


def test_chunks_cover_n_events_in_order():
    chunks = list(simulate_electrons(1300, 4, SETTINGS, chunk_size=500))
    assert [len(chunk["y"]) for chunk in chunks] == [500, 500, 300]
    whole = simulate_block(4, 1, 300, SETTINGS)
    np.testing.assert_array_equal(chunks[-1]["et"][-300:], whole["et"])


# Physics sanity -----------------------------------------------------------------------------


def test_values_finite_and_non_negative(sample):
    for key in ("et", "ht", "ee", "he", "hl", "mass"):
        assert np.all(np.isfinite(sample[key])), key
        if key != "hl":
            assert np.all(sample[key] >= 0), key
    assert set(np.unique(sample["y"])) == {0, 1}
    assert sample["y"].mean() == pytest.approx(0.5)


def hl_from_the_definitions(et, ht, ee):
    """The 7 HL features written out from their definitions (docs/reference.md "The 7
    high-level features"), independently of hepml.hl: (N, 31, 31) ECal arrays indexed
    [phi row, eta column], ECal cells 0.025 x pi/126, centre pixel (15, 15)."""
    c, d_eta, d_phi = 15, 0.025, np.pi / 126

    def window(image, n_eta, n_phi):  # n_phi rows x n_eta columns around the centre
        return image[:, c - n_phi // 2 : c + n_phi // 2 + 1, c - n_eta // 2 : c + n_eta // 2 + 1]

    def ratio(a, b):
        return np.divide(a, b, out=np.zeros_like(a), where=b > 0)

    r_had = ratio(ht.sum(axis=(1, 2)), et.sum(axis=(1, 2)))
    block = window(ee, 3, 5)
    eta = d_eta * np.arange(-1, 2)[None, None, :]
    total = block.sum(axis=(1, 2))
    mean = ratio((block * eta).sum(axis=(1, 2)), total)
    w_eta2 = np.sqrt(ratio((block * (eta - mean[:, None, None]) ** 2).sum(axis=(1, 2)), total))
    energy = {size: window(ee, *size).sum(axis=(1, 2)) for size in ((3, 3), (3, 7), (7, 7))}
    block = window(ee, 5, 5)
    weight = np.abs(np.log(np.where(block > 0, block, 1.0)))  # |ln 1| = 0: empty cells skipped
    distance = np.arange(-2, 3)[None, None, :] ** 2  # in cells, along eta
    sigma = np.sqrt(ratio((weight * distance).sum(axis=(1, 2)), weight.sum(axis=(1, 2))))
    rows, cols = np.mgrid[0:31, 0:31]
    delta_r = np.hypot((cols - c) * d_eta, (rows - c) * d_phi)
    iso = [(ee * (delta_r < radius)).sum(axis=(1, 2)) for radius in (0.3, 0.4)]
    return np.stack(
        [r_had, w_eta2, ratio(energy[3, 3], energy[3, 7]), ratio(energy[3, 7], energy[7, 7]),
         sigma, *iso],
        axis=1,
    )  # fmt: skip


def test_hl_and_energy_images_follow_from_the_et_images(sample):
    """No private HL path: the stored hl is what the definitions give on the stored images."""
    images = [sample[key][..., 0].astype(np.float64) for key in ("et", "ht", "ee")]
    np.testing.assert_allclose(hl_from_the_definitions(*images), sample["hl"], rtol=1e-9, atol=1e-9)
    et, ee = sample["et"][..., 0].astype(np.float64), sample["ee"][..., 0].astype(np.float64)
    # ee / et = cosh(eta_centre + column eta): recover |eta_centre| from the central pixel.
    cosh_centre = ee[:, 15, 15] / et[:, 15, 15]
    eta = np.arccosh(np.maximum(cosh_centre, 1.0))
    assert np.all(np.abs(eta) < SETTINGS.eta_max + 1e-3)
    # Every pixel of a column has the same cosh(eta): ee / et is constant down a column.
    hit = et > 0
    ratio = np.where(hit, ee / np.where(hit, et, 1.0), 0.0)
    largest = ratio.max(axis=1)
    smallest = np.where(hit, ratio, np.inf).min(axis=1)
    columns = hit.any(axis=1)
    np.testing.assert_allclose(largest[columns] / smallest[columns], 1.0, rtol=1e-5)


def test_image_centred_on_the_hottest_cell_and_preselected(sample):
    et = sample["et"][..., 0]
    assert np.all(et[:, 15, 15] > 0)
    # The centre is the hottest cell within +-2 cells of the candidate's impact point, which
    # is itself within +-2 cells of the centre: nearly always the hottest of the 5 x 5 block.
    window = et[:, 13:18, 13:18].reshape(len(et), -1)
    assert np.mean(window.argmax(axis=1) == 12) > 0.99
    assert np.all(et[:, 14:17, 14:17].sum(axis=(1, 2)) > SETTINGS.cluster_et_min)


def test_electrons_are_narrower_and_less_hadronic_than_jets(sample):
    y, hl = sample["y"], sample["hl"]
    electrons, jets = hl[y == 1].mean(axis=0), hl[y == 0].mean(axis=0)
    assert electrons[0] < 0.5 * jets[0]  # R_had
    assert electrons[3] > jets[3] + 0.02  # R_eta
    assert electrons[2] > jets[2]  # R_phi
    assert electrons[1] < jets[1]  # w_eta2
    assert sample["mass"][y == 1].mean() < sample["mass"][y == 0].mean()
    # Energy concentration (the information the HL features miss): sum of z^2 over ECal cells.
    et = sample["et"][..., 0].astype(np.float64)
    z = et / et.sum(axis=(1, 2), keepdims=True)
    concentration = (z**2).sum(axis=(1, 2))
    assert concentration[y == 1].mean() > concentration[y == 0].mean() + 0.05


def test_images_are_sparse(sample):
    """Tens of non-zero ECal cells and a handful of HCal cells (x 16 pixels) per event."""
    n_ecal = (sample["et"] > 0).sum(axis=(1, 2, 3))
    n_hcal_cells = (sample["ht"] > 0).sum(axis=(1, 2, 3)) / 16
    assert 8 < n_ecal.mean() < 60
    assert 0.5 < n_hcal_cells.mean() < 12
    assert np.all(n_hcal_cells == np.round(n_hcal_cells))  # whole 4 x 4 HCal cells
    assert (sample["ht"][:, ::4, ::4] > 0).sum() * 16 == (sample["ht"] > 0).sum()


def test_both_classes_in_every_split(files):
    with h5py.File(files[0], "r") as h5:
        for split in SPLITS:
            assert set(np.unique(h5["y"][split][:])) == {0, 1}, split


def test_scaled_file_is_the_documented_transform(files):
    unscaled, scaled = files
    with h5py.File(unscaled, "r") as raw, h5py.File(scaled, "r") as out:
        for key in ("et", "ht", "ee", "he"):
            assert out[key].attrs["transform"] == "divide"
            assert out[key].attrs["divisor"] == SETTINGS.image_scale
            for split in SPLITS:
                expected = (raw[key][split][:] / SETTINGS.image_scale).astype(np.float32)
                np.testing.assert_allclose(out[key][split][:], expected, rtol=1e-6)
        for key in ("hl", "mass"):
            train = raw[key]["train"][:]
            mean, std = train.mean(axis=0), train.std(axis=0)
            assert out[key].attrs["transform"] == "standardise"
            np.testing.assert_allclose(out[key].attrs["mean"], mean, rtol=1e-10)
            for split in SPLITS:
                expected = (raw[key][split][:] - mean) / np.where(std > 0, std, 1.0)
                np.testing.assert_allclose(out[key][split][:], expected, rtol=1e-9, atol=1e-12)
            np.testing.assert_allclose(out[key]["train"][:].mean(axis=0), 0.0, atol=1e-9)
        for split in SPLITS:
            np.testing.assert_array_equal(out["y"][split][:], raw["y"][split][:])


# The writer ---------------------------------------------------------------------------------


LAYOUT = {"x": ((2,), "float64"), "y": ((), "int8")}


def chunks_of(n, size):
    for start in range(0, n, size):
        index = np.arange(start, min(start + size, n))
        yield {"x": np.stack([index, -index], axis=1), "y": (index % 2).astype(np.int8)}


def test_writer_assigns_splits_by_event_index(tmp_path):
    path = tmp_path / "out.h5"
    write_published(chunks_of(103, 10), path, LAYOUT, 103)
    sizes = split_sizes(103)
    with h5py.File(path, "r") as h5:
        start = 0
        for split in SPLITS:
            np.testing.assert_array_equal(
                h5["x"][split][:, 0], np.arange(start, start + sizes[split])
            )
            start += sizes[split]


def test_writer_leaves_no_partial_output(tmp_path):
    path = tmp_path / "out.h5"
    with pytest.raises(ValueError, match="incomplete"):
        write_published(chunks_of(50, 10), path, LAYOUT, 60)
    with pytest.raises(RuntimeError, match="boom"), PublishedWriter(path, LAYOUT, 20) as writer:
        writer.append(next(chunks_of(20, 10)))
        raise RuntimeError("boom")
    with pytest.raises(ValueError, match="key 'x': expected per-event shape"):
        write_published([{"x": np.zeros((5, 3))}], path, LAYOUT, 5)
    with pytest.raises(ValueError, match="more than the declared"):
        write_published(chunks_of(30, 10), path, LAYOUT, 20)
    assert list(tmp_path.iterdir()) == []


def test_scale_published_errors_leave_no_output(tmp_path):
    source = tmp_path / "raw.h5"
    write_published(chunks_of(40, 40), source, LAYOUT, 40)
    with pytest.raises(ValueError, match=r"keys to scale \['z'\]"):
        scale_published(source, tmp_path / "scaled.h5", divide={"z": 2.0}, standardise=[])
    assert sorted(p.name for p in tmp_path.iterdir()) == ["raw.h5"]


def test_rule_adapter_writes_both_files(tmp_path, monkeypatch):
    """scripts/simulate_dataset.py with the objects Snakemake injects."""
    import runpy
    from pathlib import Path
    from types import SimpleNamespace

    from hepml import logs

    class Named(dict):
        """Snakemake's named lists: attribute access and items()."""

        __getattr__ = dict.__getitem__

    # log_to redirects the process's stdout and stderr (tests/test_logs.py): not pytest's own.
    logged = []
    monkeypatch.setattr(logs, "log_to", logged.append)
    script = Path(__file__).resolve().parents[1] / "scripts" / "simulate_dataset.py"
    output = Named(data=tmp_path / "data.h5", unscaled=tmp_path / "unscaled_data.h5")
    fake = SimpleNamespace(
        log=[str(tmp_path / "simulate.log")],
        wildcards=SimpleNamespace(dataset="my_electrons"),  # the name is the user's
        params=Named(kind="electrons", n_events=120, seed=3, settings={"n_events": 120}),
        output=output,
    )
    runpy.run_path(str(script), init_globals={"snakemake": fake})
    assert logged == fake.log
    with h5py.File(output.data, "r") as h5:
        assert h5["et/test"].shape == (24, 31, 31, 1)
    assert output.unscaled.exists()
    fake.params["kind"] = "taus"
    with pytest.raises(ValueError, match="no built-in simulator for kind 'taus'"):
        runpy.run_path(str(script), init_globals={"snakemake": fake})


# Smallest samples ---------------------------------------------------------------------------


def schema_minimum(kind: str) -> int:
    """simulate.n_events's minimum in config/schema.yaml ($defs simulate_<kind>, and the same
    at the dataset level)."""
    from pathlib import Path

    import yaml

    schema = yaml.safe_load(
        (Path(__file__).resolve().parents[1] / "config/schema.yaml").read_text()
    )
    dataset_level = schema["$defs"]["dataset"]["properties"]["simulate"]["properties"]
    minimum = schema["$defs"][f"simulate_{kind}"]["properties"]["n_events"]["minimum"]
    assert dataset_level["n_events"]["minimum"] == minimum
    return minimum


def test_the_schema_minimum_gives_both_classes_in_every_split(tmp_path):
    """n_events at the schema's minimum gives a file whose splits all hold both classes, for
    each of 20 seeds (the checked stream passes, and the written file says so)."""
    from hepml.sources.simulate.electrons import require_both_classes

    n_events = schema_minimum("electrons")
    for seed in range(20):
        chunks = simulate_electrons(n_events, seed, SETTINGS, chunk_size=64)
        y = np.concatenate(
            [c["y"] for c in require_both_classes(chunks, split_sizes(n_events), 0.5)]
        )
        assert len(y) == n_events
    write_electron_dataset(n_events, 3, SETTINGS, tmp_path / "u.h5", tmp_path / "d.h5")
    with h5py.File(tmp_path / "u.h5", "r") as h5:
        assert all(set(np.unique(h5["y"][split][:])) == {0, 1} for split in SPLITS)


def test_a_split_of_one_class_is_named_and_leaves_no_file(tmp_path):
    """10 events (the old minimum): seed 0 leaves valid with electrons only and test with jets
    only; the simulation stops naming simulate.n_events and the splits, no file written."""
    with pytest.raises(ValueError) as raised:
        write_electron_dataset(10, 0, SETTINGS, tmp_path / "u.h5", tmp_path / "d.h5")
    message = str(raised.value)
    assert message.startswith("simulate.n_events = 10 with signal_fraction 0.5: valid holds 2")
    assert "test holds 0 electrons and 2 jets" in message and "train" not in message.split("(")[0]
    assert list(tmp_path.iterdir()) == []
    only_electrons = ElectronSimSettings(signal_fraction=1.0)
    with pytest.raises(ValueError, match="train holds 64 electrons and 0 jets; valid"):
        write_electron_dataset(100, 0, only_electrons, tmp_path / "u.h5", tmp_path / "d.h5")
    assert list(tmp_path.iterdir()) == []
