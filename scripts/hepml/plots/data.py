"""Data-stage first pictures: class-average images and feature distributions.

Functions take arrays (memory-mapped ones are fine: everything over events is streamed in
chunks) and return arrays or matplotlib figures; ``hepml.steps.data.plot_data`` writes them.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence

import matplotlib

matplotlib.use("Agg")

import matplotlib.pyplot as plt  # noqa: E402 (after choosing the non-interactive backend)
import numpy as np  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from hepml.geometry import ImageGeometry, geometry_for  # noqa: E402
from hepml.hl import HL_NAMES  # noqa: E402

CHUNK_EVENTS = 4096
# Class names by dataset kind, index = label (docs/reference.md 1 and 2: 1 = signal).
CLASS_NAMES = {
    "electrons": ("jet (y = 0)", "electron (y = 1)"),
    "muons": ("non-prompt muon (y = 0)", "prompt muon (y = 1)"),
    "jets": ("QCD jet (y = 0)", "top jet (y = 1)"),
}
IMAGE_TITLES = {
    "et": "ECal ET",
    "ee": "ECal E",
    "ht": "HCal ET",
    "he": "HCal E",
    "images": "calorimeter ET",
    "jet": "pT fraction",
}


def class_means(
    values: np.ndarray, y: np.ndarray, weight: np.ndarray, chunk_events: int = CHUNK_EVENTS
) -> np.ndarray:
    """Weighted mean of ``values`` per class, streamed over events.

    values: (N, ...) e.g. images (N, n_phi, n_eta, 1); y: (N,) labels 0/1; weight: (N,).
    Returns (2, ...) float64: index 0 = label 0, 1 = label 1 (NaN for an empty class).
    """
    sums = np.zeros((2, *values.shape[1:]), dtype=np.float64)
    totals = np.zeros(2, dtype=np.float64)
    for start in range(0, len(values), chunk_events):
        stop = start + chunk_events
        block = np.asarray(values[start:stop], dtype=np.float64)
        labels = np.asarray(y[start:stop]).astype(np.int64)
        w = np.asarray(weight[start:stop], dtype=np.float64)
        for label in (0, 1):
            selected = labels == label
            sums[label] += np.tensordot(w[selected], block[selected], axes=1)
            totals[label] += w[selected].sum()
    with np.errstate(invalid="ignore", divide="ignore"):
        return sums / totals.reshape((2,) + (1,) * (sums.ndim - 1))


def pixel_extent(geometry: ImageGeometry) -> tuple[float, float, float, float]:
    """imshow extent (left, right, bottom, top) for origin='upper': outer pixel EDGES.

    Built from the pixel centres of :mod:`hepml.geometry`, so that each pixel is drawn
    centred on its own (eta, phi); row 0 is at the top whichever way phi runs.
    """
    eta, phi = geometry.eta_centres(), geometry.phi_centres()
    half_eta = geometry.d_eta / 2
    half_phi = np.sign(phi[0] - phi[-1]) * geometry.d_phi / 2
    return (eta[0] - half_eta, eta[-1] + half_eta, phi[-1] - half_phi, phi[0] + half_phi)


def plot_average_images(
    means: Mapping[str, np.ndarray], class_names: tuple[str, str], note: str = ""
) -> plt.Figure:
    """One row per image key, one column per class: the class-average image, log colour scale.

    means: key -> (2, n_phi, n_eta[, 1]) from :func:`class_means` (same units as the file,
    GeV for unscaled_data.h5).  Axes are eta and phi relative to the candidate (pixel centres
    from the geometry).  Both classes of a key share one colour scale.
    """
    fig, axes = plt.subplots(
        len(means), 2, figsize=(9.5, 4.2 * len(means)), squeeze=False, layout="constrained"
    )
    for row, (key, mean) in enumerate(means.items()):
        images = np.asarray(mean, dtype=np.float64).reshape(2, *geometry_for(key).shape)
        positive = images[np.isfinite(images) & (images > 0)]
        vmax = positive.max() if positive.size else 1.0
        norm = LogNorm(vmin=max(vmax * 1e-4, positive.min() if positive.size else 1e-4), vmax=vmax)
        for label in (0, 1):
            ax = axes[row, label]
            shown = np.ma.masked_less_equal(images[label], 0)
            artist = ax.imshow(
                shown,
                origin="upper",
                extent=pixel_extent(geometry_for(key)),
                norm=norm,
                cmap="viridis",
                interpolation="nearest",
            )
            ax.set_title(f"{IMAGE_TITLES.get(key, key)}: {class_names[label]}")
            ax.set_xlabel(r"$\Delta\eta$")
            ax.set_ylabel(r"$\Delta\phi$")
        fig.colorbar(artist, ax=axes[row, :], label=f"mean {IMAGE_TITLES.get(key, key)} per pixel")
    if note:
        fig.suptitle(note)
    return fig


def feature_columns(
    features: Mapping[str, np.ndarray], names_of: Mapping[str, Sequence[str]] | None = None
) -> dict[str, np.ndarray]:
    """Named (N,) columns of flat keys: a key of ``names_of`` -> those names (default: hl ->
    the 7 electron HL names), iso -> one per cone, others as is."""
    names_of = {"hl": HL_NAMES} if names_of is None else names_of
    columns = {}
    for key, values in features.items():
        values = np.asarray(values)
        flat = values.reshape(len(values), -1)
        if key in names_of:
            names = list(names_of[key])
            if len(names) != flat.shape[1]:
                raise ValueError(f"{key}: {flat.shape[1]} columns, but {len(names)} names {names}")
        elif flat.shape[1] == 1:
            names = [key]
        else:
            names = [f"{key}[{index}]" for index in range(flat.shape[1])]
        for index, name in enumerate(names):
            columns[name] = flat[:, index]
    return columns


def plot_feature_distributions(
    columns: Mapping[str, np.ndarray],
    y: np.ndarray,
    weight: np.ndarray,
    class_names: tuple[str, str],
    note: str = "",
) -> plt.Figure:
    """Normalised (weighted) histogram of every column per class, log y; overflow in the
    edge bins.  The range covers the 0.1 % to 99.9 % quantiles of both classes together."""
    names = list(columns)
    n_cols = min(4, len(names))
    n_rows = -(-len(names) // n_cols)
    fig, axes = plt.subplots(
        n_rows, n_cols, figsize=(3.6 * n_cols, 3.0 * n_rows), squeeze=False, layout="constrained"
    )
    labels = np.asarray(y).astype(np.int64)
    weight = np.asarray(weight, dtype=np.float64)
    for ax, name in zip(axes.flat, names, strict=False):
        values = np.asarray(columns[name], dtype=np.float64)
        finite = np.isfinite(values)
        lo, hi = np.quantile(values[finite], [0.001, 0.999]) if finite.any() else (0.0, 1.0)
        if hi <= lo:
            lo, hi = lo - 0.5, hi + 0.5
        bins = np.linspace(lo, hi, 51)
        for label, colour in ((0, "tab:red"), (1, "tab:blue")):
            selected = finite & (labels == label)
            ax.hist(
                np.clip(values[selected], lo, hi),
                bins=bins,
                weights=weight[selected],
                density=True,
                histtype="step",
                color=colour,
                label=class_names[label],
            )
        ax.set_yscale("log")
        ax.set_xlabel(name)
        ax.set_ylabel("density")
    for ax in list(axes.flat)[len(names) :]:
        ax.set_visible(False)
    axes.flat[0].legend(fontsize="small")
    if note:
        fig.suptitle(note)
    return fig
