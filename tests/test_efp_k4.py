"""The exact K4 fast path of the EFP engine (hepml.efp.k4) and its TensorFlow backend (efp.tf).

K4 pair sums are checked against the conditioned contraction of hepml.efp.kernels (itself
checked against brute force and energyflow in test_efp.py), the engine with the fast path forced
on against energyflow at occupancies up to a dense image, and the TensorFlow backend against the
numpy engine.
"""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hepml.efp.engine import EFPEngine
from hepml.efp.graphs import select_graphs
from hepml.efp.k4 import (
    CostModel,
    K4Layout,
    k4_contract,
    k4_contract_batch,
    k4_layout,
)
from hepml.efp.kernels import contract
from hepml.efp.settings import EFPSettings
from hepml.efp.table import compute_efp_table, efp_names, iter_efp_blocks
from hepml.geometry import ECAL, HCAL, ImageGeometry
from test_efp import energyflow_columns, energyflow_particles, mismatched_graphs

ALL_FAST = CostModel(k4_min_width=0)
NO_FAST = CostModel(k4_min_width=10**9)


def occupancy_images(
    n_events: int, geometry: ImageGeometry, n_hit: int, rng: np.random.Generator, block: int = 1
) -> np.ndarray:
    """(n_events, n_phi, n_eta) ET images with exactly n_hit non-zero cells around the centre
    (a Gaussian of a fifth of the image, exponential ET, one hot cell of 10x the mean);
    block 4 makes HCal-like images of 4 x 4 equal pixels per cell."""
    rows, cols = geometry.n_phi // block, geometry.n_eta // block
    images = np.zeros((n_events, rows * cols))
    centre = np.hypot(*np.meshgrid(np.arange(cols) - cols / 2, np.arange(rows) - rows / 2))
    for image in images:
        score = centre.ravel() / (rows / 5) + rng.exponential(1.0, rows * cols)
        cells = np.argsort(score)[:n_hit]
        image[cells] = rng.exponential(1.0, n_hit)
        image[cells[0]] *= 10.0
    images = images.reshape(n_events, rows, cols)
    if block > 1:
        images = np.repeat(np.repeat(images, block, axis=1), block, axis=2) / block**2
    return images


def reference_contract(vectors, matrix) -> float:
    """The K4 sum by `contract` (conditioning on one vertex), one event."""
    edges = {(x, y): matrix(x, y)[None] for x, y in itertools.combinations(range(4), 2)}
    return float(contract({v: vectors[v][None] for v in range(4)}, edges)[0])


@pytest.mark.parametrize("width", [1, 7, 40])
def test_k4_contract_every_layout(width):
    """Any roles, with or without the symmetric shortcuts where they are valid, give the sum."""
    rng = np.random.default_rng(width)
    base = rng.random((width, width))
    symmetric = base + base.T
    vector = rng.random(width)
    # plain K4: one vertex vector, one symmetric matrix everywhere: both shortcuts hold
    plain = k4_layout([0, 0, 0, 0], lambda x, y: 0)
    assert plain.sym_ha and plain.sym_cm
    expected = reference_contract([vector] * 4, lambda x, y: symmetric)
    for sym_ha, sym_cm in itertools.product([False, True], repeat=2):
        layout = K4Layout(0, 1, 2, 3, sym_ha, sym_cm)
        got = k4_contract([vector] * 4, lambda x, y: symmetric, layout, budget=width**2 * 3)
        assert got == pytest.approx(expected, rel=1e-12)
    # general K4: six different, non-symmetric matrices, four vectors: no shortcut is valid
    mats = {pair: rng.random((width, width)) for pair in itertools.combinations(range(4), 2)}
    vectors = [rng.random(width) for _ in range(4)]

    def matrix(x, y):
        return mats[(x, y)] if x < y else mats[(y, x)].T

    layout = k4_layout(range(4), lambda x, y: (x, y))
    assert not layout.sym_ha and not layout.sym_cm
    expected = reference_contract(vectors, matrix)
    for roles in itertools.permutations(range(4)):
        got = k4_contract(vectors, matrix, K4Layout(*roles, False, False), budget=width * 5)
        assert got == pytest.approx(expected, rel=1e-12)
    # a wrong shortcut is caught: sym_ha claimed where it does not hold
    wrong = k4_contract(vectors, matrix, K4Layout(0, 1, 2, 3, True, False))
    assert width == 1 or wrong != pytest.approx(expected, rel=1e-6)


