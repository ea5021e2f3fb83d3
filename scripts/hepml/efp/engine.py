"""Energy Flow Polynomials of calorimeter cells or particle lists: graphs, grid settings and a
fast engine.

Physics (docs/reference.md, "Energy Flow Polynomials"; electron paper section IV): every non-zero
pixel of an image is a particle with its ET normalised to sum 1 per image and its coordinates at
the pixel centre (``hepml.geometry``). Measure 'hadr' with ``normed=False`` on the
pre-normalised ET:

    z_i = ET_i ** kappa,   theta_ij = (d_eta_ij ** 2 + d_phi_ij ** 2) ** (beta / 2),
    EFP_G = sum_{i_1..i_n} z_{i_1} ... z_{i_n} prod_{(k, l) in G} theta_{i_k i_l}.

Particle lists (the keys of ``hepml.geometry.PARTICLE_KEYS``: the jets' constituents,
(pT / pT_jet, Delta eta, Delta phi) zero-padded) are the same sums on the particles themselves,
as the top-tagging benchmark's EFP tagger computed them (arXiv:1902.09914, energyflow's default
hadronic measure, ``normed=True``): rows with weight 0 are padding and dropped, the weights are
normalised to sum 1 per event (z_i = pT_i / sum_j pT_j, to the power kappa) and theta_ij is
Delta R_ij ** beta in (eta, phi), with the phi difference taken the short way round the circle
as energyflow does. An engine built without a geometry (``geometry=None``) takes such lists.

Graphs are energyflow's prime (connected) multigraphs, chosen with energyflow selection lists.

Names are canonical (`hepml.efp.names`); duplicates and single-EFP AUCs are in
`hepml.efp.duplicates`.

Engine (`EFPEngine`): energyflow evaluates one einsum per graph per event. Here the events of a
block are sorted by particle count and cut into batches padded to a common count (padding has
z = 0, so it never contributes). Every graph is reduced symbolically, once, by variable
elimination into a small set of batched array operations (leaves become matrix-vector products,
vertices with two neighbours become matrix products; a core where every vertex has three or more
neighbours, as in K4, is conditioned on one vertex, whose particle index becomes a batch axis).
The elimination order is fixed per graph when the engine is built, never per event. Each
operation is keyed by the expression it computes, so work
is shared across graphs, kappas and betas: ``theta ** beta`` is gathered once per batch and beta
from a fixed pixel-pair table (the pixel grid never changes), ``z ** kappa`` once per kappa, and a
sub-expression that two EFPs have in common (a 2-vertex graph with d edges at beta and with 2d
edges at beta / 2, graph 1_0_0 at every beta, ...) is computed once.
"""

from __future__ import annotations

import logging
import sys
import time
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hepml.efp.grid import CostModel, GridConvolver, K4Layout, k4_layouts, k4_pair_forms
from hepml.efp.names import efp_name

# The settings live in the light hepml.efp.settings (the rules read their fields); kept
# importable from here.
from hepml.efp.settings import BACKENDS, EFPSettings, storage_settings  # noqa: F401
from hepml.geometry import PARTICLE_KEYS, ImageGeometry, geometry_for

log = logging.getLogger(__name__)

# ---------------------------------------------------------------------------------------------
# Graphs
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class EFPGraph:
    """One prime multigraph.

    n, d, k: vertices, edges (with multiplicity), index inside (n, d) (energyflow's ``ndk``).
    c: energyflow's variable-elimination complexity (cost ~ particles ** c per event).
    edges: distinct vertex pairs (i, j), i < j, vertices 0..n-1.
    weights: multiplicity of each pair in ``edges`` (sum = d).
    """

    n: int
    d: int
    k: int
    c: int
    edges: tuple[tuple[int, int], ...]
    weights: tuple[int, ...]

    @property
    def ndk(self) -> tuple[int, int, int]:
        return (self.n, self.d, self.k)

    @property
    def label(self) -> str:
        """'n_d_k', e.g. '2_1_0'."""
        return f"{self.n}_{self.d}_{self.k}"


def _energyflow_graphs(selection: Sequence[str]) -> list[EFPGraph]:
    # energyflow is imported here so that name parsing does not need it.
    import energyflow

    efpset = energyflow.EFPSet(*selection, measure="hadr", beta=1, kappa=1, normed=False)
    disconnected = ["{}_{}_{}".format(*spec[[0, 2, 4]]) for spec in efpset.specs if spec[6] != 1]
    if disconnected:
        raise ValueError(
            f"EFP selection {list(selection)} contains disconnected graphs "
            f"({', '.join(disconnected[:5])}, ...); only prime graphs are supported: add 'p==1'"
        )
    graphs = []
    for efp in efpset.efps:
        edges, weights = [], []
        for (i, j), w in zip(efp.simple_graph, efp.weights, strict=True):
            edges.append((min(i, j), max(i, j)))
            weights.append(int(w))
        graphs.append(
            EFPGraph(
                n=int(efp.n),
                d=int(efp.d),
                k=int(efp.k),
                c=int(efp.c),
                edges=tuple(edges),
                weights=tuple(weights),
            )
        )
    return graphs


