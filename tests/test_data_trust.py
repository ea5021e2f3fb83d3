"""Corrupt or unphysical published data never passes silently (hepml.io.unpack_key,
docs/reference.md "Physical bounds"): bytes overwritten on disk, values no collision gives,
Fletcher32 checksums, integer images, empty splits, the per-key summary of the unpack log."""

from __future__ import annotations

import logging
import math

import h5py
import numpy as np
import pandas as pd
import pytest
from hepml import io, plan
from hepml.io import jets as benchmark
from hepml.io import layouts
from hepml.io.publish import PublishedWriter
from hepml.steps.jets import KEYS as JET_KEYS
from hepml.steps.jets import unpack_jets
from test_io import MUON_KEYS, SPLITS, assert_no_output, muon_file
from test_jets_benchmark import random_jets

PHYSICAL_KEYS = ["et", "ht", "ee", "he", "hl", "mass", "y"]
SIZES = {"train": 12, "valid": 5, "test": 6}
BEAM = 6500.0  # sqrt(s)/2 of the default 13 TeV


def physical_arrays(n: int, seed: int) -> dict[str, np.ndarray]:
    """One split of an unscaled electron file whose every value is inside its bounds."""
    rng = np.random.default_rng(seed)
    images = {
        key: rng.exponential(0.5, size=(n, *shape, 1)).astype(np.float32)
        for key, shape in (("et", (31, 31)), ("ee", (31, 31)), ("ht", (32, 32)), ("he", (32, 32)))
    }
    hl = np.column_stack(
        [
            rng.exponential(0.5, n),  # R_had
            rng.uniform(0.0, 0.025, n),  # w_eta2
            rng.uniform(0.2, 1.1, n),  # R_phi (the published data reach 1.1)
            rng.uniform(0.2, 1.1, n),  # R_eta
            rng.uniform(0.0, 1.5, n),  # sigma_eta_eta
            rng.exponential(30.0, n),  # iso_03
            rng.exponential(40.0, n),  # iso_04
        ]
    )
    y = (np.arange(n) % 2).astype(np.float64)
    return {**images, "hl": hl, "mass": rng.exponential(5.0, size=(n, 1)), "y": y}


def physical_file(tmp_path, change=None, sizes=SIZES, name="unscaled_data.h5", **create):
    """An unscaled electron file; ``change(split, arrays)`` may edit a split; ``create``:
    h5py dataset options for every dataset (chunks, compression)."""
    arrays = {split: physical_arrays(n, seed) for seed, (split, n) in enumerate(sizes.items())}
    if change is not None:
        for split in arrays:
            change(split, arrays[split])
    path = tmp_path / name
    with h5py.File(path, "w") as h5:
        for split, split_arrays in arrays.items():
            for key, array in split_arrays.items():
                options = dict(create)
                if "chunks" in options and len(array):
                    options["chunks"] = (min(options["chunks"], len(array)), *array.shape[1:])
                elif "chunks" in options:
                    options = {}
                h5.create_dataset(f"{key}/{split}", data=array, **options)
    return path, arrays


def unpack_error(path, key, split="train", kind="electrons", keys=PHYSICAL_KEYS, **options):
    """The DataError message of unpacking one key; asserts that no output is left."""
    out_dir = path.parent / "out"
    with pytest.raises(io.DataError) as error:
        io.unpack_key(path, kind, keys, split, key, out_dir / f"{key}.feather", 0, **options)
    assert_no_output(out_dir)
    message = str(error.value)
    assert str(path) in message and f"key '{key}', split '{split}'" in message
    return message


# ---------------------------------------------------------------------------------------------
# Bytes overwritten on disk (the two runs that finished with nothing in the log)
# ---------------------------------------------------------------------------------------------


def sparse_images(split, arrays):
    """ECal images as the calorimeter gives them: about 10 % of the cells hit."""
    rng = np.random.default_rng(len(arrays["et"]))
    hit = rng.random(arrays["et"].shape) < 0.1
    arrays["et"] = np.where(hit, rng.exponential(2.0, hit.shape), 0.0).astype(np.float32)


