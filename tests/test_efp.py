"""EFP engine and names (hepml.efp): graphs, values against brute force and energyflow.

The images come from `simulated_like_images`, a small seeded generator of sparse calorimeter
images (an electron-like core plus scattered noise; HCal-like images are made of 4 x 4 pixel
blocks as in the upsampled published HCal). test_efp_dedup.py and benchmarks/bench_efp.py use
it too.
"""

from __future__ import annotations

import itertools

import numpy as np
import pandas as pd
import pytest
from hepml import io
from hepml.efp.engine import EFPEngine
from hepml.efp.graphs import EFPGraph, graph_from_ndk, select_graphs
from hepml.efp.names import efp_name, parse_efp_name
from hepml.efp.settings import EFPSettings
from hepml.efp.table import chunk_bounds, compute_efp_table, efp_names
from hepml.geometry import ECAL, HCAL, ImageGeometry, geometry_for

KAPPAS = (-1.0, 0.0, 0.5, 1.0, 2.0)
BETAS = (0.5, 1.0, 2.0)
RTOL = 1e-9


def simulated_like_images(
    n_events: int,
    geometry: ImageGeometry,
    rng: np.random.Generator,
    core: tuple[int, int] = (3, 12),
    noise: tuple[int, int] = (5, 40),
    block: int = 1,
) -> np.ndarray:
    """(n_events, n_phi, n_eta, 1) float32 ET images in GeV, sparse like the simulator's.

    core: range of deposits around the centre (a Gaussian spot of ~1 pixel, exponential ET of
    mean 10 GeV); noise: range of soft deposits anywhere (exponential ET, mean 0.3 GeV).
    block: side of the square of equal pixels a deposit fills (4 for HCal-like images, whose
    0.1 x pi/31 cells are split into 4 x 4 pixels of 1/16 of the cell each).
    """
    n_rows, n_cols = geometry.n_phi // block, geometry.n_eta // block
    images = np.zeros((n_events, n_rows, n_cols))
    for image in images:
        n_core = rng.integers(*core)
        rows = np.clip(n_rows // 2 + np.round(rng.normal(0, 1, n_core)).astype(int), 0, n_rows - 1)
        cols = np.clip(n_cols // 2 + np.round(rng.normal(0, 1, n_core)).astype(int), 0, n_cols - 1)
        np.add.at(image, (rows, cols), rng.exponential(10.0, n_core))
        n_noise = rng.integers(*noise)
        rows, cols = rng.integers(0, n_rows, n_noise), rng.integers(0, n_cols, n_noise)
        np.add.at(image, (rows, cols), rng.exponential(0.3, n_noise))
    if block > 1:
        images = np.repeat(np.repeat(images, block, axis=1), block, axis=2) / block**2
    return images[..., None].astype(np.float32)


def energyflow_particles(image: np.ndarray, geometry: ImageGeometry) -> np.ndarray:
    """(M, 3) [ET fraction, eta, phi] of the non-zero pixels: energyflow's ptyphim input."""
    eta, phi = geometry.pixel_coordinates()
    flat = np.asarray(image, dtype=np.float64).reshape(geometry.shape)
    mask = flat > 0
    et = flat[mask] / flat[mask].sum()
    return np.stack([et, eta[mask], phi[mask]], axis=1)


def brute_force_efp(graph: EFPGraph, particles: np.ndarray, kappa: float, beta: float):
    """EFP by nested loops over every assignment of particles to vertices (docs/reference.md)."""
    z = particles[:, 0] ** kappa
    d2 = (particles[:, None, 1] - particles[None, :, 1]) ** 2
    d2 = d2 + (particles[:, None, 2] - particles[None, :, 2]) ** 2
    theta = d2 ** (beta / 2)
    total = 0.0
    for assignment in itertools.product(range(len(particles)), repeat=graph.n):
        term = np.prod([z[i] for i in assignment])
        for (a, b), weight in zip(graph.edges, graph.weights, strict=True):
            term *= theta[assignment[a], assignment[b]] ** weight
        total += term
    return total


def mismatched_graphs(ours: np.ndarray, reference: np.ndarray, labels, rtol: float = RTOL):
    """Labels of the columns (graphs) where ours and reference differ beyond rtol, per graph."""
    bad = []
    for column, label in enumerate(labels):
        if not np.allclose(ours[:, column], reference[:, column], rtol=rtol, atol=0.0):
            bad.append(label)
    return bad


@pytest.fixture(scope="module")
def graphs_d7():
    return select_graphs([["d<=7", "p==1"]])


# --- names -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "parts",
    [
        ("et", 2, 1, 0, 2.0, 0.5),
        ("ht", 8, 7, 0, 2.0, 1.0),
        ("et", 1, 0, 0, -1.0, 2.0),
        ("images", 5, 4, 11, 0.25, 3.0),
        ("et", 7, 7, 102, 0.0, 0.125),
    ],
)
def test_name_round_trip(parts):
    name = efp_name(*parts)
    parsed = parse_efp_name(name)
    assert (parsed.image, parsed.n, parsed.d, parsed.k, parsed.kappa, parsed.beta) == parts
    assert str(parsed) == name
    assert efp_name(*(getattr(parsed, f) for f in ("image", "n", "d", "k", "kappa", "beta"))) == (
        name
    )
    assert all(c.isalnum() or c in "._-" for c in name)


def test_name_examples():
    assert efp_name("et", 2, 1, 0, 2, 0.5) == "et_efp_2_1_0_k_2_b_0.5"
    assert efp_name("ht", 1, 0, 0, -1, 2) == "ht_efp_1_0_0_k_-1_b_2"


@pytest.mark.parametrize(
    "bad",
    [
        "et_efp_2_1_0_k_2.0_b_0.5",  # not canonical: 2.0 is written 2
        "et_efp_2_1_k_2_b_0.5",
        "efp_2_1_0_k_2_b_0.5",
        "et_efp_2_1_0_k_2_b_1e-05",
        "et_efp_2_1_0_k_2_b_0.5.png",
    ],
)
def test_parse_rejects(bad):
    with pytest.raises(ValueError, match="EFP name|canonical"):
        parse_efp_name(bad)


def test_name_rejects_unsafe_parts():
    with pytest.raises(ValueError):
        efp_name("e_t", 2, 1, 0, 1, 1)
    with pytest.raises(ValueError):
        efp_name("et", 2, 1, 0, 1e-20, 1)


# --- graphs ------------------------------------------------------------------------------


def test_graph_selection_counts(graphs_d7):
    assert len(graphs_d7) == 490
    counts = np.bincount([graph.d for graph in graphs_d7])
    assert list(counts) == [1, 1, 2, 5, 12, 33, 103, 333]  # docs/reference.md
    paper = select_graphs([["d<=7", "p==1"], ["d<=8", "p==1", "c==4"]])
    assert len(paper) == 509
    assert [graph.ndk for graph in paper] == sorted(graph.ndk for graph in paper)
    with pytest.raises(ValueError, match="disconnected"):
        select_graphs([["d<=2"]])


def test_graph_from_ndk():
    graph = graph_from_ndk(2, 3, 0)
    assert graph.edges == ((0, 1),) and graph.weights == (3,)
    with pytest.raises(ValueError):
        graph_from_ndk(2, 3, 5)


# --- values ------------------------------------------------------------------------------


def test_matches_brute_force():
    """A handful of particles, every graph up to d = 4 plus K4 (the conditioned core)."""
    rng = np.random.default_rng(11)
    images = simulated_like_images(3, ECAL, rng, core=(2, 3), noise=(1, 3))
    (k4,) = select_graphs([["d==6", "p==1", "c==4"]])
    assert k4.n == 4 and len(k4.edges) == 6
    graphs = [*select_graphs([["d<=4", "p==1"]]), k4]
    engine = EFPEngine(graphs, [0.5, 2.0], [0.5, 2.0], ECAL)
    values, n_empty = engine.compute(images)
    assert n_empty == 0
    for event, image in enumerate(images):
        particles = energyflow_particles(image, ECAL)
        for column, (graph, kappa, beta) in enumerate(engine.columns):
            expected = brute_force_efp(graph, particles, kappa, beta)
            assert values[event, column] == pytest.approx(expected, rel=1e-10), graph.label


def energyflow_columns(engine, ours, events, kappa: float, beta: float):
    """(our columns, energyflow's, graph labels) of every d <= 7 prime graph at (kappa, beta):
    energyflow's EFPSet on the particles, ours picked from the engine's columns in its order."""
    import energyflow

    efpset = energyflow.EFPSet("d<=7", "p==1", measure="hadr", kappa=kappa, beta=beta, normed=False)
    reference = efpset.batch_compute(events, n_jobs=1)
    labels = [f"{n}_{d}_{k}" for n, _, d, _, k, *_ in efpset.specs]
    return columns_of(engine, ours, labels, kappa, beta), reference, labels


def columns_of(engine, ours, labels, kappa: float, beta: float) -> np.ndarray:
    """The engine's columns of the graphs labelled ``labels`` ('n_d_k'), in that order."""
    position = {
        graph.label: column
        for column, (graph, k, b) in enumerate(engine.columns)
        if (k, b) == (kappa, beta)
    }
    return ours[:, [position[label] for label in labels]]


@pytest.mark.parametrize(
    "geometry, block, n_events, core, noise",
    [(ECAL, 1, 12, (1, 3), (1, 5)), (HCAL, 4, 8, (1, 2), (0, 2))],
    ids=["ecal", "hcal"],
)
def test_matches_energyflow_every_graph(graphs_d7, geometry, block, n_events, core, noise):
    """Every d <= 7 prime graph at every (kappa, beta) equals energyflow to rtol 1e-9.

    Few particles per image keep the energyflow side short (HCal-like deposits are 4 x 4
    blocks of 16 equal pixels, so 16 or 32 particles there).
    """
    pytest.importorskip("energyflow")
    rng = np.random.default_rng(5 + block)
    images = simulated_like_images(n_events, geometry, rng, core=core, noise=noise, block=block)
    engine = EFPEngine(graphs_d7, KAPPAS, BETAS, geometry)
    ours, _ = engine.compute(images)
    events = [energyflow_particles(image, geometry) for image in images]
    for kappa in KAPPAS:
        for beta in BETAS:
            mine, reference, labels = energyflow_columns(engine, ours, events, kappa, beta)
            assert mismatched_graphs(mine, reference, labels) == [], (kappa, beta)
            # the comparison is per graph: one wrong graph is caught and named
            corrupted = mine.copy()
            corrupted[3, 200] = corrupted[3, 200] * (1 + 1e-7) + 1e-300
            assert mismatched_graphs(corrupted, reference, labels) == [labels[200]]


def test_batching_does_not_change_values(graphs_d7):
    """Sorting, padding and batch sizes are invisible in the values (bit-identical rows)."""
    rng = np.random.default_rng(3)
    images = simulated_like_images(30, ECAL, rng)
    graphs = [g for g in graphs_d7 if g.d <= 4 or g.c == 4]
    wide = EFPEngine(graphs, [1.0, 2.0], [0.5, 1.0], ECAL, batch_elements=1 << 20)
    narrow = EFPEngine(graphs, [1.0, 2.0], [0.5, 1.0], ECAL, batch_elements=3000)
    values_wide, _ = wide.compute(images)
    values_narrow, _ = narrow.compute(images, block_size=7)
    np.testing.assert_allclose(values_narrow, values_wide, rtol=1e-12, atol=0)
    single, _ = wide.compute(images[17:18])
    np.testing.assert_allclose(single[0], values_wide[17], rtol=1e-12, atol=0)


def test_work_is_shared():
    """Identities by construction cost nothing: 1_0_0 is one node for every beta, and a
    2-vertex graph with d edges at beta is the same node as 2d edges at beta / 2."""
    graphs = select_graphs([["d<=2", "p==1"]])
    engine = EFPEngine(graphs, [1.0], [0.5, 1.0], ECAL)
    values, _ = engine.compute(simulated_like_images(5, ECAL, np.random.default_rng(1)))
    names = [f"{g.label}_b{b:g}" for g, _, b in engine.columns]
    column = dict(zip(names, values.T, strict=True))
    np.testing.assert_array_equal(column["1_0_0_b0.5"], column["1_0_0_b1"])
    np.testing.assert_array_equal(column["2_2_0_b0.5"], column["2_1_0_b1"])
    np.testing.assert_allclose(column["1_0_0_b1"], 1.0)  # sum of normalised ET
    assert engine.n_operations < 3 * len(engine.columns)


def test_empty_images_give_zeros():
    """Policy: an empty image has every EFP 0 (sums over no particle), counted, never NaN."""
    rng = np.random.default_rng(2)
    images = simulated_like_images(6, ECAL, rng)
    images[[0, 4]] = 0.0
    engine = EFPEngine(select_graphs([["d<=3", "p==1"]]), KAPPAS, BETAS, ECAL)
    values, n_empty = engine.compute(images)
    assert n_empty == 2
    assert np.all(values[[0, 4]] == 0.0)
    assert np.all(np.isfinite(values)) and np.all(values[[1, 2, 3, 5]].any(axis=1))
    alone, n_alone = engine.compute(np.zeros((3, *ECAL.shape)))
    assert n_alone == 3 and np.all(alone == 0.0)


def test_empty_images_are_logged(caplog):
    images = {"et": np.zeros((4, *ECAL.shape, 1)), "ht": np.zeros((4, *HCAL.shape, 1))}
    images["et"][1:, 15, 15] = 5.0
    settings = EFPSettings(("et", "ht"), (("d<=1", "p==1"),), (1.0,), (1.0,))
    with caplog.at_level("WARNING"):
        table = compute_efp_table(images, {"et": ECAL, "ht": HCAL}, settings)
    assert "et: 1 of 4 images are empty" in caplog.text
    assert "ht: 4 of 4 images are empty" in caplog.text
    assert table["et_efp_1_0_0_k_1_b_1"].tolist() == [0.0, 1.0, 1.0, 1.0]


@pytest.mark.parametrize(
    "bad, message",
    [(-1.0, "expected finite values >= 0"), (np.nan, "expected finite values >= 0")],
)
def test_bad_pixels_raise(bad, message):
    images = simulated_like_images(3, ECAL, np.random.default_rng(0))
    images[2, 4, 5, 0] = bad
    engine = EFPEngine(select_graphs([["d<=1", "p==1"]]), [1.0], [1.0], ECAL)
    with pytest.raises(ValueError, match=f"et.feather.*event 2 pixel {4 * 31 + 5}.*{message}"):
        engine.compute(images, source="et.feather")


def test_wrong_shape_raises():
    engine = EFPEngine(select_graphs([["d<=1", "p==1"]]), [1.0], [1.0], ECAL)
    with pytest.raises(ValueError, match=r"ht.feather: expected images of shape \(N, 31, 31"):
        engine.compute(np.zeros((2, 32, 32, 1)), source="ht.feather")


# --- settings, tables, files -------------------------------------------------------------


def test_settings_from_config():
    block = {
        "images": ["et", "ht"],
        "graphs": [["d<=2", "p==1"]],
        "kappas": [1, 2],
        "betas": [0.5],
        "chunks": 3,
        "dedup": {"sample_size": 50, "tolerance": 1e-9},
    }
    settings = EFPSettings.from_config(block)
    assert settings.chunks == 3 and settings.dedup_sample_size == 50
    with pytest.raises(ValueError, match=r"efp: unknown key\(s\) \[.bogus.\]"):
        EFPSettings.from_config({**block, "bogus": 1})
    with pytest.raises(ValueError, match="betas must be > 0"):
        EFPSettings.from_config({**block, "betas": [0]})


def test_chunk_bounds_cover_the_split():
    bounds = [chunk_bounds(103, 4, chunk) for chunk in range(4)]
    assert bounds[0][0] == 0 and bounds[-1][1] == 103
    assert all(a[1] == b[0] for a, b in zip(bounds, bounds[1:], strict=False))
    assert chunk_bounds(2, 3, 0) == (0, 1) and chunk_bounds(2, 3, 1) == (1, 1)
    with pytest.raises(ValueError):
        chunk_bounds(10, 2, 2)


def efp_block(settings: EFPSettings) -> dict:
    """The ``efp`` config block of settings (what the EFP rules pass their steps as params)."""
    return {
        "images": list(settings.images),
        "graphs": [list(selection) for selection in settings.graphs],
        "kappas": list(settings.kappas),
        "betas": list(settings.betas),
        "chunks": settings.chunks,
        "dedup": {"sample_size": settings.dedup_sample_size, "tolerance": settings.dedup_tolerance},
        "gallery_size": settings.gallery_size,
        "storage": {
            "block_rows": settings.storage.block_rows,
            "block_columns": settings.storage.block_columns,
        },
        "batch_elements": settings.batch_elements,
        "backend": settings.backend,
    }


def test_chunks_then_gather_equal_one_pass(tmp_path):
    """compute_efps on 3 chunks + gather_efps == the table computed in one go, with the
    chunks written in row blocks and column blocks smaller than the grid."""
    from hepml.io import efp_store
    from hepml.steps import efp as steps

    rng = np.random.default_rng(4)
    paths = {}
    arrays = {
        "et": simulated_like_images(25, ECAL, rng),
        "ht": simulated_like_images(25, HCAL, rng, core=(1, 3), noise=(0, 3), block=4),
    }
    for key, array in arrays.items():
        paths[key] = tmp_path / f"{key}.feather"
        io.write_array(paths[key], array)
    storage = efp_store.StorageSettings(block_rows=3, block_columns=7)
    settings = EFPSettings(
        ("et", "ht"), (("d<=3", "p==1"),), (0.0, 2.0), (0.5, 1.0), chunks=3, storage=storage
    )
    names = efp_names(settings)
    assert len(names) == 72 and storage.rows_for(len(names)) == 1  # 1 event per row block
    split = tmp_path / "train"
    chunks = [split / f"chunk{i:04d}" for i in range(3)]
    params = {"settings": efp_block(settings)}
    for i, chunk in enumerate(chunks):
        steps.compute_efps(paths, {"chunk": chunk}, params, chunk=i)
    assert len(list(chunks[0].glob("block*.feather"))) == -(-len(names) // 7)
    steps.gather_efps(
        {"chunks": chunks, "reference": paths["et"]}, {"index": split / "index.json"}, params
    )
    table = efp_store.EFPTable(split / "index.json")
    gathered = pd.DataFrame(table.read(table.names), columns=table.names)
    direct = compute_efp_table(arrays, {k: geometry_for(k) for k in arrays}, settings)
    assert table.names == names == list(direct.columns)
    np.testing.assert_allclose(gathered.to_numpy(), direct.to_numpy(), rtol=1e-12, atol=0)
    # any subset of columns and rows reads back the same values, in the order asked
    some = [names[5], names[0], names[30]]
    rows = np.array([0, 7, 8, 24])
    np.testing.assert_array_equal(table.read(some, rows=rows), gathered[some].to_numpy()[rows])
    groups = list(table.iter_groups(names, max_elements=25 * 4))
    assert [len(group) for group, _ in groups] == [4] * 18
    np.testing.assert_array_equal(
        np.concatenate([values for _, values in groups], axis=1), gathered.to_numpy()
    )
    with pytest.raises(io.DataError, match="hold 17 events but the split holds 25"):
        steps.gather_efps(
            {"chunks": chunks[1:], "reference": paths["et"]}, {"index": split / "bad.json"}, params
        )
    assert not (split / "bad.json").exists()
    with pytest.raises(io.DataError, match="not found"):
        table.read(["et_efp_9_9_9_k_1_b_1"])


def test_graph_drawing_shows_parallel_edges(tmp_path):
    from hepml.plots import efp as plots_efp
    from hepml.steps import efp as steps
    from matplotlib.figure import Figure

    ax = Figure().add_subplot(1, 1, 1)
    graph = graph_from_ndk(3, 5, 0)
    assert plots_efp.draw_efp_graph(ax, graph) == graph.d == 5
    assert len(set(plots_efp.edge_bends(3))) == 3 and plots_efp.edge_bends(1) == [0.0]
    out = tmp_path / "graphs" / "et_efp_2_3_0_k_1_b_0.5.png"
    steps.draw_efps({"figure": out}, efp="et_efp_2_3_0_k_1_b_0.5")
    assert out.read_bytes()[:4] == b"\x89PNG"


def test_efp_rules_plan_alone(tmp_path):
    """rules/efp.smk alone (common.smk + efp.smk) on Feather arrays written here plans every
    rule of the file, a compute_efps job per chunk and split. The rules run, and their outputs
    are checked, in the tiny run (tests/test_end_to_end.py, test_efp_tables_of_the_tiny_run)."""
    import re
    import shutil
    import subprocess
    import sys
    from pathlib import Path

    import yaml

    repo = Path(__file__).resolve().parents[1]
    work = tmp_path / "workflow"
    for part in ("scripts", "rules", "report", "config", "envs"):
        shutil.copytree(repo / part, work / part, ignore=shutil.ignore_patterns("__pycache__"))
    config = yaml.safe_load((repo / "config" / "config.yaml").read_text())
    electrons = config["datasets"]["electrons"]
    config["datasets"] = {"electrons": electrons}
    electrons.pop("guided", None)
    config.pop("tuning", None)
    electrons["efp"] = {
        "images": ["et", "ht"],
        "graphs": [["d<=3", "p==1"]],
        "kappas": [1, 2],
        "betas": [0.5, 1],
        "chunks": 2,
        "dedup": {"sample_size": 50, "tolerance": 1e-9},
        "gallery_size": 3,
        "storage": {"block_rows": 16, "block_columns": 10},
    }
    (work / "config" / "e2e.yaml").write_text(yaml.safe_dump(config))
    (work / "Snakefile").write_text(
        'configfile: "config/e2e.yaml"\n\n\n'
        'include: "rules/common.smk"\ninclude: "rules/efp.smk"\n\n\n'
        "rule all:\n    default_target: True\n    input:\n        all_targets(),\n"
    )
    rng = np.random.default_rng(17)
    for split, n in {"train": 60, "valid": 30, "test": 40}.items():
        folder = work / "results" / "electrons" / "feather" / split
        io.write_array(folder / "et.feather", simulated_like_images(n, ECAL, rng))
        ht = simulated_like_images(n, HCAL, rng, core=(0, 2), noise=(0, 2), block=4)
        io.write_array(folder / "ht.feather", ht)
        io.write_array(folder / "y.feather", (np.arange(n) % 2).astype(np.int8))
        io.write_array(folder / "weight.feather", np.ones(n))
    snakemake = Path(sys.executable).with_name("snakemake")
    run = subprocess.run(
        [str(snakemake), "-n", "--quiet", "rules", "--cores", "2"]
        + ["--directory", str(work), "--snakefile", str(work / "Snakefile")],
        capture_output=True,
        text=True,
        cwd=work,
    )
    assert run.returncode == 0, run.stderr[-3000:]
    jobs = {rule: int(n) for rule, n in re.findall(r"^(\w+)\s+(\d+)$", run.stdout, re.M)}
    rules = set(re.findall(r"^rule (\w+):", (repo / "rules" / "efp.smk").read_text(), re.M))
    rules.discard("draw_efps")  # one graph's picture, on demand (no target asks for it)
    assert rules and rules <= set(jobs), (sorted(rules), jobs)
    assert jobs["compute_efps"] == 3 * electrons["efp"]["chunks"]
    assert jobs["gather_efps"] == 3 and jobs["deduplicate_efps"] == 1


# --- particle lists (jet constituents) ------------------------------------------------------


def jet_constituents(seed: int, n: int = 6) -> np.ndarray:
    """(n, 50, 3) float32 constituents (pT / pT_jet, d eta, d phi) of random jets as unpack_jets
    writes them (hepml.jets.preprocess.particle_inputs), 3 to 40 particles, zero-padded."""
    from hepml.jets.preprocess import particle_inputs
    from test_jets_preprocess import random_jets

    jets = random_jets(seed, n=n)
    for jet, keep in zip(jets, np.linspace(3, 40, n).astype(int), strict=True):
        jet[keep:] = 0.0
    return particle_inputs(jets).astype(np.float32)


def energyflow_on_particles(particles: np.ndarray, selection, kappa: float, beta: float):
    """energyflow's EFPSet with its default hadronic measure (normed=True) on the non-padding
    rows of (N, P, 3) (pT, eta, phi) lists, as the benchmark's EFP tagger: (values, labels)."""
    import energyflow

    efpset = energyflow.EFPSet(*selection, measure="hadr", kappa=kappa, beta=beta)
    events = [event[event[:, 0] > 0].astype(np.float64) for event in particles]
    labels = [f"{n}_{d}_{k}" for n, _, d, _, k, *_ in efpset.specs]
    return efpset.batch_compute(events, n_jobs=1), labels


def test_particle_lists_match_energyflow_on_the_constituents():
    """EFPs of jet constituents (engine without geometry) equal energyflow.EFPSet on the same
    constituents, every d <= 5 graph and K4, at each (kappa, beta); phi differences are taken
    the short way round (an event across phi = +-pi). The EFPs of the same jets' images do
    not: the comparison tells pixels from particles."""
    from hepml.geometry import JET
    from hepml.jets.preprocess import jet_images
    from test_jets_preprocess import random_jets

    pytest.importorskip("energyflow")
    selection = ["d<=5", "p==1"]
    k4_selection = ["n==4", "d==6", "c==4", "p==1"]
    graphs = select_graphs([selection, k4_selection])
    assert [graph.label for graph in graphs if graph.c == 4] == ["4_6_21"]
    particles = jet_constituents(21)
    across = np.zeros((1, particles.shape[1], 3), dtype=np.float32)
    across[0, :4] = [[0.4, 0.1, 3.1], [0.3, -0.2, -3.1], [0.2, 0.0, 3.0], [0.1, 0.3, -2.9]]
    particles = np.concatenate([particles, across])
    engine = EFPEngine(graphs, [1.0, 2.0], [0.5, 1.0], None)
    ours, n_empty = engine.compute(particles, source="constituents")
    assert n_empty == 0
    for kappa in (1.0, 2.0):
        for beta in (0.5, 1.0):
            reference, labels = energyflow_on_particles(particles, selection, kappa, beta)
            k4, k4_label = energyflow_on_particles(particles, k4_selection, kappa, beta)
            reference, labels = np.concatenate([reference, k4], axis=1), labels + k4_label
            mine = columns_of(engine, ours, labels, kappa, beta)
            assert mismatched_graphs(mine, reference, labels) == [], (kappa, beta)
    image_engine = EFPEngine(graphs, [1.0], [0.5], JET)
    jets = random_jets(21, n=6)
    from_images, _ = image_engine.compute(jet_images(jets))
    reference, labels = energyflow_on_particles(jet_constituents(21), selection, 1.0, 0.5)
    mine = columns_of(image_engine, from_images, labels, 1.0, 0.5)
    assert len(mismatched_graphs(mine, reference, labels, rtol=1e-3)) > len(labels) // 2


def test_bad_particles_raise_and_padding_is_dropped():
    engine = EFPEngine(select_graphs([["d<=2", "p==1"]]), [1.0], [1.0], None)
    particles = jet_constituents(3, n=2)
    padded = np.concatenate([particles, np.zeros((2, 30, 3), dtype=np.float32)], axis=1)
    padded[:, -1, 1:] = 5.0  # coordinates on a padding row (weight 0) are ignored
    np.testing.assert_allclose(engine.compute(padded)[0], engine.compute(particles)[0], rtol=1e-13)
    bad = particles.copy()
    bad[1, 2, 0] = -0.1
    with pytest.raises(ValueError, match="constituents.feather: event 1 particle 2 is"):
        engine.compute(bad, source="constituents.feather")
    with pytest.raises(ValueError, match=r"expected particle lists of shape \(N, particles, 3\)"):
        engine.compute(particles[..., :2])


def test_compute_efps_reads_the_constituents_as_particles(tmp_path):
    """compute_efps with efp.images [constituents] (the jets config) takes the unpacked
    constituents as particle lists: names prefixed constituents_, values those of the engine
    without geometry, a bad particle names the file and event."""
    from hepml.io import efp_store
    from hepml.steps import efp as steps

    particles = jet_constituents(8, n=9)
    path = tmp_path / "constituents.feather"
    io.write_array(path, particles)
    settings = EFPSettings(("constituents",), (("d<=3", "p==1"),), (1.0,), (0.5, 1.0), chunks=2)
    chunks = [tmp_path / "train" / f"chunk{i:04d}" for i in range(2)]
    params = {"settings": efp_block(settings)}
    for i, chunk in enumerate(chunks):
        steps.compute_efps({"constituents": path}, {"chunk": chunk}, params, chunk=i)
    index = tmp_path / "train" / "index.json"
    steps.gather_efps({"chunks": chunks, "reference": path}, {"index": index}, params)
    table = efp_store.EFPTable(tmp_path / "train" / "index.json")
    assert table.names[0] == "constituents_efp_1_0_0_k_1_b_0.5"
    engine = EFPEngine(select_graphs(settings.graphs), [1.0], [0.5, 1.0], None)
    np.testing.assert_allclose(
        table.read(table.names), engine.compute(particles)[0], rtol=1e-12, atol=0
    )
    particles[6, 1, 2] = np.nan  # in chunk 1 (events 4 to 8): named by its number in the file
    io.write_array(path, particles)
    with pytest.raises(ValueError, match=r"constituents.feather \(key 'constituents'\): event 6 "):
        steps.compute_efps({"constituents": path}, {"chunk": tmp_path / "bad"}, params, chunk=1)
    assert not (tmp_path / "bad").exists()
