"""The muon-only rule (rules/muons.smk): plot_radial_profile."""

from __future__ import annotations

import logging
from pathlib import Path

from hepml import io
from hepml.plots import muons as plots_muons

log = logging.getLogger(__name__)


def plot_radial_profile(
    images_path: str | Path,
    y_path: str | Path,
    weight_path: str | Path,
    figure_path: str | Path,
    table_path: str | Path,
    dataset: str,
    split: str,
) -> None:
    """Mean ET against Delta R from the muon, per class (weighted), on one split: the figure
    and its table (CSV)."""
    profile = plots_muons.radial_profile(
        images=io.read_array(images_path),
        y=io.read_array(y_path),
        weight=io.read_array(weight_path),
    )
    log.info("radial profile:\n%s", profile.to_string(index=False))
    note = f"{dataset}, {split} split, weighted"
    io.write_figure(plots_muons.plot_radial_profile(profile, note=note), figure_path)
    io.write_text(table_path, profile.to_csv(index=False))