def select_graphs(selections: Iterable[Sequence[str]]) -> tuple[EFPGraph, ...]:
    """Union of energyflow selections, e.g. [["d<=7", "p==1"], ["d<=8", "p==1", "c==4"]].

    Each inner list is ANDed by energyflow (``EFPSet(*selection)``); the lists are ORed.
    Returns the prime graphs sorted by (n, d, k). ValueError on a disconnected graph or a
    selection energyflow does not understand.
    """
    found: dict[tuple[int, int, int], EFPGraph] = {}
    selections = [list(selection) for selection in selections]
    if not selections:
        raise ValueError("no EFP graph selection given")
    for selection in selections:
        if isinstance(selection, str) or not selection:
            raise ValueError(f"an EFP selection must be a non-empty list of strings: {selection!r}")
        for graph in _energyflow_graphs(selection):
            found[graph.ndk] = graph
    return tuple(found[key] for key in sorted(found))


def graph_from_ndk(n: int, d: int, k: int) -> EFPGraph:
    """The prime graph (n, d, k) from energyflow's tables; ValueError if there is none."""
    graphs = _energyflow_graphs([f"n=={n}", f"d=={d}", f"k=={k}", "p==1"])
    if len(graphs) != 1:
        raise ValueError(f"energyflow has no prime graph {n}_{d}_{k}")
    return graphs[0]


def chunk_bounds(n_events: int, n_chunks: int, chunk: int) -> tuple[int, int]:
    """Event range [start, stop) of chunk ``chunk`` (0-based) when splitting n_events evenly."""
    if not 0 <= chunk < n_chunks:
        raise ValueError(f"chunk {chunk} outside 0..{n_chunks - 1}")
    edges = np.linspace(0, n_events, n_chunks + 1).round().astype(int)
    return int(edges[chunk]), int(edges[chunk + 1])


# ---------------------------------------------------------------------------------------------
# Symbolic reduction of graphs into shared batched operations
# ---------------------------------------------------------------------------------------------
# Every array the engine computes is a node (kind, argument, input node ids), interned so that an
# expression built twice (in two graphs, or for two kappas or betas) is one node, computed once
# per batch. Shapes per batch of B events padded to M particles:
#   vectors (B, M):     z        z_i = ET_i ** kappa (0 on padding)
#                       y        z * the message vectors of the vertex
#                       m        matrix @ vector (a leaf eliminated)
#   matrices (B, M, M): gather   theta ** e, gathered from the pixel-pair table
#                       Tmul     theta ** e as a product of two gathered powers
#                       S        m1 @ diag(vector) @ m2 (a vertex with two neighbours eliminated)
#                       H        elementwise product (parallel reduced edges)
#                       t        transpose
#   scalars (B,):       sum      sum over particles of the last vertex's vector
#                       core     a core with no leaf and no 2-neighbour vertex (`_contract`)
#                       k4sum    the same K4 core as sum_{h,a} v_h v_a E_ha pairq (wide batches)
#   pair forms (B,M,M): pairq    `grid.k4_pair_form`, shared by K4 cores that differ only
#                                in v_h, v_a, E_ha (the engine's wide-batch program)
#   vectors (B, M):     conv     a leaf message as an FFT convolution (`grid.GridConvolver`;
#                                the FFT program, off in the default cost model)
#   pairs (B, M, M):    flat index of each particle pair into the pixel-pair tables


def _exponent(value: float) -> float:
    """Round an angular exponent so that 0.5 * 3 and 1.5 give the same node."""
    return float(f"{value:.12g}")


def _base_exponent(exponent: float, betas: Sequence[float]) -> float | None:
    """The largest configured beta whose integer multiple (>= 2) is exponent, if any."""
    for beta in sorted(betas, reverse=True):
        ratio = exponent / beta
        if ratio > 1.5 and abs(ratio - round(ratio)) < 1e-9:
            return beta
    return None


