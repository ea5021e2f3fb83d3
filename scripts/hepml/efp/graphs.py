"""EFP graphs: energyflow's prime (connected) multigraphs, chosen with energyflow selection
lists (docs/efp_engine.md; electron paper, arXiv:2011.01984, section IV).

energyflow is imported inside the functions that read its tables, so that importing this module
(and name parsing, `hepml.efp.names`) does not need it.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass


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
