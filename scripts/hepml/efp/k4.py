"""The exact K4 fast path of the EFP engine (hepml.efp.engine) for large particle counts.

The c = 4 cores dominate `hepml.efp.engine.EFPEngine` once images hold more than a few dozen
non-zero pixels (measured, docs/efp_engine.md): every prime graph with c = 4 up to d = 8
reduces to a complete graph K4 on four vertices, with vertex vectors and edge matrices built
by the plan, M ** 4 per event.

`K4Layout` / `k4_pair_form` evaluate a K4 core as a sum over vertex pairs (h, a) of v_h v_a
E_ha times a pair form q(h, a), a quadratic form over the two other vertices: four-fold fewer
multiply-adds than conditioning on one vertex when the core is as symmetric as plain K4, done
as large matrix products, and one pair form serves every core that differs only in v_h, v_a
or E_ha (the paper's 23 K4 cores per (kappa, beta) need 6 pair forms).

It is an exact rewriting (only the order of floating-point additions changes); every quantity
summed is >= 0 (z > 0, theta >= 0), so the relative error of a sum is at most that of its
terms. `CostModel` holds the width (padded particles per event) from which the path is
faster, measured once by benchmarks/bench_efp_engine.py on one CPU thread. (An FFT path for
leaf messages was removed: with its rigorous round-off guard it never beat the gathered
product, docs/efp_engine.md "Removed".)
"""

from __future__ import annotations

import itertools
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np


@dataclass(frozen=True)
class CostModel:
    """Where the exact K4 path is the cheapest, as a padded particle count M (width) per event.

    k4_min_width: from this width on, K4 cores are sums over pairs of shared pair forms
        (`k4_pair_form`, per event); below it, batched conditioning on one vertex wins (the
        per-event loop costs more than the work). Measured on the paper's c = 4 graphs: the
        pair forms are slower below 13 particles, faster above (x1.4 at 16, x4 at 56).
    Measured with one thread (docs/efp_engine.md).
    """

    k4_min_width: int = 14

    def use_k4(self, width: int) -> bool:
        return width >= self.k4_min_width


# ---------------------------------------------------------------------------------------------
# K4 cores
# ---------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class K4Layout:
    """Roles of the four core vertices in `k4_contract`.

    EFP = sum_{h, a} v_h v_a E_ha q(h, a),  q(h, a) = sum_{c, m} L_ha[c] E_cm[c, m] R_ha[m],
    L_ha[c] = v_c E_hc[h, c] E_ac[a, c],   R_ha[m] = v_m E_hm[h, m] E_am[a, m].
    sym_ha: q(h, a) = q(a, h) (E_hc is E_ac and E_hm is E_am), so only pairs h <= a are formed.
    sym_cm: L = R and E_cm symmetric, so only half of the quadratic form is multiplied.
    """

    h: int
    a: int
    c: int
    m: int
    sym_ha: bool
    sym_cm: bool


def k4_layouts(
    vertex_key: Sequence[object], edge_key: Callable[[int, int], object]
) -> list[K4Layout]:
    """Every most symmetric assignment of roles, from the node identities of the core, in
    lexicographic order of (h, a, c, m) (the plan picks the one whose pair form it has already
    built, else the first).

    vertex_key[v]: identity of vertex v's vector; edge_key(x, y): identity of the edge matrix
    with rows indexed by x (so edge_key(y, x) is that of its transpose). Equal identities mean
    equal arrays.
    """
    scored = []
    for h, a, c, m in itertools.permutations(range(4)):
        sym_ha = edge_key(h, c) == edge_key(a, c) and edge_key(h, m) == edge_key(a, m)
        sym_cm = (
            vertex_key[c] == vertex_key[m]
            and edge_key(h, c) == edge_key(h, m)
            and edge_key(a, c) == edge_key(a, m)
            and edge_key(c, m) == edge_key(m, c)
        )
        scored.append((int(sym_ha) + int(sym_cm), K4Layout(h, a, c, m, sym_ha, sym_cm)))
    best = max(score for score, _ in scored)
    return [layout for score, layout in scored if score == best]


def k4_layout(vertex_key: Sequence[object], edge_key: Callable[[int, int], object]) -> K4Layout:
    """The first of `k4_layouts`."""
    return k4_layouts(vertex_key, edge_key)[0]


