"""Duplicate EFPs and single-EFP AUCs (hepml.efp.duplicates): identities on generated data."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from hepml import io
from hepml.efp.duplicates import (
    AUDIT_COLUMNS,
    find_duplicate_efps,
    relative_deviation,
    single_efp_aucs,
)
from hepml.efp.graphs import select_graphs
from hepml.efp.names import efp_name
from hepml.efp.settings import EFPSettings
from hepml.efp.table import compute_efp_table
from hepml.geometry import ECAL, HCAL
from sklearn.metrics import roc_auc_score
from test_efp import efp_block, simulated_like_images


def known_identities(settings: EFPSettings) -> set[tuple[str, str]]:
    """(dropped, kept) pairs that hold on any data, by construction (docs/reference.md):
    graph 1_0_0 does not depend on beta; a graph whose multiplicities are all multiples of m
    at beta equals the graph with multiplicities / m at m * beta (2_2_0 at 0.5 = 2_1_0 at 1,
    the path 3_4_1 at 0.5 = 3_2_0 at 1, ...). Kept: the first name in canonical order."""
    graphs = select_graphs(settings.graphs)
    by_structure = {(g.edges, g.weights): g for g in graphs}
    betas = sorted(settings.betas)
    pairs = set()
    for image in settings.images:
        for kappa in settings.kappas:
            for beta in betas[1:]:
                pairs.add(
                    (
                        efp_name(image, 1, 0, 0, kappa, beta),
                        efp_name(image, 1, 0, 0, kappa, betas[0]),
                    )
                )
            for graph in graphs[1:]:  # graphs[0] is 1_0_0
                for beta in betas:
                    # the same EFP as a graph with fewer edges at a larger beta?
                    candidates = []
                    for m in (2, 4, 8):
                        if all(w % m == 0 for w in graph.weights) and beta * m in betas:
                            small = by_structure.get(
                                (graph.edges, tuple(w // m for w in graph.weights))
                            )
                            if small is not None:
                                candidates.append((small.ndk, beta * m, small))
                    if candidates:
                        _, kept_beta, small = min(candidates)
                        pairs.add(
                            (
                                efp_name(image, *graph.ndk, kappa, beta),
                                efp_name(image, *small.ndk, kappa, kept_beta),
                            )
                        )
    return pairs


@pytest.fixture(scope="module")
def grid_table():
    rng = np.random.default_rng(21)
    images = {
        "et": simulated_like_images(300, ECAL, rng),
        "ht": simulated_like_images(300, HCAL, rng, core=(0, 3), noise=(0, 3), block=4),
    }
    settings = EFPSettings(
        ("et", "ht"), (("d<=4", "p==1"),), (-1.0, 0.0, 0.5, 1.0, 2.0), (0.5, 1.0, 2.0)
    )
    table = compute_efp_table(images, {"et": ECAL, "ht": HCAL}, settings)
    return settings, table


def test_known_identities_are_found(grid_table):
    settings, table = grid_table
    sample = table.iloc[np.random.default_rng(0).choice(len(table), 100, replace=False)]
    full = {name: table[name].to_numpy() for name in table.columns}
    audit = find_duplicate_efps(sample, full, tolerance=1e-9)
    duplicates = audit[audit["confirmed"]]
    found = set(zip(duplicates["dropped"], duplicates["kept"], strict=True))
    expected = known_identities(settings)
    assert len(expected) == 2 * 5 * (2 + 3 * 2)  # images x kappas x (1_0_0 + 3 graphs x 2)
    missing = expected - found
    assert not missing, sorted(missing)[:5]
    # nothing else is identical on this data: every extra pair would be a false identity
    extra = found - expected
    assert not extra, sorted(extra)[:5]
    assert (duplicates["max_deviation"] <= 1e-9).all()
    # dropped names come in canonical order and every kept name survives
    order = {name: i for i, name in enumerate(table.columns)}
    assert list(duplicates["dropped"]) == sorted(duplicates["dropped"], key=order.get)
    assert not set(duplicates["kept"]) & set(duplicates["dropped"])


def test_kappa_zero_identities(grid_table):
    """At kappa = 0 every particle weighs 1: 1_0_0 is the multiplicity at every beta."""
    _, table = grid_table
    for beta in ("0.5", "1", "2"):
        count = table[f"et_efp_1_0_0_k_0_b_{beta}"]
        np.testing.assert_array_equal(count, table["et_efp_1_0_0_k_0_b_0.5"])
    assert (table["et_efp_1_0_0_k_0_b_1"] >= 1).all()


def brute_force_duplicates(values: np.ndarray, tolerance: float) -> list[tuple[int, int]]:
    """(dropped, kept) by comparing every column with every earlier kept one, event by event:
    |a - b| <= tolerance * max(|a|, |b|), written out here without the library's helper."""
    kept, pairs = [], []
    for column in range(values.shape[1]):
        for earlier in kept:
            a, b = values[:, column], values[:, earlier]
            if (np.abs(a - b) <= tolerance * np.maximum(np.abs(a), np.abs(b))).all():
                pairs.append((column, earlier))
                break
        else:
            kept.append(column)
    return pairs