def test_every_core_is_a_symmetric_k4():
    """The paper's c = 4 graphs (d <= 8) all reduce to K4 cores, most of them with both
    shortcuts valid (40 of the 46 cores at two betas)."""
    graphs = select_graphs([["d<=8", "p==1", "c==4"]])
    engine = EFPEngine(graphs, [1.0], [0.5, 1.0], ECAL)
    layouts = [arg[1] for kind, arg, _ in engine._sparse[0] if kind == "core"]
    assert len(layouts) == 2 * len(graphs)
    assert all(layout is not None for layout in layouts)
    assert sum(layout.sym_ha and layout.sym_cm for layout in layouts) == 40


@pytest.mark.slow
@pytest.mark.parametrize(
    "geometry, n_hit, block",
    [(ECAL, 25, 1), (ECAL, 90, 1), (HCAL, 8, 4)],
    ids=["ecal25", "ecal90", "hcal8cells"],
)
def test_fast_paths_match_energyflow(geometry, n_hit, block):
    """Every d <= 7 prime graph, K4 cores per event forced on, vs energyflow
    (1e-9 relative per column) on one image per occupancy."""
    pytest.importorskip("energyflow")
    graphs = select_graphs([["d<=7", "p==1"]])
    images = occupancy_images(1, geometry, n_hit, np.random.default_rng(n_hit), block)
    pairs = [(2.0, 0.5), (1.0, 2.0)] if n_hit < 50 else [(1.0, 1.0)]
    kappas, betas = sorted({k for k, _ in pairs}), sorted({b for _, b in pairs})
    engine = EFPEngine(graphs, kappas, betas, geometry, cost_model=ALL_FAST)
    ours, _ = engine.compute(images)
    events = [energyflow_particles(image, geometry) for image in images]
    assert len(events[0]) == n_hit * block**2
    for kappa, beta in pairs:
        mine, reference, labels = energyflow_columns(engine, ours, events, kappa, beta)
        assert mismatched_graphs(mine, reference, labels) == [], (kappa, beta)


@pytest.mark.slow
def test_dense_image_matches_energyflow():
    """A dense ECal image (every one of the 961 pixels hit): trees and triangles (d <= 3) vs
    energyflow to 1e-9 relative."""
    energyflow = pytest.importorskip("energyflow")
    graphs = select_graphs([["d<=3", "p==1"]])
    images = np.random.default_rng(9).exponential(1.0, (1, *ECAL.shape))
    images[0, 15, 15] = 500.0
    engine = EFPEngine(graphs, [2.0], [0.5], ECAL, cost_model=ALL_FAST)
    ours, _ = engine.compute(images)
    efpset = energyflow.EFPSet("d<=3", "p==1", measure="hadr", kappa=2, beta=0.5, normed=False)
    reference = efpset.batch_compute([energyflow_particles(images[0], ECAL)], n_jobs=1)
    labels = [f"{n}_{d}_{k}" for n, _, d, _, k, *_ in efpset.specs]
    position = {graph.label: column for column, (graph, _, _) in enumerate(engine.columns)}
    mine = ours[:, [position[label] for label in labels]]
    assert mismatched_graphs(mine, reference, labels) == []


def test_paths_agree_and_do_not_depend_on_the_block():
    """Fast path on or off: same values to round-off; an event alone or among others whose
    counts straddle the threshold: same values (its path depends on its own count only)."""
    rng = np.random.default_rng(12)
    graphs = [g for g in select_graphs([["d<=7", "p==1"]]) if g.d <= 4 or g.c == 4]
    images = np.concatenate([occupancy_images(3, ECAL, n_hit, rng) for n_hit in (5, 20, 30, 45)])
    model = CostModel(k4_min_width=25)
    fast = EFPEngine(graphs, [0.5, 2.0], [0.5, 1.0], ECAL, cost_model=model)
    slow = EFPEngine(graphs, [0.5, 2.0], [0.5, 1.0], ECAL, cost_model=NO_FAST)
    values, _ = fast.compute(images)
    np.testing.assert_allclose(values, slow.compute(images)[0], rtol=1e-12, atol=0)
    for event in (2, 7, 11):
        alone, _ = fast.compute(images[event : event + 1])
        np.testing.assert_allclose(alone[0], values[event], rtol=1e-13, atol=0)


def test_iter_blocks_equal_the_table():
    rng = np.random.default_rng(13)
    images = {
        "et": occupancy_images(11, ECAL, 30, rng)[..., None],
        "ht": occupancy_images(11, HCAL, 3, rng, block=4)[..., None],
    }
    geometries = {"et": ECAL, "ht": HCAL}
    settings = EFPSettings(("et", "ht"), (("d<=4", "p==1"),), (1.0, 2.0), (0.5,))
    table = compute_efp_table(images, geometries, settings)
    assert list(table.columns) == efp_names(settings)
    blocks = list(iter_efp_blocks(images, geometries, settings, rows=4))
    assert [(start, stop) for start, stop, _ in blocks] == [(0, 4), (4, 8), (8, 11)]
    stacked = np.concatenate([values for _, _, values in blocks])
    np.testing.assert_allclose(stacked, table.to_numpy(), rtol=1e-12, atol=0)