class _Plan:
    """The interned node DAG of every EFP of one engine, plus the graph reduction."""

    SYMMETRIC = ("gather", "Tmul")

    def __init__(self, betas: Sequence[float]):
        self.betas = tuple(betas)
        self.nodes: list[tuple[str, object, tuple[int, ...]]] = []
        self._index: dict[tuple, int] = {}
        self._transposed: dict[int, int] = {}

    def node(self, kind: str, arg: object = None, inputs: tuple[int, ...] = ()) -> int:
        key = (kind, arg, inputs)
        found = self._index.get(key)
        if found is None:
            found = self._index[key] = len(self.nodes)
            self.nodes.append(key)
        return found

    # -- leaves ---------------------------------------------------------------------------

    def theta(self, exponent: float) -> int:
        """theta ** exponent: gathered for a configured beta (or 2), else a product."""
        if exponent in self.betas or exponent == 2.0:
            return self.node("gather", exponent, (self.node("pairs"),))
        base = _base_exponent(exponent, self.betas)
        if base is None:
            raise ValueError(f"angular exponent {exponent} is no multiple of {self.betas}")
        return self.node("Tmul", None, (self.theta(_exponent(exponent - base)), self.theta(base)))

    def vertex(self, kappa: float, messages: list[int]) -> int:
        z = self.node("z", kappa)
        return self.node("y", None, (z, *sorted(messages))) if messages else z

    # -- matrices, with one node per array whichever way round it was built -------------------

    def _alternative(self, matrix: int) -> int:
        """The same-shaped node computing the transpose, built structurally."""
        kind, arg, inputs = self.nodes[matrix]
        if kind in self.SYMMETRIC:
            return matrix
        if kind == "S":
            m1, vector, m2 = inputs
            return self.node("S", None, (self.transpose(m2), vector, self.transpose(m1)))
        if kind == "H":
            return self.node("H", None, tuple(sorted(self.transpose(p) for p in inputs)))
        raise ValueError(f"node {matrix} ({kind}) is not a matrix")

    def transpose(self, matrix: int) -> int:
        kind, _, inputs = self.nodes[matrix]
        if kind == "t":
            return inputs[0]
        found = self._transposed.get(matrix)
        if found is None:
            alternative = self._alternative(matrix)
            found = matrix if alternative == matrix else self.node("t", None, (matrix,))
            self._transposed[matrix] = found
        return found

    def _canonical(self, raw: int) -> int:
        """raw, or the transpose of its alternative when that was built first (lower id)."""
        alternative = self._alternative(raw)
        if alternative == raw or raw < alternative:
            return raw
        return self.transpose(alternative)

    def series(self, m1: int, vector: int, m2: int) -> int:
        return self._canonical(self.node("S", None, (m1, vector, m2)))

    def hadamard(self, first: int, second: int) -> int:
        parts = []
        for matrix in (first, second):
            kind, _, inputs = self.nodes[matrix]
            parts.extend(inputs if kind == "H" else (matrix,))
        return self._canonical(self.node("H", None, tuple(sorted(parts))))

    # -- graphs ---------------------------------------------------------------------------

    def reduce(self, graph: EFPGraph, kappa: float, beta: float) -> int:
        """Scalar node computing EFP_graph at (kappa, beta), by variable elimination.

        Leaves go first (a matrix-vector product each), then vertices with two neighbours (a
        matrix product, c = 3); a core where every vertex has three or more neighbours (K4 and
        relatives, c = 4) is contracted by `_contract`. Among candidates the one whose result node
        already exists (lowest id) is taken, which maximises sharing between graphs.
        """
        neighbours: dict[int, dict[int, int]] = {v: {} for v in range(graph.n)}
        for (i, j), weight in zip(graph.edges, graph.weights, strict=True):
            theta = self.theta(_exponent(beta * weight))
            neighbours[i][j] = neighbours[j][i] = theta
        messages: dict[int, list[int]] = {v: [] for v in range(graph.n)}

        while len(neighbours) > 1:
            leaves = [
                (self.vertex(kappa, messages[v]), v) for v, nb in neighbours.items() if len(nb) == 1
            ]
            if leaves:
                vector, v = min(leaves)
                (u,) = neighbours[v]
                messages[u].append(self.node("m", None, (neighbours[u][v], vector)))
                del neighbours[u][v], neighbours[v], messages[v]
                continue
            candidates = []
            for v, nb in neighbours.items():
                if len(nb) == 2:
                    a, c = sorted(nb)
                    new = self.series(neighbours[a][v], self.vertex(kappa, messages[v]), nb[c])
                    if c in neighbours[a]:
                        new = self.hadamard(neighbours[a][c], new)
                    candidates.append((new, v, a, c))
            if not candidates:
                return self._core(kappa, neighbours, messages)
            new, v, a, c = min(candidates)
            neighbours[a][c] = new
            neighbours[c][a] = self.transpose(new)
            del neighbours[a][v], neighbours[c][v], neighbours[v], messages[v]
        (last,) = neighbours
        return self.node("sum", None, (self.vertex(kappa, messages[last]),))

    def _core(self, kappa: float, neighbours: dict, messages: dict) -> int:
        """Scalar node for a core where every vertex has three or more neighbours."""
        order = sorted(neighbours)
        local = {v: i for i, v in enumerate(order)}
        edges = tuple((local[v], local[u]) for v in order for u in sorted(neighbours[v]) if v < u)
        vectors = tuple(self.vertex(kappa, messages[v]) for v in order)
        matrices = tuple(neighbours[order[a]][order[b]] for a, b in edges)
        layout = total = None
        if len(order) == 4 and len(edges) == 6:  # K4: every c = 4 core up to d = 8
            layout, total = self._k4(vectors, matrices, edges)
        return self.node("core", (edges, layout, total), vectors + matrices)

    def _k4(self, vectors: tuple, matrices: tuple, edges: tuple) -> tuple[K4Layout, int]:
        """(layout, scalar node) of a K4 core as the sum over pairs (h, a) of v_h v_a E_ha
        times a pair form ("pairq", `grid.k4_pair_form`); among the most symmetric
        layouts, one whose pair form already exists is taken (shared between cores)."""

        def edge_key(x: int, y: int) -> int:
            if x < y:
                return matrices[edges.index((x, y))]
            return self.transpose(matrices[edges.index((y, x))])

        candidates = []
        for layout in k4_layouts(vectors, edge_key):
            h, a, c, m = layout.h, layout.a, layout.c, layout.m
            inputs = (vectors[c], vectors[m]) + tuple(
                edge_key(x, y) for x, y in ((h, c), (a, c), (c, m), (h, m), (a, m))
            )
            key = ("pairq", (layout.sym_ha, layout.sym_cm), inputs)
            candidates.append((key not in self._index, len(candidates), layout, key))
        _, _, layout, key = min(candidates)
        form = self.node(*key)
        h, a = layout.h, layout.a
        total = self.node("k4sum", None, (vectors[h], vectors[a], edge_key(h, a), form))
        return layout, total


