"""The I/O layer: the only code that reads or writes files (docs/architecture.md "Layers").

One module per published format, and the shared pieces:

* ``electrons``, ``muons``: the published HDF5 layouts of the lepton kinds (docs/reference.md
  1 and 2); ``jets``: the top-tagging benchmark's pandas HDF5 files (docs/jets.md);
* ``layouts``: how a layout is described (:class:`~hepml.io.layouts.KeyLayout`), physical bounds;
* ``unpack``: published lepton files read, checked and unpacked into Feather arrays;
* ``publish``: the streaming writer of the published HDF5 layout;
* ``feather``: the Feather array codec (``ArrayRows``) and Feather tables;
* ``efp_store``: EFP tables in column blocks; ``dataset``: ``load_split``, the one data access;
* ``download``: downloads checked against pinned digests;
* ``files``: ``DataError``, temporary names, the atomic text / JSON / npz / figure writers.

The names callers use (``io.read_array``, ``io.write_json``, ``io.unpack_key``, ...) are
re-exported here and imported on first use, so ``from hepml import io`` costs nothing and the
rules may import a light module of the package (``hepml.io.jets``) without h5py or pyarrow.
The imports under ``TYPE_CHECKING`` are what the names resolve to (for readers, type checkers
and the import scan of tests/test_envs.py); ``_EXPORTS`` must list the same names
(tests/test_io.py checks both).
"""

# ruff: noqa: F401 (the TYPE_CHECKING imports are the re-exports' declarations, not used here)

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from hepml.io.download import DownloadError, download_file, sha256_of
    from hepml.io.electrons import ELECTRONS
    from hepml.io.feather import (
        CHUNK_EVENTS,
        ArrayRows,
        FeatherArrayWriter,
        read_array,
        read_table,
        write_array,
        write_array_chunks,
        write_table,
    )
    from hepml.io.files import (
        DataError,
        read_csv,
        read_json,
        read_npz,
        read_text,
        remove_stale_temporaries,
        write_figure,
        write_json,
        write_npz,
        write_text,
    )
    from hepml.io.layouts import (
        BEAM,
        CANDIDATE,
        Bound,
        KeyLayout,
        PublishedLayout,
        physical_limits,
        shuffle_permutation,
    )
    from hepml.io.muons import MUONS
    from hepml.io.unpack import (
        LAYOUTS,
        SPLITS,
        PublishedSummary,
        check_published,
        checksum_mismatch,
        fletcher32,
        layout_for,
        published_summary,
        stored_units,
        unpack_key,
        unpacked_keys,
    )

_EXPORTS = {
    "download": ("DownloadError", "download_file", "sha256_of"),
    "electrons": ("ELECTRONS",),
    "feather": (
        "CHUNK_EVENTS",
        "ArrayRows",
        "FeatherArrayWriter",
        "read_array",
        "read_table",
        "write_array",
        "write_array_chunks",
        "write_table",
    ),
    "files": (
        "DataError",
        "read_csv",
        "read_json",
        "read_npz",
        "read_text",
        "remove_stale_temporaries",
        "write_figure",
        "write_json",
        "write_npz",
        "write_text",
    ),
    "layouts": (
        "BEAM",
        "CANDIDATE",
        "Bound",
        "KeyLayout",
        "PublishedLayout",
        "physical_limits",
        "shuffle_permutation",
    ),
    "muons": ("MUONS",),
    "unpack": (
        "LAYOUTS",
        "SPLITS",
        "PublishedSummary",
        "check_published",
        "checksum_mismatch",
        "fletcher32",
        "layout_for",
        "published_summary",
        "stored_units",
        "unpack_key",
        "unpacked_keys",
    ),
}
_MODULE_OF = {name: module for module, names in _EXPORTS.items() for name in names}
__all__ = sorted(_MODULE_OF)


def __getattr__(name: str):
    """A re-exported name, imported from its module on first use (PEP 562)."""
    if name not in _MODULE_OF:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f"{__name__}.{_MODULE_OF[name]}"), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_MODULE_OF})
