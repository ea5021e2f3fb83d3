"""The batched engine of Energy Flow Polynomials of calorimeter cells or particle lists.

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

The package, by concern: `graphs` (energyflow's prime multigraphs, chosen with energyflow
selection lists), `settings` (the ``efp`` config block), `plan` (the symbolic reduction into
shared nodes), `kernels` and `k4` (the numpy kernels and the exact K4 fast path with its cost
model), this module (batches and their evaluation), `progress`, `table` (chunk bounds, column
names, the table in blocks of rows), `tf` (the TensorFlow backend). Names are canonical
(`hepml.efp.names`); duplicates and single-EFP AUCs are in `hepml.efp.duplicates`.

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

from collections.abc import Callable, Sequence

import numpy as np

from hepml.efp.graphs import EFPGraph
from hepml.efp.k4 import CostModel, k4_pair_forms
from hepml.efp.kernels import contract, d2_power, particle_d2
from hepml.efp.plan import Plan, round_exponent
from hepml.efp.settings import BACKENDS
from hepml.geometry import PARTICLE_KEYS, ImageGeometry, geometry_for


def input_geometry(key: str) -> ImageGeometry | None:
    """The geometry of an EFP input key: an image's (``hepml.geometry.geometry_for``), or
    None for a particle list (``PARTICLE_KEYS``, e.g. the jets' constituents)."""
    return None if key in PARTICLE_KEYS else geometry_for(key)


class EFPEngine:
    """Batched EFP evaluation for one input (an image geometry, or particle lists when geometry
    is None) and one (graphs x kappas x betas) grid.

    columns: (graph, kappa, beta) of every output column, in canonical order (graph by
    (n, d, k), then kappa ascending, then beta ascending).
    batch_elements: events per batch x (padded particles) ** 2, i.e. the size of one (B, M, M)
    matrix in float64 elements; bounds the memory of a batch (a few dozen matrices are alive
    at a time).
    cost_model: the width from which the exact K4 fast path of `hepml.efp.k4` is taken (K4
    cores as pair forms, per event); the default is the one measured on one CPU thread.
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
        self.betas = tuple(sorted({round_exponent(beta) for beta in betas}))
        self.graphs = tuple(sorted(graphs, key=lambda graph: graph.ndk))
        self.batch_elements = int(batch_elements)
        self.max_batch = int(max_batch)
        self.columns = tuple(
            (graph, kappa, beta)
            for graph in self.graphs
            for kappa in self.kappas
            for beta in self.betas
        )
        plan = Plan(self.betas)
        outputs = [plan.reduce(graph, kappa, beta) for graph, kappa, beta in self.columns]
        self._nodes = plan.nodes
        self._outputs = outputs
        self._programs: dict[bool, tuple[list, list, dict]] = {}
        self._sparse = self.program(False)
        self._steps = self._sparse[0]
        if geometry is not None:  # images: theta from a table of every pixel pair
            eta, phi = geometry.pixel_coordinates()
            eta, phi = eta.ravel(), phi.ravel()
            self._d2 = (eta[:, None] - eta[None, :]) ** 2 + (phi[:, None] - phi[None, :]) ** 2
        self._tables: dict[float, np.ndarray] = {}
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

    def program(self, use_k4: bool) -> tuple[list, list, dict]:
        """The compiled steps with or without the K4 pair sums, built on first use: with them,
        K4 cores become their "k4sum" nodes."""
        found = self._programs.get(use_k4)
        if found is None:
            nodes = self._nodes
            outputs = self._outputs
            if use_k4:
                outputs = [
                    node
                    if nodes[node][0] != "core" or nodes[node][1][2] is None
                    else nodes[node][1][2]
                    for node in outputs
                ]
            found = self._programs[use_k4] = self._compile(nodes, outputs)
        return found

    def path_key(self, width: int) -> bool:
        """Whether a batch of padded width ``width`` takes the K4 pair sums (per event)."""
        return self.cost_model.use_k4(width)

    def _table(self, exponent: float) -> np.ndarray:
        """(P * P,) theta ** exponent for every ordered pixel pair (built once, then gathered)."""
        table = self._tables.get(exponent)
        if table is None:
            table = np.ascontiguousarray(d2_power(self._d2, exponent)).ravel()
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
            return d2_power(pairs, exponent)
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
        steps, free_after, output_columns = self.program(self.path_key(width))
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
            else:  # pragma: no cover - Plan only builds the kinds above
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
            parts.append(contract(vectors, matrices))
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