def test_backend_setting():
    block = {"images": ["et"], "graphs": [["d<=2", "p==1"]], "kappas": [1], "betas": [1]}
    assert EFPSettings.from_config(block).backend == "cpu"
    assert EFPSettings.from_config({**block, "backend": "gpu"}).backend == "gpu"
    with pytest.raises(ValueError, match="efp.backend must be one of"):
        EFPSettings.from_config({**block, "backend": "tpu"})
    assert EFPSettings.from_config({**block, "batch_elements": 1 << 24}).batch_elements == (1 << 24)
    with pytest.raises(ValueError, match="batch_elements must be >= 1"):
        EFPSettings.from_config({**block, "batch_elements": 0})
    with pytest.raises(ValueError, match="backend must be one of"):
        EFPEngine(select_graphs([["d<=1", "p==1"]]), [1.0], [1.0], ECAL, backend="x")


def test_tensorflow_backend_equals_numpy():
    """The "gpu" backend (TensorFlow, here on the CPU) gives the numpy engine's values, K4
    cores included, on ECal and HCal images."""
    pytest.importorskip("tensorflow")
    graphs = [g for g in select_graphs([["d<=7", "p==1"]]) if g.d <= 5 or g.c == 4]
    rng = np.random.default_rng(14)
    for geometry, n_hit, block in ((ECAL, 30, 1), (HCAL, 3, 4)):
        images = np.concatenate(
            [occupancy_images(2, geometry, n, rng, block) for n in (n_hit // 3, n_hit)]
        )
        images[1] = 0.0  # an empty image
        numpy_engine = EFPEngine(graphs, [0.0, 2.0], [0.5, 2.0], geometry)
        tf_engine = EFPEngine(graphs, [0.0, 2.0], [0.5, 2.0], geometry, backend="gpu")
        expected, n_empty = numpy_engine.compute(images)
        got, n_empty_tf = tf_engine.compute(images)
        assert n_empty == n_empty_tf == 1
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
    # particle lists (jet constituents, an engine without geometry): distances on the device
    from test_efp import jet_constituents

    particles = jet_constituents(14)
    numpy_engine = EFPEngine(graphs, [1.0, 2.0], [0.5, 1.0, 2.0], None)
    tf_engine = EFPEngine(graphs, [1.0, 2.0], [0.5, 1.0, 2.0], None, backend="gpu")
    np.testing.assert_allclose(
        tf_engine.compute(particles)[0], numpy_engine.compute(particles)[0], rtol=1e-12, atol=0
    )


def test_tensorflow_k4_every_shortcut():
    """The TensorFlow K4 pair sum with each combination of shortcuts equals numpy's, on
    matrices where the shortcuts hold (one symmetric matrix, one vector) and, without
    shortcuts, on six different non-symmetric matrices."""
    pytest.importorskip("tensorflow")
    from hepml.efp.tf import TFBatchRunner

    engine = EFPEngine(select_graphs([["d<=1", "p==1"]]), [1.0], [1.0], ECAL)
    runner = TFBatchRunner(engine, element_budget=5000)
    rng = np.random.default_rng(15)
    edges = tuple(itertools.combinations(range(4), 2))
    width = 23
    base = rng.random((2, width, width))
    symmetric = [base + base.transpose(0, 2, 1)] * 6
    general = [rng.random((2, width, width)) for _ in edges]
    vector = [rng.random((2, width))] * 4
    vectors = [rng.random((2, width)) for _ in range(4)]
    cases = [(symmetric, vector, flags) for flags in itertools.product([False, True], repeat=2)]
    cases.append((general, vectors, (False, False)))
    for matrices, vecs, (sym_ha, sym_cm) in cases:
        layout = K4Layout(2, 0, 3, 1, sym_ha, sym_cm)
        expected = k4_contract_batch(vecs, edges, matrices, layout)
        position = {edge: j for j, edge in enumerate(edges)}

        def oriented(x, y, matrices=matrices, position=position):
            if (x, y) in position:
                return matrices[position[(x, y)]]
            return matrices[position[(y, x)]].transpose(0, 2, 1)

        h, a, c, m = 2, 0, 3, 1
        inputs = [
            vecs[c],
            vecs[m],
            *(oriented(*p) for p in ((h, c), (a, c), (c, m), (h, m), (a, m))),
        ]
        form = runner._pair_forms((sym_ha, sym_cm), inputs).numpy()
        got = np.einsum("bh,ba,bha,bha->b", vecs[h], vecs[a], oriented(h, a), form)
        np.testing.assert_allclose(got, expected, rtol=1e-12, atol=0)
