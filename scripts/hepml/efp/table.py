"""The EFP table of a set of events: chunk bounds, canonical column names, one engine per input
key, and the table in blocks of rows (docs/efp_engine.md)."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping

import numpy as np
import pandas as pd

from hepml.efp.engine import EFPEngine
from hepml.efp.graphs import select_graphs
from hepml.efp.names import efp_name
from hepml.efp.plan import round_exponent
from hepml.efp.progress import progress_reporter
from hepml.efp.settings import EFPSettings
from hepml.geometry import ImageGeometry

log = logging.getLogger(__name__)


def chunk_bounds(n_events: int, n_chunks: int, chunk: int) -> tuple[int, int]:
    """Event range [start, stop) of chunk ``chunk`` (0-based) when splitting n_events evenly."""
    if not 0 <= chunk < n_chunks:
        raise ValueError(f"chunk {chunk} outside 0..{n_chunks - 1}")
    edges = np.linspace(0, n_events, n_chunks + 1).round().astype(int)
    return int(edges[chunk]), int(edges[chunk + 1])


def efp_names(settings: EFPSettings) -> list[str]:
    """Canonical names of every EFP of the grid, in canonical (column) order: image in config
    order, then graph by (n, d, k), kappa ascending, beta ascending."""
    graphs = select_graphs(settings.graphs)
    return [
        efp_name(image, graph.n, graph.d, graph.k, kappa, beta)
        for image in settings.images
        for graph in graphs
        for kappa in sorted(set(settings.kappas))
        for beta in sorted({round_exponent(beta) for beta in settings.betas})
    ]


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
    reporters = {key: progress_reporter(n_events, f"EFPs {key}") for key in engines}
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
