"""Muon-analysis figures: the radial ET profile around the muon, per class.

docs/reference.md 2: non-prompt muons have extra ET close to the muon that grows with the cone
radius, while pile-up adds a roughly uniform floor to both classes.  The radial profile shows
both at once: mean ET per unit area against the distance Delta R of the pixel centre from the
muon (flat for the floor, rising towards the muon for the b-jet fragments), and the mean ET
inside a cone of radius Delta R (what the isolation sums add up, before dividing by pT).

Functions take arrays (memory-mapped ones are fine: events are streamed in chunks) and return
tables or matplotlib figures; ``hepml.steps.muons`` writes them.
"""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 (after choosing the non-interactive backend)
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402

from hepml.geometry import MUON, ImageGeometry  # noqa: E402
from hepml.plots.data import CLASS_NAMES  # noqa: E402

CHUNK_EVENTS = 4096
PROFILE_COLUMNS = [
    "label",
    "r_low",
    "r_high",
    "n_pixels",
    "et_per_pixel",
    "et_density",
    "cone_et",
    "cone_complete",
]


def default_edges(geometry: ImageGeometry = MUON) -> np.ndarray:
    """Ring edges in Delta R: one pixel wide, from 0 to the farthest pixel centre (corner)."""
    step = min(geometry.d_eta, geometry.d_phi)
    return np.arange(0.0, geometry.delta_r().max() + step, step)


def radial_profile(
    images: np.ndarray,
    y: np.ndarray,
    weight: np.ndarray,
    edges: np.ndarray | None = None,
    geometry: ImageGeometry = MUON,
    chunk_events: int = CHUNK_EVENTS,
) -> pd.DataFrame:
    """Weighted mean ET in rings of Delta R around the image centre (the muon), per class.

    images: (N, n_phi, n_eta) or (N, n_phi, n_eta, 1) ET in GeV; y: (N,) 1 = prompt muon;
    weight: (N,) per-event weights (docs/reference.md 2: pT reweighting); edges: (n_rings + 1,)
    ascending Delta R, default :func:`default_edges`.  A pixel belongs to the ring holding its
    centre (``geometry.delta_r``).

    Returns one row per (label, ring), columns :data:`PROFILE_COLUMNS`: n_pixels in the ring;
    et_per_pixel mean ET per pixel (GeV); et_density the same per unit area (GeV per unit of
    eta x phi); cone_et the mean ET of all pixels with Delta R < r_high (GeV) and
    cone_complete whether that cone lies inside the image (beyond it the corners are missing).
    """
    edges = default_edges(geometry) if edges is None else np.asarray(edges, dtype=np.float64)
    if edges.ndim != 1 or len(edges) < 2 or (np.diff(edges) <= 0).any():
        raise ValueError(f"edges: expected an ascending 1-D array of >= 2 values, got {edges}")
    n = len(images)
    if images.shape[1:3] != geometry.shape or len(y) != n or len(weight) != n:
        raise ValueError(
            f"images {images.shape}, y {np.shape(y)}, weight {np.shape(weight)}: expected "
            f"(N, {geometry.n_phi}, {geometry.n_eta}[, 1]), (N,) and (N,)"
        )
    ring = np.digitize(geometry.delta_r().ravel(), edges) - 1  # -1 / n_rings: outside
    n_rings = len(edges) - 1
    inside = (ring >= 0) & (ring < n_rings)
    n_pixels = np.bincount(ring[inside], minlength=n_rings)
    sums = np.zeros((2, n_rings))
    totals = np.zeros(2)
    for start in range(0, n, chunk_events):
        block = np.asarray(images[start : start + chunk_events], dtype=np.float64)
        block = block.reshape(len(block), -1)[:, inside]
        labels = np.asarray(y[start : start + chunk_events]).astype(np.int64)
        w = np.asarray(weight[start : start + chunk_events], dtype=np.float64)
        per_ring = np.zeros((len(block), n_rings))
        np.add.at(per_ring.T, ring[inside], block.T)
        for label in (0, 1):
            selected = labels == label
            sums[label] += w[selected] @ per_ring[selected]
            totals[label] += w[selected].sum()
    half_width = min(geometry.n_eta * geometry.d_eta, geometry.n_phi * geometry.d_phi) / 2
    rows = []
    for label in (0, 1):
        with np.errstate(invalid="ignore", divide="ignore"):
            ring_et = sums[label] / totals[label]
            per_pixel = ring_et / n_pixels
        cone = np.cumsum(ring_et)
        for i in range(n_rings):
            rows.append(
                {
                    "label": label,
                    "r_low": edges[i],
                    "r_high": edges[i + 1],
                    "n_pixels": int(n_pixels[i]),
                    "et_per_pixel": per_pixel[i],
                    "et_density": per_pixel[i] / (geometry.d_eta * geometry.d_phi),
                    "cone_et": cone[i],
                    "cone_complete": bool(edges[i + 1] <= half_width + 1e-9),
                }
            )
    return pd.DataFrame(rows, columns=PROFILE_COLUMNS)


def plot_radial_profile(
    profile: pd.DataFrame, class_names: tuple[str, str] = CLASS_NAMES["muons"], note: str = ""
) -> plt.Figure:
    """Two panels from :func:`radial_profile`: ET density against Delta R (step per ring) and
    mean cone ET against the cone radius (solid where the cone lies inside the image)."""
    fig, (left, right) = plt.subplots(1, 2, figsize=(10.5, 4.2), layout="constrained")
    for label, colour in ((0, "tab:red"), (1, "tab:blue")):
        rows = profile[(profile["label"] == label) & (profile["n_pixels"] > 0)]
        edges = np.r_[rows["r_low"].to_numpy()[:1], rows["r_high"].to_numpy()]
        left.stairs(rows["et_density"], edges, color=colour, label=class_names[label])
        complete = rows[rows["cone_complete"]]
        right.plot(complete["r_high"], complete["cone_et"], color=colour, label=class_names[label])
        clipped = rows[~rows["cone_complete"]]
        if len(clipped) and len(complete):
            joined = pd.concat([complete.tail(1), clipped])
            right.plot(joined["r_high"], joined["cone_et"], color=colour, linestyle=":")
    left.set_xlabel(r"$\Delta R$ of the pixel centre from the muon")
    left.set_ylabel(r"mean $E_T$ per unit area [GeV]")
    left.set_ylim(bottom=0)
    left.legend(fontsize="small")
    right.set_xlabel(r"cone radius $R_0$")
    right.set_ylabel(r"mean $E_T$ with $\Delta R < R_0$ [GeV]")
    right.set_ylim(bottom=0)
    right.legend(fontsize="small", title="dotted: cone past the image edge")
    if note:
        fig.suptitle(note)
    return fig
