"""The EFP stage's rules (rules/efp.smk): compute_efps, gather_efps, deduplicate_efps,
single_efp_auc, draw_efps, draw_efp_gallery.

Every step streams the EFP table (``hepml.io.efp_store``): no step holds more than one block of
``efp.storage.block_rows x block_columns`` values of the grid at a time, plus the columns it
asked for, so widening the grid or lengthening the splits changes time and disk, not memory.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from pathlib import Path

import numpy as np
import pandas as pd

from hepml import io
from hepml.efp.duplicates import find_duplicate_efps, single_efp_aucs
from hepml.efp.engine import input_geometry
from hepml.efp.names import parse_efp_name
from hepml.efp.settings import EFPSettings, storage_settings
from hepml.efp.table import chunk_bounds, efp_names, iter_efp_blocks
from hepml.io import efp_store

log = logging.getLogger(__name__)


def read_kept(path: str | Path) -> list[str]:
    """Kept EFP names from kept.txt (one canonical name per line); ValueError names the line."""
    names = [line.strip() for line in Path(path).read_text().splitlines() if line.strip()]
    for number, name in enumerate(names, start=1):
        try:
            parse_efp_name(name)
        except ValueError as error:
            raise ValueError(f"{path}, line {number}: {error}") from None
    return names


def compute_efps(
    inputs: Mapping, outputs: Mapping, params: Mapping, *, chunk: int | str, threads: int = 1
) -> int:
    """EFPs of one chunk (an event range) of one split -> ``outputs["chunk"]``, a chunk
    directory of column blocks.

    inputs: efp input key -> Feather array of the split (memory-mapped; only the chunk's
    events are read): an image key, or a particle list (the jets' constituents, EFPs on the
    particles: `hepml.efp.engine.input_geometry`). params settings: the efp block
    (`EFPSettings`). The chunk is computed in row blocks of at most
    ``storage.rows_for(n_columns)`` events and each block is appended to the chunk's files at
    once, so memory holds one row block of the grid whatever the chunk's length. threads: BLAS
    threads (chunks, not threads, are the unit of parallelism). Returns the events written.
    """
    from threadpoolctl import threadpool_limits

    settings = EFPSettings.from_config(params["settings"])
    image_paths = {key: str(inputs[key]) for key in settings.images}
    chunk, out_dir = int(chunk), str(outputs["chunk"])

    images = {key: io.read_array(image_paths[key]) for key in settings.images}
    lengths = {key: len(array) for key, array in images.items()}
    if len(set(lengths.values())) != 1:
        raise io.DataError(
            "image files hold different numbers of events: "
            + ", ".join(f"{image_paths[key]}: {n}" for key, n in lengths.items())
        )
    start, stop = chunk_bounds(next(iter(lengths.values())), settings.chunks, chunk)
    names = efp_names(settings)
    rows = settings.storage.rows_for(len(names))
    log.info(
        "chunk %d of %d: events [%d, %d), %d EFPs (backend %s), row blocks of %d events",
        chunk,
        settings.chunks,
        start,
        stop,
        len(names),
        settings.backend,
        rows,
    )
    with (
        threadpool_limits(limits=int(threads)),
        efp_store.ChunkWriter(out_dir, names, settings.storage.block_columns) as writer,
    ):
        blocks = iter_efp_blocks(
            {key: array[start:stop] for key, array in images.items()},
            {key: input_geometry(key) for key in settings.images},
            settings,
            rows=rows,
            sources={key: f"{image_paths[key]} (key {key!r})" for key in settings.images},
            first_event=start,
        )
        for _, _, values in blocks:
            writer.write_rows(values)
    return stop - start


def gather_efps(inputs: Mapping, outputs: Mapping, params: Mapping) -> dict:
    """The split's EFP table: check every chunk (inputs chunks) against the grid (params
    settings) and the split's length (inputs reference: one image array of the split) and
    write ``outputs["index"]`` (index.json). No data is copied."""
    chunk_dirs = [str(path) for path in inputs["chunks"]]
    settings = EFPSettings.from_config(params["settings"])
    reference_path, index_path = str(inputs["reference"]), str(outputs["index"])
    n_events = len(io.read_array(reference_path))
    index = efp_store.write_index(index_path, chunk_dirs, efp_names(settings), n_events)
    log.info("%d chunks: %d events x %d EFPs", len(chunk_dirs), n_events, len(index["columns"]))
    return index


class _Columns(Mapping):
    """name -> (N,) values of one EFP on every event of the table, read on demand."""

    def __init__(self, table: efp_store.EFPTable):
        self.table = table

    def __getitem__(self, name: str) -> np.ndarray:
        return self.table.read([name])[:, 0]

    def __iter__(self):
        return iter(self.table.names)

    def __len__(self) -> int:
        return len(self.table.names)


def deduplicate_efps(inputs: Mapping, outputs: Mapping, params: Mapping) -> pd.DataFrame:
    """Identities on the train split (inputs train_efps: its index.json) -> outputs duplicates
    (duplicates.csv, the audit) and kept (kept.txt); params settings (the efp block), seed.

    A sample of settings.dedup_sample_size train events (drawn with seed) finds the suspected
    identities (`find_duplicate_efps`); each is confirmed or refuted on all train events, read
    one column at a time. duplicates.csv lists every suspected pair with ``confirmed``; only
    confirmed ones are dropped. Memory: the (sample, n_EFPs) sample plus two columns.
    """
    train_index = str(inputs["train_efps"])
    settings = EFPSettings.from_config(params["settings"])
    seed = int(params["seed"])
    duplicates_path, kept_path = str(outputs["duplicates"]), str(outputs["kept"])
    table = efp_store.EFPTable(train_index)
    names = efp_names(settings)
    if table.names != names:
        raise io.DataError(
            f"{train_index}: {len(table.names)} columns differ from the EFP grid in the config "
            f"({len(names)}); recompute the EFPs"
        )
    rng = np.random.default_rng(seed)
    size = min(settings.dedup_sample_size, table.n_events)
    rows = np.sort(rng.choice(table.n_events, size=size, replace=False))
    sample = pd.DataFrame(table.read(names, rows=rows), columns=names)
    try:
        audit = find_duplicate_efps(sample, _Columns(table), settings.dedup_tolerance)
    except ValueError as error:
        raise io.DataError(f"{train_index}: {error}") from None
    dropped = set(audit.loc[audit["confirmed"], "dropped"])
    kept = [name for name in names if name not in dropped]
    log.info(
        "%d EFPs: %d suspected identities on %d sampled events, %d confirmed on all %d train "
        "events (relative tolerance per event %g), %d kept",
        len(names),
        len(audit),
        size,
        len(dropped),
        table.n_events,
        settings.dedup_tolerance,
        len(kept),
    )
    io.write_text(duplicates_path, audit.to_csv(index=False))
    io.write_text(kept_path, "".join(f"{name}\n" for name in kept))
    return audit


def single_efp_auc(
    inputs: Mapping, outputs: Mapping, params: Mapping, *, split: str
) -> pd.DataFrame:
    """AUC of every kept EFP alone on one split -> ``outputs["table"]``
    (single_auc_{split}.csv), streamed in groups of columns of at most one block's elements
    (params storage). inputs: {split}_efps (index.json), kept, y, weight (optional)."""
    index_path, kept_path = str(inputs[f"{split}_efps"]), str(inputs["kept"])
    y_path, weight_path = str(inputs["y"]), inputs.get("weight")
    weight_path = str(weight_path) if weight_path is not None else None
    out_path, storage = str(outputs["table"]), storage_settings(params["storage"])
    kept = read_kept(kept_path)
    table = efp_store.EFPTable(index_path)
    y = io.read_array(y_path)
    weight = io.read_array(weight_path) if weight_path is not None else None
    if len(y) != table.n_events:
        raise io.DataError(f"{index_path}: {table.n_events} events but {y_path} holds {len(y)}")
    parts = [
        single_efp_aucs(pd.DataFrame(values, columns=names), y, weight)
        for names, values in table.iter_groups(kept, storage.block_elements)
    ]
    result = pd.concat(parts, ignore_index=True)
    result = result.sort_values("auc", ascending=False, kind="stable").reset_index(drop=True)
    io.write_text(out_path, result.to_csv(index=False))
    log.info("best single EFP: %s (AUC %.4f)", result["efp"].iloc[0], result["auc"].iloc[0])
    return result


def draw_efps(outputs: Mapping, *, efp: str) -> None:
    """The multigraph of one EFP, given by its canonical name (wildcard efp), as a PNG
    (``outputs["figure"]``)."""
    from hepml.plots.efp import efp_figure  # matplotlib: only the drawing rules need it

    io.write_figure(efp_figure(str(efp)), str(outputs["figure"]))


def draw_efp_gallery(inputs: Mapping, outputs: Mapping, params: Mapping) -> list[str]:
    """The graphs of the params ``size`` best single-EFP AUCs (inputs single_auc: the valid
    split's single_auc.csv), one PNG each (rank{rank:02d}_{name}.png) in ``outputs["gallery"]``;
    returns the file names."""
    from hepml.plots.efp import gallery  # matplotlib: only the drawing rules need it

    single_auc_path, size = str(inputs["single_auc"]), int(params["size"])
    out_dir = Path(outputs["gallery"])
    out_dir.mkdir(parents=True, exist_ok=True)
    items = gallery(io.read_csv(single_auc_path), int(size), str(single_auc_path))
    for file_name, figure in items:
        io.write_figure(figure, out_dir / file_name)
    log.info("drew %d gallery graphs into %s", len(items), out_dir)
    return [file_name for file_name, _ in items]