def decodes_silently_wrong(path, chunk) -> np.ndarray | None:
    """Overwrite 3 bytes of a compressed chunk with 0xFF, position by position, until h5py
    decodes et/train without an error into finite, non-negative values above the beam
    energy (what unpacked silently before the bounds); those values, or None."""
    with open(path, "r+b") as handle:
        for offset in range(chunk.byte_offset, chunk.byte_offset + chunk.size - 3):
            handle.seek(offset)
            intact = handle.read(3)
            handle.seek(offset)
            handle.write(b"\xff\xff\xff")
            handle.flush()
            try:
                with h5py.File(path, "r") as h5:
                    read = h5["et/train"][:]
                if np.isfinite(read).all() and read.min() >= 0 and read.max() > BEAM:
                    return read
            except OSError:  # this position breaks the decompression: a named error already
                pass
            handle.seek(offset)
            handle.write(intact)
    return None


def test_lzf_chunk_overwritten_with_ff_bytes_is_refused_naming_event_value_and_bound(tmp_path):
    path, _ = physical_file(tmp_path, change=sparse_images, chunks=4, compression="lzf")
    with h5py.File(path, "r") as h5:
        chunk = h5["et/train"].id.get_chunk_info(1)  # rows 4..7
    read = decodes_silently_wrong(path, chunk)
    assert read is not None, "no 0xFF overwrite of the chunk decodes to silent wrong values"
    event = int(np.argmax(read.reshape(len(read), -1).max(axis=1) > BEAM))
    assert 4 <= event <= 7
    message = unpack_error(path, "et", keys=["et", "y"])
    value = float(read[event][read[event] > BEAM][0])
    assert f"pixel {float(f'{value:.7g}')} above the bound 6500 (sqrt(s)/2)" in message
    assert f"at event {event} ('et/train' row {event})" in message


def test_uncompressed_chunk_overwritten_with_a_bytes_is_refused_by_the_image_sum(tmp_path):
    path, _ = physical_file(tmp_path, chunks=4)
    with h5py.File(path, "r") as h5:
        chunk = h5["ht/valid"].id.get_chunk_info(1)  # rows 4..4 of 5 (a partial last chunk)
    with open(path, "r+b") as handle:
        handle.seek(chunk.byte_offset)
        handle.write(b"A" * chunk.size)
    with h5py.File(path, "r") as h5:
        read = h5["ht/valid"][4]
    # 0x41414141 is 12.08 GeV in every pixel: finite, non-negative, far below the beam energy
    np.testing.assert_allclose(read, 12.078431, rtol=1e-6)
    message = unpack_error(path, "ht", split="valid")
    limit = 13000.0 / (1 + math.cos(layouts._WINDOW_HALF_DIAGONAL))
    assert f"image sum {float(f'{12.078431 * 1024:.7g}')}" in message
    assert f"above the bound {limit:.7g} (one candidate's energy)" in message
    assert "at event 4 ('ht/valid' row 4)" in message


def test_the_candidate_bound_follows_from_the_window_and_sqrt_s():
    # E <= sqrt(s) / (1 + cos alpha), alpha the widest window's half-diagonal (HCal, 0.57)
    half_diagonal = math.hypot(32 * 0.025, 32 * math.pi / 124) / 2
    assert layouts._WINDOW_HALF_DIAGONAL == pytest.approx(half_diagonal)
    limits = io.physical_limits(13000.0)
    assert limits[io.BEAM] == 6500.0
    assert 1.08 * 6500 < limits[io.CANDIDATE] < 1.09 * 6500
    assert io.physical_limits(13000.0, half_angle=0.0)[io.CANDIDATE] == 6500.0
    with pytest.raises(io.DataError, match="sqrt\\(s\\) must be a positive"):
        io.physical_limits(0.0)


# ---------------------------------------------------------------------------------------------
# Fletcher32 checksums (files written by hepml.io.publish carry them)
# ---------------------------------------------------------------------------------------------


def published_by_the_workflow(path, n=10):
    layout = {"et": ((31, 31, 1), "float32"), "y": ((), "int8")}
    arrays = physical_arrays(n, 3)
    with PublishedWriter(path, layout, n) as writer:
        writer.append({"et": arrays["et"], "y": arrays["y"]})


def test_the_workflow_writes_fletcher32_checksums_that_hdf5_and_io_agree_on(tmp_path):
    path = tmp_path / "unscaled_data.h5"
    published_by_the_workflow(path, n=700)
    with h5py.File(path, "r") as h5:
        dataset = h5["et/train"]
        assert dataset.fletcher32 and dataset.compression == "lzf"
        assert dataset.id.get_num_chunks() == 2
        assert io.checksum_mismatch(dataset) is None  # our checksum = HDF5's, on every chunk
        _, raw = dataset.id.read_direct_chunk(dataset.id.get_chunk_info(0).chunk_offset)
    assert io.fletcher32(raw[:-4]) == int.from_bytes(raw[-4:], "little")
    assert io.fletcher32(raw[:-5]) != io.fletcher32(raw[:-4])  # odd lengths too
    # words 0x0102 and 0x0300 (the odd byte): sum1 = 0x0402, sum2 = 0x0102 + 0x0402
    assert io.fletcher32(b"\x01\x02\x03") == (0x0504 << 16) | 0x0402


