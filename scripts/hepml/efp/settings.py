"""The ``datasets.<dataset>.efp`` block as settings: the grid, chunking, backend, dedup and
storage (config/schema.yaml documents each key).

Light on purpose (no numpy, no file access): the rules read the fields to build each EFP rule's
params (rules/efp_functions.smk), so this class is the one place an EFP key is declared
(docs/architecture.md "Settings: one source").
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field

from hepml.efp.names import format_number
from hepml.settings import (
    CONFIG_KEY,
    READ_BY,
    StorageSettings,
    config_keys,
    nested_keys,
    reject_unknown_keys,
    subsections,
)

#: Array libraries the engine runs on (EFPSettings.backend).
BACKENDS = ("cpu", "gpu")
#: The config path of the block (hepml.settings.CONFIG_SECTIONS).
EFP_BLOCK = "datasets.<name>.efp"


def _read_by(*rules: str) -> dict:
    return {READ_BY: rules}


@dataclass(frozen=True)
class EFPSettings:
    """The ``datasets.<dataset>.efp`` config block (config/schema.yaml documents each key).

    The grid (images, graphs, kappas, betas) is read by every EFP rule; the other keys only by
    the rules named in their READ_BY metadata, so editing one reruns only those.
    """

    images: tuple[str, ...]
    graphs: tuple[tuple[str, ...], ...]
    kappas: tuple[float, ...]
    betas: tuple[float, ...]
    chunks: int = field(default=1, metadata=_read_by("compute_efps"))
    dedup_sample_size: int = field(
        default=500, metadata={CONFIG_KEY: "dedup.sample_size", **_read_by("deduplicate_efps")}
    )
    dedup_tolerance: float = field(
        default=1e-9, metadata={CONFIG_KEY: "dedup.tolerance", **_read_by("deduplicate_efps")}
    )
    gallery_size: int = field(default=10, metadata=_read_by("draw_efp_gallery"))
    batch_elements: int = field(default=1 << 16, metadata=_read_by("compute_efps"))
    storage: StorageSettings = field(default=StorageSettings(), metadata=_read_by("compute_efps"))
    backend: str = field(default="cpu", metadata=_read_by("compute_efps"))

    @classmethod
    def from_config(cls, block: Mapping) -> EFPSettings:
        """Build from the config dict; unknown keys raise ValueError naming them (the keys of
        this class, and the blocks registered under efp that other modules read: linear)."""
        reject_unknown_keys(block, {*config_keys(cls), *subsections(EFP_BLOCK)}, "efp")
        dedup = dict(block.get("dedup", {}))
        reject_unknown_keys(dedup, nested_keys(cls, "dedup"), "efp.dedup")
        settings = cls(
            images=tuple(str(image) for image in block["images"]),
            graphs=tuple(tuple(str(s) for s in selection) for selection in block["graphs"]),
            kappas=tuple(float(kappa) for kappa in block["kappas"]),
            betas=tuple(float(beta) for beta in block["betas"]),
            chunks=int(block.get("chunks", cls.chunks)),
            dedup_sample_size=int(dedup.get("sample_size", cls.dedup_sample_size)),
            dedup_tolerance=float(dedup.get("tolerance", cls.dedup_tolerance)),
            gallery_size=int(block.get("gallery_size", cls.gallery_size)),
            storage=storage_settings(block.get("storage") or {}),
            backend=str(block.get("backend", cls.backend)),
            batch_elements=int(block.get("batch_elements", cls.batch_elements)),
        )
        if settings.batch_elements < 1:
            raise ValueError(f"efp.batch_elements must be >= 1, got {settings.batch_elements}")
        if settings.backend not in BACKENDS:
            raise ValueError(f"efp.backend must be one of {BACKENDS}, got {settings.backend!r}")
        if not settings.images or not settings.graphs:
            raise ValueError("efp.images and efp.graphs must not be empty")
        if any(beta <= 0 for beta in settings.betas):
            raise ValueError(f"EFP betas must be > 0, got {settings.betas}")
        for value in settings.kappas + settings.betas:
            format_number(value)  # raises for exponents without a file-name-safe form
        if settings.chunks < 1:
            raise ValueError(f"efp.chunks must be >= 1, got {settings.chunks}")
        return settings


def storage_settings(block: Mapping) -> StorageSettings:
    """``efp.storage`` -> StorageSettings; unknown keys or sizes below 1 raise ValueError."""
    reject_unknown_keys(block, config_keys(StorageSettings), "efp.storage")
    settings = StorageSettings(
        block_rows=int(block.get("block_rows", StorageSettings.block_rows)),
        block_columns=int(block.get("block_columns", StorageSettings.block_columns)),
    )
    if settings.block_rows < 1 or settings.block_columns < 1:
        raise ValueError(f"efp.storage block sizes must be >= 1, got {settings}")
    return settings