def k4_pair_form(
    v_c: np.ndarray,
    v_m: np.ndarray,
    e_hc: np.ndarray,
    e_ac: np.ndarray,
    e_cm: np.ndarray,
    e_hm: np.ndarray,
    e_am: np.ndarray,
    sym_ha: bool,
    sym_cm: bool,
    budget: int = 1 << 18,
) -> np.ndarray:
    """(M, M) q[h, a] = sum_{c, m} L_ha[c] e_cm[c, m] R_ha[m] of one event (`K4Layout`).

    Vectors (M,), matrices (M, M) with rows indexed by the first role named. The pair form does
    not depend on v_h, v_a or E_ha, so K4 cores that differ only there (a doubled h-a edge, a
    leaf on h) share it: the plan builds it once. With sym_ha only pairs h <= a are formed (the
    rest is the transpose); with sym_cm half of each quadratic form is multiplied, by column
    tiles. budget: float64 elements of the largest temporary (rows of pairs are cut to fit;
    about a core's second-level cache is fastest). Cost: M ** 4 / 4 multiply-adds in matrix
    products with both shortcuts, M ** 4 with none; memory O(budget + M ** 2).
    """
    width = len(v_c)
    e_acv = e_ac * v_c
    if not sym_cm:
        e_amv = e_am * v_m
    rows = max(1, budget // max(width * width, 1))
    tile = max(16, min(128, width // 4 or 1))
    form = np.zeros((width, width))
    for h0 in range(0, width, rows):
        h1 = min(h0 + rows, width)
        a0 = h0 if sym_ha else 0
        left = (e_hc[h0:h1, None, :] * e_acv[None, a0:, :]).reshape(-1, width)
        if sym_cm:
            q = np.zeros(len(left))
            for c0 in range(0, width, tile):
                c1 = min(c0 + tile, width)
                product = left[:, c0:c1] @ e_cm[c0:c1, c0:]
                q += np.einsum("ij,ij->i", product[:, : c1 - c0], left[:, c0:c1])
                q += 2.0 * np.einsum("ij,ij->i", product[:, c1 - c0 :], left[:, c1:])
        else:
            right = (e_hm[h0:h1, None, :] * e_amv[None, a0:, :]).reshape(-1, width)
            q = np.einsum("ij,ij->i", left @ e_cm, right)
        form[h0:h1, a0:] = q.reshape(h1 - h0, width - a0)
    if sym_ha:
        form = np.triu(form) + np.triu(form, 1).T
    return form


def k4_pair_forms(flags: tuple[bool, bool], arrays: Sequence[np.ndarray]) -> np.ndarray:
    """(B, M, M) `k4_pair_form` of every event of a batch; arrays: v_c, v_m (B, M) and
    e_hc, e_ac, e_cm, e_hm, e_am (B, M, M)."""
    return np.stack(
        [k4_pair_form(*(x[event] for x in arrays), *flags) for event in range(len(arrays[0]))]
    )


def k4_contract(
    vectors: Sequence[np.ndarray],
    matrix: Callable[[int, int], np.ndarray],
    layout: K4Layout,
    budget: int = 1 << 18,
) -> float:
    """Sum over all assignments of M particles to the four vertices of a K4 core, one event:
    sum_{h, a} v_h v_a E_ha q[h, a] with q the `k4_pair_form`.

    vectors[v]: (M,) weight of vertex v; matrix(x, y): (M, M) edge matrix, rows indexed by x.
    """
    h, a, c, m = layout.h, layout.a, layout.c, layout.m
    form = k4_pair_form(
        vectors[c],
        vectors[m],
        matrix(h, c),
        matrix(a, c),
        matrix(c, m),
        matrix(h, m),
        matrix(a, m),
        layout.sym_ha,
        layout.sym_cm,
        budget,
    )
    return float(np.einsum("h,a,ha,ha->", vectors[h], vectors[a], matrix(h, a), form))


def k4_contract_batch(
    vectors: Sequence[np.ndarray],
    edges: Sequence[tuple[int, int]],
    matrices: Sequence[np.ndarray],
    layout: K4Layout,
    budget: int = 1 << 18,
) -> np.ndarray:
    """(B,) K4 core sums of a batch: vectors[v] (B, M), matrices[j] (B, M, M) for edges[j]
    (rows indexed by its first vertex), each event by `k4_contract`."""
    position = {edge: j for j, edge in enumerate(edges)}
    out = np.empty(len(vectors[0]))
    for event in range(len(out)):

        def matrix(x: int, y: int, event: int = event) -> np.ndarray:
            if (x, y) in position:
                return matrices[position[(x, y)]][event]
            return matrices[position[(y, x)]][event].T

        out[event] = k4_contract([v[event] for v in vectors], matrix, layout, budget)
    return out