def _matmul(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """left @ right; when right is broadcast along left's third-last axis, that axis is folded
    into the rows, so each event is one large matrix product instead of M small ones."""
    if left.ndim >= 4 and right.ndim == left.ndim and right.shape[-3] == 1 < left.shape[-3]:
        shape = left.shape
        rows = left.reshape(shape[:-3] + (shape[-3] * shape[-2], shape[-1]))
        return np.matmul(rows, right[..., 0, :, :]).reshape(shape[:-1] + (right.shape[-1],))
    return np.matmul(left, right)


def _contract(
    vectors: dict[int, np.ndarray], edges: dict[tuple[int, int], np.ndarray]
) -> np.ndarray:
    """Sum over all particle assignments of a small graph, numerically.

    vectors: vertex -> (..., M) weight; edges: (a, b) -> (..., M, M) matrix, rows indexed by a.
    Leading dimensions broadcast. Leaves and two-neighbour vertices are eliminated as in
    `_Plan.reduce`; when none is left, the vertex with most neighbours is conditioned on: its
    particle index becomes a new leading dimension (cost x M, memory x M), which turns its
    edges into vertex weights of its neighbours. Returns (...) values.
    """
    vectors = dict(vectors)
    neighbours: dict[int, dict[int, np.ndarray]] = {v: {} for v in vectors}
    for (a, b), matrix in edges.items():
        neighbours[a][b] = matrix
        neighbours[b][a] = np.swapaxes(matrix, -1, -2)
    while len(neighbours) > 1:
        leaf = next((v for v, nb in neighbours.items() if len(nb) == 1), None)
        if leaf is not None:
            (u,) = neighbours[leaf]
            message = np.matmul(neighbours[u][leaf], vectors[leaf][..., None])[..., 0]
            vectors[u] = vectors[u] * message
            del neighbours[u][leaf], neighbours[leaf], vectors[leaf]
            continue
        middle = next((v for v, nb in neighbours.items() if len(nb) == 2), None)
        if middle is not None:
            a, c = sorted(neighbours[middle])
            scaled = np.multiply(neighbours[a][middle], vectors[middle][..., None, :], order="C")
            new = _matmul(scaled, neighbours[middle][c])
            if c in neighbours[a]:
                new = new * neighbours[a][c]
            neighbours[a][c] = new
            neighbours[c][a] = np.swapaxes(new, -1, -2)
            del neighbours[a][middle], neighbours[c][middle], neighbours[middle], vectors[middle]
            continue
        hub = max(neighbours, key=lambda v: len(neighbours[v]))
        weight = vectors.pop(hub)
        rest_vectors = {}
        for v, vector in vectors.items():
            if v in neighbours[hub]:
                # item i of the new axis: the hub sits on particle i
                rest_vectors[v] = vector[..., None, :] * np.swapaxes(neighbours[v][hub], -1, -2)
            else:
                rest_vectors[v] = vector[..., None, :]
        rest_edges = {
            (a, b): matrix[..., None, :, :]
            for a, nb in neighbours.items()
            if a != hub
            for b, matrix in nb.items()
            if a < b and b != hub
        }
        return (_contract(rest_vectors, rest_edges) * weight).sum(axis=-1)
    (last,) = neighbours
    return vectors[last].sum(axis=-1)


def _convolved(nodes: list) -> list:
    """The plan's nodes with every leaf message ``gather(theta ** e) @ v`` replaced by a grid
    convolution node ("conv", e, (v,)); ids, hence the topological order, are unchanged."""
    out = list(nodes)
    for node, (kind, _, inputs) in enumerate(nodes):
        if kind == "m" and nodes[inputs[0]][0] == "gather":
            out[node] = ("conv", nodes[inputs[0]][1], (inputs[1],))
    return out


# ---------------------------------------------------------------------------------------------
# The engine
# ---------------------------------------------------------------------------------------------


def input_geometry(key: str) -> ImageGeometry | None:
    """The geometry of an EFP input key: an image's (``hepml.geometry.geometry_for``), or
    None for a particle list (``PARTICLE_KEYS``, e.g. the jets' constituents)."""
    return None if key in PARTICLE_KEYS else geometry_for(key)


def _d2_power(d2: np.ndarray, exponent: float) -> np.ndarray:
    """theta ** exponent from squared distances: theta ** 2 = d2 (a new array every time)."""
    if exponent == 2.0:
        return d2.copy()
    if exponent == 1.0:
        return np.sqrt(d2)
    return d2 ** (exponent / 2.0)


def particle_d2(positions: np.ndarray) -> np.ndarray:
    """(B, M, M) squared angular distances of particles at positions (B, M, 2) (eta, phi):
    d_eta ** 2 + d_phi ** 2 with d_phi taken the short way round (energyflow's
    ``_thetas2_from_yphis``)."""
    d_eta = positions[:, :, None, 0] - positions[:, None, :, 0]
    d_phi = np.abs(positions[:, :, None, 1] - positions[:, None, :, 1])
    d_phi = np.pi - np.abs(d_phi - np.pi)
    return d_eta**2 + d_phi**2


class EFPEngine:
    """Batched EFP evaluation for one input (an image geometry, or particle lists when geometry
    is None) and one (graphs x kappas x betas) grid.

    columns: (graph, kappa, beta) of every output column, in canonical order (graph by
    (n, d, k), then kappa ascending, then beta ascending).
    batch_elements: events per batch x (padded particles) ** 2, i.e. the size of one (B, M, M)
    matrix in float64 elements; bounds the memory of a batch (a few dozen matrices are alive
    at a time).
    cost_model: widths from which the exact fast paths of `hepml.efp.grid` are taken (K4
    cores per event, FFT leaf messages); the default is the one measured on one CPU thread.
    ``CostModel(k4_min_width=10**9)`` is the engine as it was before them. An event's path
    depends only on its own particle count (batches never straddle a threshold), so its values
    do not depend on the other events of the block.
    backend: "cpu" (numpy) or "gpu" (TensorFlow, float64, `hepml.efp.tf`; runs on a CPU when
    TensorFlow sees no GPU). Same plan, same values up to round-off.
    """

    def __init__(
        self,
        graphs: Sequence[EFPGraph],
        kappas: Sequence[float],
        betas: Sequence[float],
        geometry: ImageGeometry | None,
        batch_elements: int = 1 << 16,
        max_batch: int = 4096,
        cost_model: CostModel | None = None,
        backend: str = "cpu",
    ):
        if any(beta <= 0 for beta in betas):
            raise ValueError(f"betas must be > 0, got {list(betas)}")
        if backend not in BACKENDS:
            raise ValueError(f"EFP backend must be one of {BACKENDS}, got {backend!r}")
        self.cost_model = cost_model or CostModel()
        self.backend = backend
        self.geometry = geometry
        self.kappas = tuple(sorted({float(kappa) for kappa in kappas}))
        self.betas = tuple(sorted({_exponent(beta) for beta in betas}))
        self.graphs = tuple(sorted(graphs, key=lambda graph: graph.ndk))
        self.batch_elements = int(batch_elements)
        self.max_batch = int(max_batch)
        self.columns = tuple(
            (graph, kappa, beta)
            for graph in self.graphs
            for kappa in self.kappas
            for beta in self.betas
        )
        plan = _Plan(self.betas)
        outputs = [plan.reduce(graph, kappa, beta) for graph, kappa, beta in self.columns]
        self._nodes = plan.nodes
        self._outputs = outputs
        self._programs: dict[tuple[bool, bool], tuple[list, list, dict]] = {}
        self._sparse = self.program((False, False))
        self._steps = self._sparse[0]
        if geometry is not None:  # images: theta from a table of every pixel pair
            eta, phi = geometry.pixel_coordinates()
            eta, phi = eta.ravel(), phi.ravel()
            self._d2 = (eta[:, None] - eta[None, :]) ** 2 + (phi[:, None] - phi[None, :]) ** 2
        self._tables: dict[float, np.ndarray] = {}
        self._convolver: GridConvolver | None = None
        self._runner = None
        if backend == "gpu":
            from hepml.efp.tf import TFBatchRunner

            self._runner = TFBatchRunner(self)

    @property
    def particles(self) -> bool:
        """Whether the engine takes particle lists (no geometry) rather than images."""
        return self.geometry is None

    @property
    def n_pixels(self) -> int:
        return self.geometry.n_phi * self.geometry.n_eta

    @property
    def n_operations(self) -> int:
        """Batched array operations per batch, after sharing (a measure of the plan's size)."""
        return len(self._steps)

    def _compile(self, nodes: list, outputs: list[int]) -> tuple[list, list, dict]:
        """(steps, frees, output columns): the nodes the outputs need, in id order (a
        topological order), each with the earlier results it is the last user of."""
        needed = set(outputs)
        for node in range(len(nodes) - 1, -1, -1):
            if node in needed:
                needed.update(nodes[node][2])
        order = sorted(needed)
        position_of = {node: position for position, node in enumerate(order)}
        steps = []
        for node in order:
            kind, arg, inputs = nodes[node]
            steps.append((kind, arg, tuple(position_of[i] for i in inputs)))
        last_use: dict[int, int] = {}
        for position, (_, _, inputs) in enumerate(steps):
            for i in inputs:
                last_use[i] = position
        output_positions = [position_of[node] for node in outputs]
        keep = set(output_positions)
        free_after: list[list[int]] = [[] for _ in steps]
        for i, position in last_use.items():
            if i not in keep:
                free_after[position].append(i)
        columns_of: dict[int, list[int]] = {}
        for column, position in enumerate(output_positions):
            columns_of.setdefault(position, []).append(column)
        return steps, free_after, {p: np.array(columns) for p, columns in columns_of.items()}

    def program(self, paths: tuple[bool, bool]) -> tuple[list, list, dict]:
        """The compiled steps for a path key (K4 pair sums, FFT messages), built on first use:
        K4 cores become their "k4sum" nodes, leaf messages "conv" nodes."""
        found = self._programs.get(paths)
        if found is None:
            use_k4, use_fft = paths
            nodes = _convolved(self._nodes) if use_fft else self._nodes
            outputs = self._outputs
            if use_k4:
                outputs = [
                    node
                    if nodes[node][0] != "core" or nodes[node][1][2] is None
                    else nodes[node][1][2]
                    for node in outputs
                ]
            found = self._programs[paths] = self._compile(nodes, outputs)
        return found

    def path_key(self, width: int) -> tuple[bool, bool]:
        """Which exact paths a batch of padded width ``width`` takes: (K4 per event, FFT; the
        FFT needs a pixel grid, so never for particle lists)."""
        use_fft = self.cost_model.use_fft(width) and not self.particles
        return (self.cost_model.use_k4(width), use_fft)

    def _table(self, exponent: float) -> np.ndarray:
        """(P * P,) theta ** exponent for every ordered pixel pair (built once, then gathered)."""
        table = self._tables.get(exponent)
        if table is None:
            table = np.ascontiguousarray(_d2_power(self._d2, exponent)).ravel()
            self._tables[exponent] = table
        return table

    # -- evaluation -----------------------------------------------------------------------

    def pairs(self, positions: np.ndarray) -> np.ndarray:
        """The "pairs" node: (B, M, M) flat pixel-pair indices into the theta tables (images),
        or squared distances `particle_d2` (particle lists)."""
        if self.particles:
            return particle_d2(positions)
        return positions[:, :, None] * self.n_pixels + positions[:, None, :]

    def theta(self, exponent: float, pairs: np.ndarray) -> np.ndarray:
        """The "gather" node: (B, M, M) theta ** exponent of the "pairs" node's value."""
        if self.particles:
            return _d2_power(pairs, exponent)
        return np.take(self._table(exponent), pairs)

    def _run_batch(self, pixels: np.ndarray, et: np.ndarray, mask: np.ndarray) -> np.ndarray:
        """EFPs of one padded batch.

        pixels: (B, M) flat pixel index of each particle (any valid index on padding), or for
        particle lists (B, M, 2) (eta, phi) (anything finite on padding).
        et: (B, M) normalised ET (0 on padding). mask: (B, M) True for real particles.
        Returns (B, n_columns) float64.
        """
        if self._runner is not None:
            return self._runner.run(pixels, et, mask)
        width = et.shape[1]
        use_k4, use_fft = self.path_key(width)
        steps, free_after, output_columns = self.program((use_k4, use_fft))
        out = np.empty((len(et), len(self.columns)))
        values: list = [None] * len(steps)
        for position, (kind, arg, inputs) in enumerate(steps):
            args = [values[i] for i in inputs]
            if kind == "m":
                value = np.matmul(args[0], args[1][:, :, None])[:, :, 0]
            elif kind in ("y", "H", "Tmul"):
                value = args[0] * args[1]
                for extra in args[2:]:
                    value *= extra
            elif kind == "S":
                value = np.matmul(args[0] * args[1][:, None, :], args[2])
            elif kind == "sum":
                value = args[0].sum(axis=1)
            elif kind == "t":
                value = np.swapaxes(args[0], 1, 2)
            elif kind == "gather":
                value = self.theta(arg, args[0])
            elif kind == "z":
                if arg == 0.0:
                    value = mask.astype(np.float64)
                elif arg == 1.0:
                    value = et
                else:
                    value = np.zeros_like(et)
                    np.power(et, arg, out=value, where=mask)
            elif kind == "pairs":
                value = self.pairs(pixels)
            elif kind == "core":
                value = self._core(arg, args)
            elif kind == "pairq":
                value = k4_pair_forms(arg, args)
            elif kind == "k4sum":
                value = np.einsum("bh,ba,bha,bha->b", *args)
            elif kind == "conv":
                if self._convolver is None:
                    self._convolver = GridConvolver(self.geometry)
                value = self._convolver.matvec(arg, args[0], pixels, mask)
            else:  # pragma: no cover - _Plan only builds the kinds above
                raise AssertionError(kind)
            values[position] = value
            columns = output_columns.get(position)
            if columns is not None:
                out[:, columns] = value[:, None]
            for done in free_after[position]:
                values[done] = None
        return out

    def _core(self, arg: tuple, arrays: list[np.ndarray]) -> np.ndarray:
        """A core contraction (c = 4) conditioned on one vertex (narrow batches; wide ones take
        the K4 pair sums), in slices of events so that its (b, M, M, M) steps stay within a
        few times batch_elements."""
        edges = arg[0]
        n_vertices = len(arrays) - len(edges)
        n_events, width = arrays[0].shape
        rows = max(1, 4 * self.batch_elements // max(width, 1) ** 3)
        parts = []
        for i in range(0, n_events, rows):
            vectors = {v: arrays[v][i : i + rows] for v in range(n_vertices)}
            matrices = {edge: arrays[n_vertices + j][i : i + rows] for j, edge in enumerate(edges)}
            parts.append(_contract(vectors, matrices))
        return np.concatenate(parts)

    def compute(
        self,
        events: np.ndarray,
        *,
        block_size: int = 2048,
        source: str = "images",
        progress: Callable[[int], None] | None = None,
        first_event: int = 0,
    ) -> tuple[np.ndarray, int]:
        """EFPs of every event.

        events: images (N, n_phi, n_eta) or (N, n_phi, n_eta, 1), ET in GeV (any scale: each
        image is normalised to sum 1), for an engine with a geometry; particle lists
        (N, P, 3) (weight, eta, phi), weight 0 on padding rows (any scale: normalised to sum 1
        per event), for an engine without one. May be a memory map: it is read ``block_size``
        events at a time.
        source: text naming the input in error messages (file and key).
        progress: called with the number of events finished (empty ones count as finished)
            after each batch.
        first_event: the number of events[0] in source, for error messages (a chunk's slice).
        Returns (values (N, n_columns) float64, number of empty events). Empty events (no
        non-zero pixel, no particle) get 0 for every EFP: the sums run over no particle.
        """
        shape = tuple(events.shape[1:])
        if self.particles:
            if len(shape) != 2 or shape[1] != 3:
                raise ValueError(
                    f"{source}: expected particle lists of shape (N, particles, 3) "
                    f"(weight, eta, phi), got {tuple(events.shape)}"
                )
        elif shape not in (self.geometry.shape, self.geometry.shape + (1,)):
            raise ValueError(
                f"{source}: expected images of shape (N, {self.geometry.n_phi}, "
                f"{self.geometry.n_eta}[, 1]) for geometry {self.geometry.name!r}, "
                f"got {tuple(events.shape)}"
            )
        n_events = len(events)
        result = np.zeros((n_events, len(self.columns)))
        n_empty = 0
        for start in range(0, n_events, block_size):
            stop = min(start + block_size, n_events)
            block = np.asarray(events[start:stop], dtype=np.float64)
            where = first_event + start
            if self.particles:
                rows, positions, et = _particle_entries(block, source, where)
            else:
                rows, positions, et = _pixel_entries(block.reshape(stop - start, -1), source, where)
            n_empty += self._compute_block(rows, positions, et, result[start:stop], start, progress)
        return result, n_empty

    def _compute_block(
        self,
        rows: np.ndarray,
        positions: np.ndarray,
        et: np.ndarray,
        out: np.ndarray,
        offset: int,
        progress: Callable[[int], None] | None,
    ) -> int:
        """Fill out (Nb, n_columns) from the particles of Nb events (events offset.. of the
        input): rows (n,) the event of each particle, in event order; positions (n,) pixel
        index or (n, 2) (eta, phi); et (n,) > 0. Returns the number of empty events. progress
        gets the events done after each batch."""
        counts = np.bincount(rows, minlength=len(out))
        et = et / np.bincount(rows, weights=et, minlength=len(out))[rows]
        starts = np.concatenate(([0], np.cumsum(counts)[:-1]))
        order = np.argsort(counts, kind="stable")
        order = order[counts[order] > 0]
        position = 0
        while position < len(order):
            end = position + 1
            paths = self.path_key(int(counts[order[position]]))
            while (
                end < len(order)
                and end - position < self.max_batch
                and (end - position + 1) * counts[order[end]] ** 2 <= self.batch_elements
                and self.path_key(int(counts[order[end]])) == paths
            ):
                end += 1
            events = order[position:end]
            width = int(counts[events[-1]])
            slots = np.arange(width)
            mask = slots[None, :] < counts[events][:, None]
            where = np.where(mask, starts[events][:, None] + slots[None, :], 0)
            padded = positions[where]
            padded[~mask] = 0
            out[events] = self._run_batch(padded, np.where(mask, et[where], 0.0), mask)
            position = end
            if progress is not None:
                progress(offset + len(out) - len(order) + position)
        if progress is not None:
            progress(offset + len(out))
        return int(np.count_nonzero(counts == 0))


def _pixel_entries(flat: np.ndarray, source: str, offset: int):
    """(event, pixel index, ET) of every non-zero pixel of flat (Nb, P) images, in event order;
    ValueError naming the event and pixel of a negative or non-finite ET."""
    bad = ~np.isfinite(flat) | (flat < 0)
    if bad.any():
        event, pixel = np.argwhere(bad)[0]
        raise ValueError(
            f"{source}: event {offset + event} pixel {pixel} has ET {flat[event, pixel]}; "
            "expected finite values >= 0"
        )
    rows, pixels = np.nonzero(flat)
    return rows, pixels, flat[rows, pixels]


def _particle_entries(block: np.ndarray, source: str, offset: int):
    """(event, (eta, phi), weight) of every particle (weight > 0) of particle lists (Nb, P, 3),
    in event order; ValueError naming the event and particle of a negative or non-finite
    weight, or of non-finite coordinates of a particle."""
    weight = block[:, :, 0]
    bad = ~np.isfinite(weight) | (weight < 0)
    bad |= (weight > 0) & ~np.isfinite(block[:, :, 1:]).all(axis=2)
    if bad.any():
        event, particle = np.argwhere(bad)[0]
        raise ValueError(
            f"{source}: event {offset + event} particle {particle} is "
            f"{block[event, particle].tolist()}; expected a finite weight >= 0 and finite "
            "(eta, phi)"
        )
    rows, slots = np.nonzero(weight)
    return rows, block[rows, slots, 1:], weight[rows, slots]


def _progress_reporter(total: int, label: str) -> tuple[Callable[[int], None], Callable[[], None]]:
    """A progress bar on a terminal, otherwise a log line about every 10 % of the events."""
    if sys.stderr.isatty():
        from tqdm import tqdm

        bar = tqdm(total=total, desc=label, unit="event")
        done = [0]

        def update(finished: int) -> None:
            bar.update(finished - done[0])
            done[0] = finished

        return update, bar.close
    step = max(total // 10, 1)
    next_report = [step]
    start = time.perf_counter()

    def report(finished: int) -> None:
        if finished >= next_report[0]:
            elapsed = time.perf_counter() - start
            log.info("%s: %d / %d events (%.0f s)", label, finished, total, elapsed)
            next_report[0] = total + 1 if finished >= total else (finished // step + 1) * step

    return report, lambda: None


def _engines(
    geometries: Mapping[str, ImageGeometry | None], settings: EFPSettings
) -> dict[str, EFPEngine]:
    """One engine per input key of settings (graphs, exponents and backend of the settings);
    a key whose geometry is None takes particle lists."""
    graphs = select_graphs(settings.graphs)
    engines = {}
    for key in settings.images:
        engine = EFPEngine(
            graphs,
            settings.kappas,
            settings.betas,
            geometries[key],
            settings.batch_elements,
            backend=settings.backend,
        )
        log.info(
            "%s: %d graphs x %d kappas x %d betas = %d EFPs, %d batched operations per batch (%s)",
            key,
            len(graphs),
            len(engine.kappas),
            len(engine.betas),
            len(engine.columns),
            engine.n_operations,
            settings.backend,
        )
        engines[key] = engine
    return engines


def iter_efp_blocks(
    images: Mapping[str, np.ndarray],
    geometries: Mapping[str, ImageGeometry | None],
    settings: EFPSettings,
    rows: int = 4096,
    sources: Mapping[str, str] | None = None,
    first_event: int = 0,
) -> Iterator[tuple[int, int, np.ndarray]]:
    """The EFP table in blocks of rows: yields (start, stop, values (stop - start, n_columns)
    float64) for consecutive event ranges covering all events.

    Arguments as `compute_efp_table`; images may be memory maps (only ``rows`` events of each
    key are read at a time). Columns are `efp_names(settings)`, in that order. Empty events get
    0 for every EFP; their count per key is logged after the last block. first_event: the
    number of the first event in its file (a chunk's slice), so that a bad event is named by
    its number there.
    """
    if rows < 1:
        raise ValueError(f"rows must be >= 1, got {rows}")
    sources = dict(sources or {})
    lengths = {key: len(images[key]) for key in settings.images}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"image keys hold different numbers of events: {lengths}")
    n_events = lengths[settings.images[0]]
    engines = _engines(geometries, settings)
    n_empty = dict.fromkeys(engines, 0)
    reporters = {key: _progress_reporter(n_events, f"EFPs {key}") for key in engines}
    for start in range(0, n_events, rows):
        stop = min(start + rows, n_events)
        parts = []
        for key, engine in engines.items():
            report = reporters[key][0]
            values, empty = engine.compute(
                images[key][start:stop],
                source=sources.get(key, key),
                progress=lambda done, report=report, start=start: report(start + done),
                first_event=first_event + start,
            )
            n_empty[key] += empty
            parts.append(values)
        yield start, stop, np.concatenate(parts, axis=1)
    for key in engines:
        reporters[key][1]()
        if n_empty[key]:
            log.warning(
                "%s: %d of %d %s are empty; all their EFPs are set to 0",
                key,
                n_empty[key],
                n_events,
                "particle lists" if engines[key].particles else "images",
            )


def compute_efp_table(
    images: Mapping[str, np.ndarray],
    geometries: Mapping[str, ImageGeometry | None],
    settings: EFPSettings,
    sources: Mapping[str, str] | None = None,
) -> pd.DataFrame:
    """EFP table of a set of events: one float64 column per EFP, canonical names and order.

    images: key -> (N, n_phi, n_eta[, 1]) ET images, or (N, P, 3) particle lists, of the same
    N events, for every key of settings.images (ECal and HCal are computed separately, names
    prefixed by the key).
    geometries: key -> its ImageGeometry, None for particle lists (`input_geometry`).
    sources: key -> text naming the input in messages (defaults to the key).
    Rows keep the event order. Empty events get 0 for every EFP; their count is logged.
    `iter_efp_blocks` gives the same values in bounded blocks of rows.
    """
    names = efp_names(settings)
    n_events = len(images[settings.images[0]])
    values = np.zeros((n_events, len(names)))
    for start, stop, block in iter_efp_blocks(
        images, geometries, settings, rows=max(n_events, 1), sources=sources
    ):
        values[start:stop] = block
    return pd.DataFrame(values, columns=names)


# ---------------------------------------------------------------------------------------------
# Names of the grid
# ---------------------------------------------------------------------------------------------


def efp_names(settings: EFPSettings) -> list[str]:
    """Canonical names of every EFP of the grid, in canonical (column) order: image in config
    order, then graph by (n, d, k), kappa ascending, beta ascending."""
    graphs = select_graphs(settings.graphs)
    return [
        efp_name(image, graph.n, graph.d, graph.k, kappa, beta)
        for image in settings.images
        for graph in graphs
        for kappa in sorted(set(settings.kappas))
        for beta in sorted({_exponent(beta) for beta in settings.betas})
    ]
