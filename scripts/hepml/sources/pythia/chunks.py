"""Per-chunk files of generated events and their merging into the published files.

A chunk file is a plain HDF5 file with one dataset per array, named ``<key>`` (electrons) or
``<class>/<key>`` (muons: ``signal/images``, ``bg/pt``, ...), written under a temporary name
and renamed when complete, without timestamps (same events, same bytes).  Merging streams the
chunks in chunk order into :class:`hepml.io.publish.PublishedWriter`, so the first 64 % of the
events (per class for muons) go to train, the next 16 % to valid and the rest to test, and
writes the scaled companion file with :func:`hepml.io.publish.scale_published`.  Every
statistic of the data fitted at the merge (the muons' pT weights, the electrons'
standardisation) is fitted on the train events only.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping, Sequence
from pathlib import Path

import h5py
import numpy as np

from hepml.io.publish import PublishedWriter, scale_published, split_sizes
from hepml.sources.pythia.muons import MuonGenSettings, pt_weights_from_sample
from hepml.sources.simulate.electrons import ELECTRON_LAYOUT, IMAGE_KEYS, STANDARDISED_KEYS
from hepml.sources.simulate.muons import CLASSES, MuonSimSettings, PtWeights, published_layout

log = logging.getLogger(__name__)


def write_chunk(path: str | os.PathLike, arrays: Mapping[str, np.ndarray]) -> None:
    """Write arrays (name -> array; names may contain '/') to an HDF5 chunk file, atomically."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    try:
        with h5py.File(temporary, "w", track_order=False) as h5:
            for name, values in arrays.items():
                h5.create_dataset(name, data=np.asarray(values), track_times=False)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def read_chunk(path: str | os.PathLike) -> dict[str, np.ndarray]:
    """All arrays of a chunk file, by name (``signal/images`` for groups)."""
    arrays: dict[str, np.ndarray] = {}
    with h5py.File(path, "r") as h5:
        h5.visititems(
            lambda name, item: (
                arrays.__setitem__(name, item[()]) if isinstance(item, h5py.Dataset) else None
            )
        )
    return arrays


def flatten_muon_chunk(chunk: Mapping[str, Mapping[str, np.ndarray]]) -> dict[str, np.ndarray]:
    """{"signal": {"images": ...}, ...} -> {"signal/images": ..., ...} for :func:`write_chunk`."""
    return {
        f"{label}/{key}": values for label, part in chunk.items() for key, values in part.items()
    }


def _chunk_sizes(paths: Sequence[str | os.PathLike], name: str) -> list[int]:
    sizes = []
    for path in paths:
        with h5py.File(path, "r") as h5:
            sizes.append(int(h5[name].shape[0]))
    return sizes


def merge_electron_chunks(
    chunk_paths: Sequence[str | os.PathLike],
    unscaled_path: str | os.PathLike,
    scaled_path: str | os.PathLike,
    image_scale: float,
) -> None:
    """unscaled_data.h5 and data.h5 of the electron layout from the chunk files, in order.

    data.h5: images divided by image_scale (GeV), hl and mass standardised on train, as the
    toy simulator writes it (:func:`hepml.steps.data.write_electron_dataset`).
    """
    n_events = sum(_chunk_sizes(chunk_paths, "y"))
    with PublishedWriter(unscaled_path, ELECTRON_LAYOUT, n_events) as writer:
        for path in chunk_paths:
            writer.append(read_chunk(path))
    log.info("wrote %s (%d events from %d chunks)", unscaled_path, n_events, len(chunk_paths))
    scale_published(
        unscaled_path,
        scaled_path,
        divide=dict.fromkeys(IMAGE_KEYS, image_scale),
        standardise=STANDARDISED_KEYS,
    )


