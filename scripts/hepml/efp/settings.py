"""The ``datasets.<dataset>.efp`` config block as frozen settings (config/schema.yaml documents
each key; docs/efp_engine.md "Config keys")."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from hepml.efp.names import format_number
from hepml.io.efp_store import StorageSettings
from hepml.settings import reject_unknown_keys

#: Array libraries the engine runs on (EFPSettings.backend).
BACKENDS = ("cpu", "gpu")


@dataclass(frozen=True)
class EFPSettings:
    """The ``datasets.<dataset>.efp`` config block (config/schema.yaml documents each key)."""

    images: tuple[str, ...]
    graphs: tuple[tuple[str, ...], ...]
    kappas: tuple[float, ...]
    betas: tuple[float, ...]
    chunks: int = 1
    dedup_sample_size: int = 500
    dedup_tolerance: float = 1e-9
    gallery_size: int = 10
    batch_elements: int = 1 << 16
    storage: StorageSettings = StorageSettings()
    backend: str = "cpu"

    @classmethod
    def from_config(cls, block: Mapping) -> EFPSettings:
        """Build from the config dict; unknown keys raise ValueError naming them."""
        known = {
            "images",
            "graphs",
            "kappas",
            "betas",
            "chunks",
            "dedup",
            "gallery_size",
            "storage",
        } | {"backend", "batch_elements", "linear"}  # linear: read by train_efp_linear
        reject_unknown_keys(block, known, "efp")
        dedup = dict(block.get("dedup", {}))
        reject_unknown_keys(dedup, ("sample_size", "tolerance"), "efp.dedup")
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
    reject_unknown_keys(block, ("block_rows", "block_columns"), "efp.storage")
    settings = StorageSettings(
        block_rows=int(block.get("block_rows", StorageSettings.block_rows)),
        block_columns=int(block.get("block_columns", StorageSettings.block_columns)),
    )
    if settings.block_rows < 1 or settings.block_columns < 1:
        raise ValueError(f"efp.storage block sizes must be >= 1, got {settings}")
    return settings
