"""numpy kernels of the EFP engine that are not single array operations: the numerical
contraction of a core conditioned on one vertex, and theta ** e from squared angular distances
(docs/efp_engine.md)."""

from __future__ import annotations

import numpy as np


def _matmul(left: np.ndarray, right: np.ndarray) -> np.ndarray:
    """left @ right; when right is broadcast along left's third-last axis, that axis is folded
    into the rows, so each event is one large matrix product instead of M small ones."""
    if left.ndim >= 4 and right.ndim == left.ndim and right.shape[-3] == 1 < left.shape[-3]:
        shape = left.shape
        rows = left.reshape(shape[:-3] + (shape[-3] * shape[-2], shape[-1]))
        return np.matmul(rows, right[..., 0, :, :]).reshape(shape[:-1] + (right.shape[-1],))
    return np.matmul(left, right)


def contract(
    vectors: dict[int, np.ndarray], edges: dict[tuple[int, int], np.ndarray]
) -> np.ndarray:
    """Sum over all particle assignments of a small graph, numerically.

    vectors: vertex -> (..., M) weight; edges: (a, b) -> (..., M, M) matrix, rows indexed by a.
    Leading dimensions broadcast. Leaves and two-neighbour vertices are eliminated as in
    `Plan.reduce`; when none is left, the vertex with most neighbours is conditioned on: its
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
        return (contract(rest_vectors, rest_edges) * weight).sum(axis=-1)
    (last,) = neighbours
    return vectors[last].sum(axis=-1)


def d2_power(d2: np.ndarray, exponent: float) -> np.ndarray:
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