def merge_muon_chunks(
    chunk_paths: Sequence[str | os.PathLike],
    unscaled_path: str | os.PathLike,
    scaled_path: str | os.PathLike,
    settings: MuonGenSettings,
) -> PtWeights:
    """unscaled_data.h5 and data.h5 (same content, as published) of the muon layout.

    Groups images_*, iso_*, weights_*, pt_* per class (signal, bg); the background weights
    reweight its pT distribution to the signal's (signal weights are 1). The reweighting is a
    statistic of the data, so it is fitted on the train events of each class only
    (:func:`train_pt_weights`) and applied to every split: valid and test never shape what
    the models are trained on. Both files record its provenance in their root attributes
    (``pt_weights_fitted_on`` = 'train', the bin edges and ratios, the events it saw).
    Returns the fitted weights.
    """
    pts = {label: [] for label in CLASSES}
    for path in chunk_paths:
        chunk = read_chunk(path)
        for label in CLASSES:
            pts[label].append(chunk[f"{label}/pt"])
    pts = {label: np.concatenate(parts) for label, parts in pts.items()}
    weights, attrs = train_pt_weights(pts, settings)
    log.info(
        "pT weights fitted on the train split only (%d signal, %d background muons), "
        "applied to every split",
        attrs["pt_weights_train_events"][0], attrs["pt_weights_train_events"][1],
    )  # fmt: skip
    layout = published_layout(MuonSimSettings(iso_radii=settings.iso_radii))
    sizes = {name: len(pts[name.rsplit("_", 1)[1]]) for name in layout}
    with PublishedWriter(unscaled_path, layout, sizes, attrs=attrs) as writer:
        for path in chunk_paths:
            chunk = read_chunk(path)
            for label in CLASSES:
                pt = chunk[f"{label}/pt"]
                writer.append(
                    {
                        f"images_{label}": chunk[f"{label}/images"],
                        f"iso_{label}": chunk[f"{label}/iso"],
                        f"pt_{label}": pt,
                        f"weights_{label}": weights(pt, label == "signal"),
                    }
                )
    log.info(
        "wrote %s (%d signal, %d background muons from %d chunks)",
        unscaled_path, len(pts["signal"]), len(pts["bg"]), len(chunk_paths),
    )  # fmt: skip
    scale_published(unscaled_path, scaled_path, divide={}, standardise=())
    return weights


def train_pt_weights(
    pts: Mapping[str, np.ndarray], settings: MuonGenSettings
) -> tuple[PtWeights, dict[str, object]]:
    """The pT reweighting fitted on the train events of each class, and its provenance.

    pts: class ('signal', 'bg') -> (n,) pT of all its events in chunk order; the published
    writer gives the first ``split_sizes(n)["train"]`` of them to train
    (:func:`hepml.io.publish.split_sizes`), and only those enter the fit. Returns the weights
    and the attributes recorded in the published files.
    """
    train = {label: pts[label][: split_sizes(len(pts[label]))["train"]] for label in CLASSES}
    if any(len(values) == 0 for values in train.values()):
        raise ValueError(
            "generate: no train events to fit the pT weights on "
            f"({len(train['signal'])} signal, {len(train['bg'])} background); "
            "raise generate.n_events"
        )
    weights = pt_weights_from_sample(train["signal"], train["bg"], settings)
    attrs = {
        "pt_weights_fitted_on": "train",
        "pt_weights_train_events": np.array([len(train["signal"]), len(train["bg"])]),
        "pt_weights_edges": weights.edges,
        "pt_weights_ratio": weights.ratio,
    }
    return weights, attrs


def write_generated_chunk(
    kind: str,
    seed: int,
    chunk: int,
    n_events: int,
    settings: Mapping[str, object],
    path: str | os.PathLike,
) -> None:
    """Generate one chunk of a dataset kind ('electrons', 'muons' or 'jets') and write its file.

    settings: the dataset's ``generate`` config block (n_events and chunks are ignored).
    """
    from hepml.sources.pythia.electrons import ElectronGenSettings, generate_electron_chunk
    from hepml.sources.pythia.muons import generate_muon_chunk

    if kind == "electrons":
        arrays = generate_electron_chunk(
            seed, chunk, n_events, ElectronGenSettings.from_config(settings)
        )
    elif kind == "muons":
        arrays = flatten_muon_chunk(
            generate_muon_chunk(seed, chunk, n_events, MuonGenSettings.from_config(settings))
        )
    elif kind == "jets":
        from hepml.sources.pythia.jets import TopGenSettings, generate_top_chunk

        jets = generate_top_chunk(seed, chunk, n_events, TopGenSettings.from_config(settings))
        # single precision, as the benchmark's files store momenta (hepml.io.jets)
        arrays = {key: np.asarray(values, dtype=np.float32) for key, values in jets.items()}
        arrays["labels"] = jets["labels"]
    else:
        raise ValueError(
            f"generate: no generator for dataset kind {kind!r} (electrons, muons, jets)"
        )
    write_chunk(path, arrays)
    log.info("wrote %s (chunk %d, %d events, seed %d)", path, chunk, n_events, seed)


def merge_generated_chunks(
    kind: str,
    chunk_paths: Sequence[str | os.PathLike],
    unscaled_path: str | os.PathLike,
    scaled_path: str | os.PathLike,
    settings: Mapping[str, object],
) -> None:
    """The published files of a dataset kind from its chunk files (in the order given)."""
    from hepml.sources.pythia.electrons import ElectronGenSettings

    if kind == "electrons":
        image_scale = ElectronGenSettings.from_config(settings).image_scale
        merge_electron_chunks(chunk_paths, unscaled_path, scaled_path, image_scale)
    elif kind == "muons":
        merge_muon_chunks(
            chunk_paths, unscaled_path, scaled_path, MuonGenSettings.from_config(settings)
        )
    else:
        raise ValueError(f"generate: no generator for dataset kind {kind!r} (electrons, muons)")
