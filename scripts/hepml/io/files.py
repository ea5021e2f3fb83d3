"""The shared conventions of the I/O layer: :class:`DataError`, temporary names, and the
atomic writers of text, JSON, ``.npz`` and figures (a failed job leaves no partial file).

The writers here, in ``feather`` and in ``download`` write to a hidden temporary name beside
their output (:func:`_temporary_name`) and rename it once complete; temporaries a killed job
left behind are removed first (:func:`remove_stale_temporaries`).  (``publish``, ``jets`` and
``efp_store`` name their temporaries their own way, to the same effect.)
"""

from __future__ import annotations

import json
import logging
import os
import sys
from pathlib import Path

import numpy as np

log = logging.getLogger(__name__)


class DataError(ValueError):
    """A published or unpacked file does not have the expected layout or content."""


def _temporary_name(path: Path) -> Path:
    """A hidden name beside ``path`` for writing it: renamed to ``path`` once complete.

    Temporaries of ``path`` left by other processes (a killed job) are removed first: Snakemake
    runs one job per output, so no other process is writing ``path`` now.
    """
    remove_stale_temporaries(path)
    return path.with_name(f".{path.name}.{os.getpid()}.tmp")


def remove_stale_temporaries(path: str | os.PathLike) -> list[Path]:
    """Remove the hidden ``.{name}.{pid}.tmp`` files of ``path`` written by any process but
    this one (left by a SIGKILLed or preempted job); returns the removed paths."""
    path = Path(path)
    prefix, own = f".{path.name}.", f".{path.name}.{os.getpid()}.tmp"
    removed = []
    try:
        entries = list(os.scandir(path.parent))
    except FileNotFoundError:
        return removed
    for entry in entries:
        name = entry.name
        if not (name.startswith(prefix) and name.endswith(".tmp")) or name == own:
            continue
        if not name[len(prefix) : -len(".tmp")].isdigit() or not entry.is_file():
            continue
        Path(entry.path).unlink(missing_ok=True)
        log.info("removed %s, a temporary left by an earlier (killed) job", entry.path)
        removed.append(Path(entry.path))
    return removed


def write_text(path: str | os.PathLike, text: str) -> None:
    """Write a text file via a temporary name, so that a failed job leaves no partial file."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    try:
        tmp.write_text(text)
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def write_json(path: str | os.PathLike, content) -> None:
    """Write a JSON document (indented, keys in given order) via a temporary name."""
    write_text(path, json.dumps(content, indent=2) + "\n")


def read_json(path: str | os.PathLike):
    """A JSON document."""
    return json.loads(Path(path).read_text())


def read_text(path: str | os.PathLike) -> str:
    """A text file (a markdown table, a log)."""
    return Path(path).read_text()


def read_csv(path: str | os.PathLike):
    """A CSV table (written by ``write_text(path, table.to_csv(index=False))``) as a pandas
    DataFrame."""
    import pandas as pd

    return pd.read_csv(path)


def write_figure(figure, path: str | os.PathLike, dpi: int = 110) -> None:
    """Save a matplotlib figure via a temporary name, so that a failed job leaves no partial
    file: the one writer of every figure of the workflow.

    The format is the suffix of ``path`` (PNG at ``dpi``, or SVG with text kept as text and a
    fixed hash salt, so the same figure gives the same bytes and the report can search its
    legend). A figure made with pyplot is closed once written: pyplot keeps every open figure
    alive (and warns past 20) until it is closed.
    """
    import matplotlib

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    try:
        with matplotlib.rc_context({"svg.fonttype": "none", "svg.hashsalt": "hepml"}):
            figure.savefig(tmp, dpi=dpi, format=path.suffix.lstrip("."))
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)
    pyplot = sys.modules.get("matplotlib.pyplot")
    if pyplot is not None:
        pyplot.close(figure)


def write_npz(path: str | os.PathLike, arrays: dict[str, np.ndarray]) -> None:
    """Numeric arrays by name as an uncompressed ``.npz`` via a temporary name (no objects:
    ``read_npz`` refuses pickled content)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = _temporary_name(path)
    try:
        with open(tmp, "wb") as handle:
            np.savez(handle, **{name: np.asarray(values) for name, values in arrays.items()})
        os.replace(tmp, path)
    finally:
        tmp.unlink(missing_ok=True)


def read_npz(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """Arrays of an ``.npz`` file written by ``write_npz``; DataError names a missing file."""
    path = Path(path)
    if not path.is_file():
        raise DataError(f"{path}: not found")
    with np.load(path, allow_pickle=False) as content:
        return {name: content[name] for name in content.files}