def test_window_search_equals_brute_force():
    """Random columns with planted copies (exact, rounding noise, 1e-3 noise, scaled, shifted,
    with zeros and negative values) and constants."""
    rng = np.random.default_rng(8)
    base = rng.lognormal(size=(400, 30))
    base[rng.random(base.shape) < 0.1] = 0.0  # EFPs of empty images are 0
    base[:, :5] *= -1.0
    columns = [base[:, i] for i in range(30)]
    for _ in range(30):
        source = columns[rng.integers(len(columns))]
        noise = rng.choice([0.0, 1e-12, 1e-3]) * rng.normal(size=400)
        scale, shift = [(1.0, 0.0), (1.0, 0.0), (3.0, 0.0), (1.0, 7.0)][rng.integers(4)]
        columns.insert(rng.integers(len(columns) + 1), scale * source * (1 + noise) + shift)
    columns.insert(5, np.full(400, 2.0))
    columns.insert(40, np.full(400, 2.0))
    columns.insert(41, np.full(400, -1.0))
    values = np.stack(columns, axis=1)
    names = [f"c{i}" for i in range(values.shape[1])]
    frame = pd.DataFrame(values, columns=names)
    duplicates = find_duplicate_efps(frame, {n: frame[n].to_numpy() for n in names}, 1e-9)
    found = [
        (names.index(d), names.index(k))
        for d, k in zip(duplicates.dropped, duplicates.kept, strict=True)
    ]
    assert found == brute_force_duplicates(values, 1e-9)
    assert (40, 5) in found and 41 not in dict(found)  # equal constants only
    assert len(found) >= 8


def kappa_minus_one_like(rng, n=2000):
    """A positive column whose scale is set by a few huge values, as at kappa = -1 (z = 1/ET:
    one soft cell gives 1e4 or more), over a bulk of values of order one."""
    values = rng.lognormal(size=n)
    values[rng.choice(n, 3, replace=False)] = 1e12
    return values


def test_differences_where_the_scale_is_small_are_not_duplicates():
    """Two columns equal where the values are huge and 10 % apart everywhere else differ on
    almost every event: not duplicates, although their min-max normalised values agree to
    1e-12 (the old comparison confirmed them). True copies, up to rounding, still are."""
    rng = np.random.default_rng(10)
    a = kappa_minus_one_like(rng)
    b = np.where(a < 1e6, 1.1 * a, a)
    copy = a * (1.0 + 1e-13 * rng.normal(size=a.size))  # another route to the same polynomial
    full = {"a": a, "b": b, "copy": copy}
    sample = pd.DataFrame(full).iloc[rng.choice(a.size, 500, replace=False)]
    audit = find_duplicate_efps(sample, full, tolerance=1e-9)
    assert list(audit.loc[audit["confirmed"], "dropped"]) == ["copy"]
    assert "b" not in set(audit["dropped"])
    # negative control: min-max normalised, a and b are "identical" far below the tolerance
    span = a.max() - a.min()
    assert np.abs((a - a.min()) / span - (b - b.min()) / (b.max() - b.min())).max() < 1e-9
    # on all events only: the sample holds no differing event, the confirmation refutes it
    rows = np.flatnonzero(a == 1e12)
    refuted = find_duplicate_efps(pd.DataFrame(full).iloc[rows][["a", "b"]], full, 1e-9)
    [row] = refuted.to_dict("records")
    assert (row["dropped"], row["kept"], row["max_deviation_sample"]) == ("b", "a", 0.0)
    assert row["max_deviation"] == pytest.approx(0.1 / 1.1) and not row["confirmed"]