def test_a_chunk_that_fails_its_checksum_is_named(tmp_path):
    path = tmp_path / "unscaled_data.h5"
    published_by_the_workflow(path)
    with h5py.File(path, "r") as h5:
        chunk = h5["et/train"].id.get_chunk_info(0)
    with open(path, "r+b") as handle:  # one byte of the compressed pixels
        handle.seek(chunk.byte_offset + chunk.size // 2)
        byte = handle.read(1)
        handle.seek(chunk.byte_offset + chunk.size // 2)
        handle.write(bytes([byte[0] ^ 0x01]))
    message = unpack_error(path, "et", keys=["et", "y"])
    assert "Fletcher32 checksum mismatch in 'et/train' rows 0..5" in message
    assert f"chunk at byte {chunk.byte_offset}" in message


# ---------------------------------------------------------------------------------------------
# The bound table, key by key
# ---------------------------------------------------------------------------------------------


def set_value(key, index, value, split="valid"):
    def change(name, arrays):
        if name == split:
            arrays[key][index] = value

    return change


@pytest.mark.parametrize(
    "key,index,value,expected",
    [
        ("et", (3, 10, 12, 0), 7000.0, "pixel 7000.0 above the bound 6500 (sqrt(s)/2)"),
        ("he", (3, 0, 0, 0), -0.5, "negative value (-0.5); pixel must be >= 0"),
        ("hl", (3, 0), -0.1, "negative value (-0.1); R_had must be >= 0"),
        ("hl", (3, 1), 0.04, "w_eta2 0.04 above the bound 0.0375"),
        ("hl", (3, 4), 2.5, "sigma_eta_eta 2.5 above the bound 2"),
        ("hl", (3, 6), 9000.0, "iso_04 9000.0 above the bound 7056.878"),
        ("mass", (3, 0), 8000.0, "mass 8000.0 above the bound 7056.878"),
    ],
)
def test_a_value_outside_its_bound_names_event_value_and_bound(
    tmp_path, key, index, value, expected
):
    path, _ = physical_file(tmp_path, change=set_value(key, index, value))
    message = unpack_error(path, key, split="valid")
    assert expected in message and f"at event 3 ('{key}/valid' row 3)" in message


def test_values_inside_their_bounds_unpack_unchanged(tmp_path):
    edges = {"et": ((3, 15, 15, 0), 6499.0), "hl": ((3, 1), 0.0375)}

    def change(split, arrays):
        for key, (index, value) in edges.items():
            arrays[key][index] = value

    path, arrays = physical_file(tmp_path, change=change)
    for key in ("et", "hl"):
        out = tmp_path / f"{key}.feather"
        io.unpack_key(path, "electrons", PHYSICAL_KEYS, "valid", key, out, 0)
        assert io.read_array(out).tobytes() == arrays["valid"][key].tobytes()


def test_the_beam_energy_comes_from_the_caller(tmp_path):
    path, _ = physical_file(tmp_path, change=set_value("et", (3, 1, 1, 0), 6800.0))
    message = unpack_error(path, "et", split="valid", ecm_gev=13000.0)
    assert "pixel 6800.0 above the bound 6500" in message
    out = tmp_path / "ok" / "et.feather"
    io.unpack_key(path, "electrons", PHYSICAL_KEYS, "valid", "et", out, 0, ecm_gev=14000.0)
    assert io.read_array(out).max() == 6800.0
    message = unpack_error(path, "et", split="valid", ecm_gev=8000.0)
    assert "pixel 6800.0 above the bound 4000" in message


def test_collision_energy_of_a_dataset_config():
    block = {"kind": "electrons", "source": "generate", "generate": {"ecm_gev": 8000.0}}
    assert plan.collision_energy(block) == 8000.0
    assert plan.collision_energy({**block, "source": "simulate"}) == 13000.0
    assert plan.collision_energy({"kind": "muons", "source": "path"}) == 13000.0
    assert plan.collision_energy({"kind": "jets", "source": "download"}) == 14000.0


@pytest.mark.parametrize(
    "group,key,index,value,expected",
    [
        ("pt_bg", "pt", 1, 7000.0, "muon pT 7000.0 above the bound 6500"),
        ("pt_signal", "pt", 1, 0.0, "muon pT 0.0; must be > 0"),
        ("weights_bg", "weight", 1, -0.5, "negative value (-0.5); weight must be >= 0"),
        ("iso_signal", "iso", (1, 2), -2.0, "negative value (-2.0); isolation must be >= 0"),
        ("images_bg", "images", (1, 3, 3), 7000.0, "pixel 7000.0 above the bound 6500"),
    ],
)
def test_muon_bounds_name_the_published_group_and_row(tmp_path, group, key, index, value, expected):
    path = muon_file(tmp_path, change=set_value(group, index, value, split="test"))
    message = unpack_error(path, key, split="test", kind="muons", keys=MUON_KEYS)
    assert expected in message and f"('{group}/test' row 1)" in message


def test_scaled_groups_are_checked_in_raw_units(tmp_path):
    """data.h5 as hepml.io.publish writes it: images divided, hl standardised (attributes)."""
    path, arrays = physical_file(tmp_path, name="data.h5")
    mean, std = arrays["train"]["hl"].mean(axis=0), arrays["train"]["hl"].std(axis=0)
    with h5py.File(path, "a") as h5:
        h5["et"].attrs.update(transform="divide", divisor=100.0)
        h5["hl"].attrs.update(transform="standardise", mean=mean, std=std)
        for split in SPLITS:
            h5[f"et/{split}"][...] = arrays[split]["et"] / 100.0
            h5[f"hl/{split}"][...] = (arrays[split]["hl"] - mean) / std
        assert (h5["hl/valid"][:] < 0).any()  # standardised: negative values are fine
        out = tmp_path / "hl.feather"
        io.unpack_key(path, "electrons", PHYSICAL_KEYS, "valid", "hl", out, 0)
        h5["et/valid"][2, 5, 5, 0] = 70.0  # 7000 GeV
        h5["hl/valid"][2, 1] = (0.04 - mean[1]) / std[1]  # w_eta2 = 0.04
    assert "pixel 7000.0 above the bound 6500" in unpack_error(path, "et", split="valid")
    assert "w_eta2 0.04 above the bound 0.0375" in unpack_error(path, "hl", split="valid")


def test_a_file_of_unknown_scale_gets_the_scale_free_checks_and_says_so(tmp_path, caplog):
    """The authors' electron data.h5 records no transform: hl is standardised, images scaled."""
    path, arrays = physical_file(tmp_path, name="data.h5", change=set_value("hl", (1, 0), -3.0))
    with caplog.at_level(logging.WARNING, logger="hepml.io"):
        io.unpack_key(path, "electrons", PHYSICAL_KEYS, "valid", "hl", tmp_path / "hl.feather", 0)
    assert "scale is not recorded" in caplog.text and "key 'hl', split 'valid'" in caplog.text
    renamed = path.rename(tmp_path / "unscaled_data.h5")  # the same values, known to be raw
    assert "R_had must be >= 0" in unpack_error(renamed, "hl", split="valid")


# ---------------------------------------------------------------------------------------------
# Integer images, empty splits, the per-key summary
# ---------------------------------------------------------------------------------------------


def test_integer_images_are_cast_to_float32_and_logged(tmp_path, caplog):
    def to_int(split, arrays):
        arrays["et"] = np.round(arrays["et"] * 10).astype(np.int16)

    path, arrays = physical_file(tmp_path, change=to_int)
    out = tmp_path / "et.feather"
    with caplog.at_level(logging.WARNING, logger="hepml.io"):
        io.unpack_key(path, "electrons", PHYSICAL_KEYS, "train", "et", out, 0)
        io.unpack_key(path, "electrons", PHYSICAL_KEYS, "train", "y", tmp_path / "y.feather", 0)
    unpacked = io.read_array(out)
    assert unpacked.dtype == np.float32
    np.testing.assert_array_equal(unpacked, arrays["train"]["et"].astype(np.float32))
    assert "key 'et', split 'train': the file stores int16 values; cast to float32" in caplog.text
    assert "key 'y'" not in caplog.text  # labels are written as int8, not cast to float
    assert io.read_array(tmp_path / "y.feather").dtype == np.int8


@pytest.mark.parametrize("key", ["et", "y", "weight"])
def test_an_empty_split_is_named_and_leaves_no_output(tmp_path, key):
    path, _ = physical_file(tmp_path, sizes={"train": 8, "valid": 4, "test": 0})
    message = unpack_error(path, key, split="test")
    assert "empty split" in message and "holds 0 events" in message
    assert "one class" not in message


def test_an_empty_muon_split_is_named(tmp_path):
    path = muon_file(tmp_path, sizes={"train": (9, 6), "valid": (0, 0), "test": (5, 2)})
    message = unpack_error(path, "y", split="valid", kind="muons", keys=MUON_KEYS)
    assert "empty split" in message
    message = unpack_error(path, "images", split="valid", kind="muons", keys=MUON_KEYS)
    assert "'images_signal/valid', 'images_bg/valid' holds 0 events" in message


def test_the_unpack_log_summarises_each_key(tmp_path, caplog):
    def blank(split, arrays):
        if split == "train":
            arrays["ht"][[1, 4, 7]] = 0.0

    path, arrays = physical_file(tmp_path, change=blank)
    with caplog.at_level(logging.INFO, logger="hepml.io"):
        result = io.unpack_key(
            path, "electrons", PHYSICAL_KEYS, "train", "ht", tmp_path / "ht.feather", 0
        )
    ht = arrays["train"]["ht"]
    assert result["values"] == {
        "min": 0.0,
        "max": float(ht.max()),
        "mean": pytest.approx(float(ht.astype(np.float64).mean()), rel=1e-12),
        "empty_share": 3 / 12,
    }
    assert "'empty_share': 0.25" in caplog.text
    result = io.unpack_key(path, "electrons", PHYSICAL_KEYS, "train", "hl", tmp_path / "h", 0)
    assert "empty_share" not in result["values"]
    assert result["values"]["max"] == float(arrays["train"]["hl"].max())


# ---------------------------------------------------------------------------------------------
# Jets (the benchmark layout): constituent energies
# ---------------------------------------------------------------------------------------------


def test_a_jet_energy_above_the_beam_energy_is_named(tmp_path):
    rng = np.random.default_rng(12)
    path = tmp_path / "test.h5"
    benchmark.write_benchmark(path, random_jets(rng, 8), rng.integers(0, 2, size=8))
    frame = pd.read_hdf(path, "table")
    frame.loc[6, "E_0"] = 7500.0
    frame.to_hdf(path, key="table", mode="w", format="table")
    outputs = {key: str(tmp_path / "test" / f"{key}.feather") for key in JET_KEYS}
    with pytest.raises(io.DataError) as error:
        unpack_jets({"h5": str(path)}, outputs, {"settings": {"block_rows": 5, "ecm_gev": 14000.0}})
    message = str(error.value)
    assert str(path) in message and "key 'table', row 6" in message
    assert "constituent energy 7500 GeV above the bound 7000 GeV" in message
    assert_no_output(tmp_path / "test")


def test_the_unpack_step_writes_every_key_of_a_split_or_none(tmp_path):
    """steps.data.unpack_h5 (one job per split, rules/data.smk): every key of the split, each
    as unpack_key writes it alone; a bad value in a later key (mass, after et ... hl) removes
    the files of the keys written before it, so the job leaves no partial output."""
    from hepml.steps.data import unpack_h5

    keys = plan.unpacked_keys({"keys": PHYSICAL_KEYS})
    params = {"settings": {"kind": "electrons", "keys": PHYSICAL_KEYS, "seed": 0}}
    path, _ = physical_file(tmp_path)
    out = tmp_path / "split"
    outputs = {key: out / f"{key}.feather" for key in keys}
    summaries = unpack_h5({"h5": path}, outputs, params, "valid")
    assert list(summaries) == keys
    for key in keys:
        alone = tmp_path / f"{key}.feather"
        io.unpack_key(path, "electrons", PHYSICAL_KEYS, "valid", key, alone, 0)
        np.testing.assert_array_equal(io.read_array(outputs[key]), io.read_array(alone))

    bad, _ = physical_file(tmp_path, change=set_value("mass", (3, 0), 8000.0), name="bad.h5")
    assert keys.index("mass") > keys.index("hl")  # keys were written before the bad one
    failed = tmp_path / "failed"
    outputs = {key: failed / f"{key}.feather" for key in keys}
    with pytest.raises(io.DataError, match="mass 8000.0 above the bound"):
        unpack_h5({"h5": bad}, outputs, params, "valid")
    assert_no_output(failed)
