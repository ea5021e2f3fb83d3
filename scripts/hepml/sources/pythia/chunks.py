"""Per-chunk files of generated events and their merging into the published files.

A chunk file is a plain HDF5 file with one dataset per array, named ``<key>`` (electrons) or
``<class>/<key>`` (muons: ``signal/images``, ``bg/pt``, ...), written under a temporary name
and renamed when complete, without timestamps (same events, same bytes).  Merging streams the
chunks in chunk order into :class:`hepml.io.publish.PublishedWriter`, so the first 64 % of the
events (per class for muons) go to train, the next 16 % to valid and the rest to test, and
writes the scaled companion file with :func:`hepml.io.publish.scale_published`.  Tabular
chunks (``features``, ``labels``) merge into one table in the UCI Higgs layout
(:func:`merge_table_chunks`: rows shuffled, the last ``test_rows`` the test rows).  Every
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
MERGE_STREAM = 99  # the row shuffle of a merged table: SeedSequence([seed, MERGE_STREAM])


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
    """Generate one chunk of a dataset kind ('electrons', 'muons', 'jets' or 'tabular') and
    write its file.

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
    elif kind == "tabular":
        from hepml.sources.pythia.higgs import HiggsGenSettings, generate_higgs_chunk

        # n_events is per class for this kind: the chunk holds n_events of each
        arrays = generate_higgs_chunk(seed, chunk, n_events, HiggsGenSettings.from_config(settings))
    else:
        raise ValueError(
            f"generate: no generator for dataset kind {kind!r} (electrons, muons, jets, tabular)"
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


# ------------------------------------------------------------------ tables (kind tabular)
def scale_table(features: np.ndarray, names: Sequence[str], signed: Sequence[str], n_fit: int):
    """The table scaled as the UCI Higgs file: signed columns standardised, positive ones
    divided by their mean, every statistic from the first n_fit rows (the training rows).

    features (n, k) in the order of names. Returns the scaled float64 table and, per column,
    {method, offset, scale} (scaled = (value - offset) / scale).
    """
    if not 0 < n_fit <= len(features):
        raise ValueError(f"scale_table: {n_fit} fitting rows of {len(features)}")
    fit = features[:n_fit]
    stats = {}
    offset = np.zeros(features.shape[1])
    scale = np.ones(features.shape[1])
    for k, name in enumerate(names):
        if name in signed:
            offset[k], scale[k] = fit[:, k].mean(), fit[:, k].std()
            method = "standardise"
        else:
            scale[k] = fit[:, k].mean()
            method = "divide_by_mean"
        if not np.isfinite(scale[k]) or scale[k] <= 0:
            raise ValueError(
                f"scale_table: column {name!r} has scale {scale[k]} on the training rows "
                "(constant or empty); generate more events"
            )
        stats[name] = {"method": method, "offset": float(offset[k]), "scale": float(scale[k])}
    return (features - offset) / scale, stats


def write_uci_csv(path: str | os.PathLike, labels: np.ndarray, features: np.ndarray) -> None:
    """The UCI HIGGS layout, gzip-compressed: no header, the label (1.0 signal, 0.0
    background) then the feature columns, one row per event; atomic (temporary name, renamed
    when complete), no timestamp in the gzip header (same rows, same bytes)."""
    import gzip

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    table = np.column_stack([np.asarray(labels, dtype=np.float64), features])
    try:
        with (
            open(temporary, "wb") as raw,
            gzip.GzipFile(fileobj=raw, mode="wb", mtime=0, filename="") as stream,
        ):
            # 9 significant digits (a float32 survives the round trip), always with an
            # exponent, so that no reader takes a column for integers
            formats = ["%.1f"] + ["%.8e"] * features.shape[1]
            for start in range(0, len(table), 100_000):
                np.savetxt(stream, table[start : start + 100_000], fmt=formats, delimiter=",")
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def _check_table_chunk(path, chunk: Mapping[str, np.ndarray], n_features: int) -> None:
    """A tabular chunk holds features (n, n_features) and labels (n,) of 0 and 1."""
    features, labels = chunk.get("features"), chunk.get("labels")
    if features is None or features.ndim != 2 or features.shape[1] != n_features:
        got = "nothing" if features is None else f"shape {features.shape}"
        raise ValueError(f"{path}: key 'features': expected shape (n, {n_features}), got {got}")
    if labels is None or labels.shape != (len(features),) or not np.isin(labels, (0, 1)).all():
        got = "nothing" if labels is None else f"shape {labels.shape}"
        raise ValueError(
            f"{path}: key 'labels': expected ({len(features)},) values 0 or 1, got {got}"
        )
    if not np.isfinite(features).all():
        raise ValueError(f"{path}: key 'features': expected finite values, found NaN or inf")


def merge_table_chunks(
    chunk_paths: Sequence[str | os.PathLike],
    csv_path: str | os.PathLike,
    scaling_path: str | os.PathLike,
    seed: int,
    test_rows: int,
) -> dict[str, object]:
    """The generated chunks of a tabular dataset -> its table in the UCI layout.

    Rows of every chunk are concatenated in chunk order and shuffled with a generator seeded
    from (seed, :data:`MERGE_STREAM`); the last test_rows rows are the test rows; the scaling
    (:func:`scale_table`) is fitted on the rows before them, written beside the table
    (scaling_path, JSON: per column method, offset, scale; the rows it saw).
    """
    from hepml import io
    from hepml.sources.pythia.higgs import FEATURES, SIGNED

    features, labels = [], []
    for path in chunk_paths:
        chunk = read_chunk(path)
        _check_table_chunk(path, chunk, len(FEATURES))
        features.append(chunk["features"])
        labels.append(chunk["labels"])
    features, labels = np.concatenate(features), np.concatenate(labels)
    n = len(labels)
    if not 0 < int(test_rows) < n:
        raise ValueError(
            f"table.test_rows: {test_rows} test rows of {n} generated rows leave no training "
            "rows (expected 0 < test_rows < rows; raise generate.n_events or lower test_rows)"
        )
    order = np.random.default_rng(np.random.SeedSequence([int(seed), MERGE_STREAM])).permutation(n)
    features, labels = features[order], labels[order]
    n_fit = n - int(test_rows)
    scaled, stats = scale_table(features, FEATURES, SIGNED, n_fit)
    summary = {
        "rows": n,
        "test_rows": int(test_rows),
        "fitted_on": "train",
        "fitted_rows": n_fit,
        "signal_rows": int(labels.sum()),
        "columns": stats,
    }
    try:
        write_uci_csv(csv_path, labels, scaled)
        io.write_json(scaling_path, summary)
    except BaseException:  # no table without its scaling record
        Path(csv_path).unlink(missing_ok=True)
        raise
    log.info(
        "wrote %s (%d rows, %d signal; the last %d are the test rows; scaling fitted on the "
        "first %d)", csv_path, n, int(labels.sum()), int(test_rows), n_fit,
    )  # fmt: skip
    return summary