def test_relative_deviation():
    np.testing.assert_allclose(
        relative_deviation([0.0, 1e-300, 2.0, -1.0, 1.0], [0.0, 2e-300, 1.0, 1.0, 0.0]),
        [0.0, 0.5, 0.5, 2.0, 1.0],
    )
    assert np.isnan(relative_deviation(np.nan, 1.0)) and np.isnan(relative_deviation(np.inf, 1.0))
    with pytest.raises(ValueError, match="NaN or infinity.*: b"):
        find_duplicate_efps(pd.DataFrame({"a": [1.0, 2.0], "b": [1.0, np.inf]}), {}, 1e-9)
    with pytest.raises(ValueError, match=r"\[0, 1\)"):
        find_duplicate_efps(pd.DataFrame({"a": [1.0, 2.0]}), {}, 1.0)


def test_sample_candidates_are_confirmed_on_all_events():
    """Equal on the sampled rows only: a candidate, not a duplicate."""
    rng = np.random.default_rng(9)
    a = rng.normal(size=1000)
    b = a.copy()
    b[500:] += rng.normal(size=500)
    full = {"a": a, "b": b}
    sample = pd.DataFrame({"a": a[:100], "b": b[:100]})
    refuted = find_duplicate_efps(sample, full, 1e-9)
    assert list(refuted.columns) == AUDIT_COLUMNS
    [row] = refuted.to_dict("records")
    assert (row["dropped"], row["kept"], row["max_deviation_sample"]) == ("b", "a", 0.0)
    assert row["max_deviation"] > 0.01 and not row["confirmed"]
    full["b"] = a.copy()
    duplicates = find_duplicate_efps(sample.assign(b=a[:100]), full, 1e-9)
    assert duplicates.to_dict("records") == [
        {
            "dropped": "b",
            "kept": "a",
            "max_deviation_sample": 0.0,
            "max_deviation": 0.0,
            "confirmed": True,
        }
    ]
    # a scaled copy is another polynomial's values, not an identity: no candidate at all
    full["b"] = 2.0 * a
    assert find_duplicate_efps(sample.assign(b=2.0 * a[:100]), full, 1e-9).empty


def test_single_efp_aucs_match_sklearn():
    rng = np.random.default_rng(3)
    y = rng.integers(0, 2, 500)
    weight = rng.uniform(0.5, 2.0, 500)
    table = pd.DataFrame(
        {
            "up": y + rng.normal(size=500),
            "down": -2 * y + rng.normal(size=500),
            "noise": rng.normal(size=500),
        }
    )
    result = single_efp_aucs(table, y, weight)
    assert list(result["efp"]) == ["down", "up", "noise"]
    row = result.set_index("efp")
    assert row.loc["up", "raw_auc"] == pytest.approx(
        roc_auc_score(y, table["up"], sample_weight=weight)
    )
    assert row.loc["down", "direction"] == "lower" and row.loc["up", "direction"] == "higher"
    assert row.loc["down", "auc"] == pytest.approx(
        1 - roc_auc_score(y, table["down"], sample_weight=weight)
    )
    unweighted = single_efp_aucs(table, y).set_index("efp")
    assert unweighted.loc["up", "raw_auc"] == pytest.approx(roc_auc_score(y, table["up"]))
    with pytest.raises(ValueError, match="both classes"):
        single_efp_aucs(table, np.ones(500))


def write_store(directory, table, storage, n_chunks=2):
    """A split's EFP table (chunks + index.json) holding a DataFrame, as compute/gather do."""
    from hepml.io import efp_store

    edges = np.linspace(0, len(table), n_chunks + 1).round().astype(int)
    chunks = []
    for chunk, (start, stop) in enumerate(zip(edges[:-1], edges[1:], strict=True)):
        chunks.append(directory / efp_store.chunk_dir_name(chunk))
        with efp_store.ChunkWriter(chunks[-1], list(table.columns), storage.block_columns) as w:
            for low in range(start, stop, storage.block_rows):
                w.write_rows(table.to_numpy()[low : min(low + storage.block_rows, stop)])
    efp_store.write_index(directory / "index.json", chunks, list(table.columns), len(table))
    return directory / "index.json"


