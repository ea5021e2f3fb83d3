"""The muon-only rule (rules/muons.smk): plot_radial_profile."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from hepml import io
from hepml.plots import muons as plots_muons

log = logging.getLogger(__name__)


def plot_radial_profile(
    inputs: Mapping, outputs: Mapping, params: Mapping, *, dataset: str
) -> None:
    """Mean ET against Delta R from the muon, per class (weighted), on one split (params split;
    inputs images, y, weight): the figure and its table (outputs figure, table: CSV)."""
    images_path, y_path, weight_path = (str(inputs[key]) for key in ("images", "y", "weight"))
    figure_path, table_path = str(outputs["figure"]), str(outputs["table"])
    split = str(params["split"])
    profile = plots_muons.radial_profile(
        images=io.read_array(images_path),
        y=io.read_array(y_path),
        weight=io.read_array(weight_path),
    )
    log.info("radial profile:\n%s", profile.to_string(index=False))
    note = f"{dataset}, {split} split, weighted"
    io.write_figure(plots_muons.plot_radial_profile(profile, note=note), figure_path)
    io.write_text(table_path, profile.to_csv(index=False))
