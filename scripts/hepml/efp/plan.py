"""The planner of the EFP engine: every (graph, kappa, beta) reduced once, symbolically, by
variable elimination into interned nodes (docs/efp_engine.md "How it works").

Every array the engine computes is a node (kind, argument, input node ids), interned so that an
expression built twice (in two graphs, or for two kappas or betas) is one node, computed once
per batch. Shapes per batch of B events padded to M particles:
  vectors (B, M):     z        z_i = ET_i ** kappa (0 on padding)
                      y        z * the message vectors of the vertex
                      m        matrix @ vector (a leaf eliminated)
  matrices (B, M, M): gather   theta ** e, gathered from the pixel-pair table
                      Tmul     theta ** e as a product of two gathered powers
                      S        m1 @ diag(vector) @ m2 (a vertex with two neighbours eliminated)
                      H        elementwise product (parallel reduced edges)
                      t        transpose
  scalars (B,):       sum      sum over particles of the last vertex's vector
                      core     a core with no leaf and no 2-neighbour vertex (`contract`)
                      k4sum    the same K4 core as sum_{h,a} v_h v_a E_ha pairq (wide batches)
  pair forms (B,M,M): pairq    `k4.k4_pair_form`, shared by K4 cores that differ only
                               in v_h, v_a, E_ha (the engine's wide-batch program)
  pairs (B, M, M):    flat index of each particle pair into the pixel-pair tables
"""

from __future__ import annotations

from collections.abc import Sequence

from hepml.efp.graphs import EFPGraph
from hepml.efp.k4 import K4Layout, k4_layouts


def round_exponent(value: float) -> float:
    """Round an angular exponent so that 0.5 * 3 and 1.5 give the same node."""
    return float(f"{value:.12g}")


def _base_exponent(exponent: float, betas: Sequence[float]) -> float | None:
    """The largest configured beta whose integer multiple (>= 2) is exponent, if any."""
    for beta in sorted(betas, reverse=True):
        ratio = exponent / beta
        if ratio > 1.5 and abs(ratio - round(ratio)) < 1e-9:
            return beta
    return None


class Plan:
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
        return self.node(
            "Tmul", None, (self.theta(round_exponent(exponent - base)), self.theta(base))
        )

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
        relatives, c = 4) is contracted by `contract`. Among candidates the one whose result node
        already exists (lowest id) is taken, which maximises sharing between graphs.
        """
        neighbours: dict[int, dict[int, int]] = {v: {} for v in range(graph.n)}
        for (i, j), weight in zip(graph.edges, graph.weights, strict=True):
            theta = self.theta(round_exponent(beta * weight))
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
        times a pair form ("pairq", `k4.k4_pair_form`); among the most symmetric
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