def test_rules_from_files(tmp_path):
    """deduplicate_efps and single_efp_auc steps: files in, files out, read in blocks."""
    from hepml.io.efp_store import StorageSettings
    from hepml.steps import efp as steps

    rng = np.random.default_rng(12)
    storage = StorageSettings(block_rows=16, block_columns=3)
    settings = EFPSettings(
        ("et",), (("d<=2", "p==1"),), (1.0, 2.0), (0.5, 1.0), dedup_sample_size=40, storage=storage
    )
    images = {"et": simulated_like_images(120, ECAL, rng)}
    table = compute_efp_table(images, {"et": ECAL}, settings)
    train = write_store(tmp_path / "train", table, storage)
    test = write_store(tmp_path / "test", table, storage, n_chunks=3)
    duplicates = steps.deduplicate_efps(
        {"train_efps": train},
        {"duplicates": tmp_path / "duplicates.csv", "kept": tmp_path / "kept.txt"},
        {"settings": efp_block(settings), "seed": 5},
    )
    on_disk = pd.read_csv(tmp_path / "duplicates.csv")
    assert list(on_disk.columns) == AUDIT_COLUMNS
    assert len(on_disk) == len(duplicates) == 2 * 1 + 2 * 1  # 1_0_0 and 2_2_0 per kappa
    assert on_disk["confirmed"].all()
    kept = steps.read_kept(tmp_path / "kept.txt")
    assert kept == [name for name in table.columns if name not in set(on_disk["dropped"])]
    y = (
        images["et"].reshape(120, -1).max(axis=1)
        > np.median(images["et"].reshape(120, -1).max(axis=1))
    ).astype(np.int8)
    io.write_array(tmp_path / "y.feather", y)
    io.write_array(tmp_path / "weight.feather", np.ones(120))
    result = steps.single_efp_auc(
        {
            "test_efps": test,
            "kept": tmp_path / "kept.txt",
            "y": tmp_path / "y.feather",
            "weight": tmp_path / "weight.feather",
        },
        {"table": tmp_path / "single_auc.csv"},
        {"storage": {"block_rows": 120, "block_columns": 2}},  # groups of 2 columns x 120 events
        split="test",
    )
    on_disk = pd.read_csv(tmp_path / "single_auc.csv")
    assert set(on_disk["efp"]) == set(kept) and list(on_disk["auc"]) == list(result["auc"])
    assert on_disk["auc"].is_monotonic_decreasing and (on_disk["auc"] >= 0.5).all()
    whole = single_efp_aucs(table[kept], y, np.ones(120))
    pd.testing.assert_frame_equal(result, whole)  # streaming changes nothing, ties included
    drawn = steps.draw_efp_gallery(
        {"single_auc": tmp_path / "single_auc.csv"}, {"gallery": tmp_path / "gallery"}, {"size": 3}
    )
    assert drawn == [f"rank{i + 1:02d}_{name}.png" for i, name in enumerate(on_disk["efp"][:3])]
    assert all((tmp_path / "gallery" / name).exists() for name in drawn)


def test_non_finite_train_efps_are_named_with_the_file(tmp_path):
    """An infinite EFP on the train split stops deduplicate_efps with the index file and the
    column named, and no output is written."""
    from hepml.efp.table import efp_names
    from hepml.io.efp_store import StorageSettings
    from hepml.steps import efp as steps

    storage = StorageSettings(block_rows=8, block_columns=2)
    settings = EFPSettings(
        ("et",), (("d<=1", "p==1"),), (1.0,), (0.5, 1.0), dedup_sample_size=20, storage=storage
    )
    names = efp_names(settings)
    values = np.random.default_rng(1).lognormal(size=(20, len(names)))
    values[:, 1] = np.inf
    train = write_store(tmp_path / "train", pd.DataFrame(values, columns=names), storage)
    with pytest.raises(io.DataError, match=rf"{train}: .*NaN or infinity.*{names[1]}"):
        steps.deduplicate_efps(
            {"train_efps": train},
            {"duplicates": tmp_path / "dup.csv", "kept": tmp_path / "kept.txt"},
            {"settings": efp_block(settings), "seed": 5},
        )
    assert not (tmp_path / "dup.csv").exists() and not (tmp_path / "kept.txt").exists()
