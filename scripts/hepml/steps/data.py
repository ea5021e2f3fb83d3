"""The data stage's rules (rules/data.smk, rules/generate.smk): simulate_dataset (the built-in
simulators' files), generate_chunk, merge_generated_chunks and merge_generated_table
(Pythia 8, docs/generator.md), generate_ntuple_chunk and merge_generated_ntuples (the built-in
ROOT ntuples, docs/ntuples.md), download_dataset, unpack_h5, recompute_hl, plot_data.

The published HDF5 layout is written by ``hepml.io.publish`` and read, validated and unpacked by
``hepml.io``; the simulators (``hepml.sources.simulate``) and the HL features (``hepml.hl``) only
see arrays.
"""

from __future__ import annotations

import logging
import os
from collections.abc import Mapping
from pathlib import Path

import numpy as np

from hepml import hl, io
from hepml.io.publish import scale_published, split_sizes, write_published
from hepml.sources.simulate.electrons import (
    ELECTRON_LAYOUT,
    IMAGE_KEYS,
    STANDARDISED_KEYS,
    ElectronSimSettings,
    require_both_classes,
    simulate_electrons,
)
from hepml.sources.simulate.muons import (
    MuonSimSettings,
    published_chunks,
    published_layout,
    published_sizes,
)

log = logging.getLogger(__name__)


def simulate_dataset(outputs: Mapping, params: Mapping) -> None:
    """The built-in simulator of the dataset's kind -> outputs data, unscaled (published
    layout). params: kind, n_events, seed, settings (the dataset's simulate block)."""
    kind, settings = str(params["kind"]), dict(params["settings"])
    if kind == "electrons":
        write, settings = write_electron_dataset, ElectronSimSettings.from_config(settings)
    elif kind == "muons":
        write, settings = write_muon_dataset, MuonSimSettings.from_config(settings)
    else:
        raise ValueError(f"simulate_dataset: no built-in simulator for kind {kind!r}")
    write(
        n_events=int(params["n_events"]),
        seed=int(params["seed"]),
        settings=settings,
        unscaled_path=str(outputs["unscaled"]),
        scaled_path=str(outputs["data"]),
    )


def generate_chunk(outputs: Mapping, params: Mapping, chunk: int) -> None:
    """One chunk of Pythia 8 events of the dataset's kind -> outputs chunk
    (``hepml.sources.pythia.chunks.write_generated_chunk``)."""
    from hepml.sources.pythia.chunks import write_generated_chunk

    write_generated_chunk(
        kind=str(params["kind"]),
        seed=int(params["seed"]),
        chunk=int(chunk),
        n_events=int(params["n_events"]),
        settings=dict(params["settings"]),
        path=str(outputs["chunk"]),
    )


def merge_generated_chunks(inputs: Mapping, outputs: Mapping, params: Mapping) -> None:
    """The chunks of a generated lepton dataset -> outputs data, unscaled (published layout)."""
    from hepml.sources.pythia import chunks

    chunks.merge_generated_chunks(
        kind=str(params["kind"]),
        chunk_paths=[str(path) for path in inputs["chunks"]],
        unscaled_path=str(outputs["unscaled"]),
        scaled_path=str(outputs["data"]),
        settings=dict(params["settings"]),
    )


def merge_generated_table(inputs: Mapping, outputs: Mapping, params: Mapping) -> None:
    """The chunks of a generated tabular dataset -> outputs table (UCI layout, CSV.gz) and
    scaling (JSON); params seed (the row shuffle), test_rows (the last rows)."""
    from hepml.sources.pythia import chunks

    chunks.merge_table_chunks(
        chunk_paths=[str(path) for path in inputs["chunks"]],
        csv_path=str(outputs["table"]),
        scaling_path=str(outputs["scaling"]),
        seed=int(params["seed"]),
        test_rows=int(params["test_rows"]),
    )


def generate_ntuple_chunk(
    inputs: Mapping, outputs: Mapping, params: Mapping, sample: str, chunk: int
) -> None:
    """One chunk of a built-in ntuple sample (docs/ntuples.md "Built-in ntuples") -> outputs
    chunk. params: seed, settings (the ``ntuples.generate`` block), yields (pseudo-data only:
    process -> the tree, weight expression, constants and definitions of its MC sample).
    The pseudo-data's chunks read the MC files (inputs ``higgs``, ``ttbar``) for the expected
    yields their Poisson counts are drawn around."""
    from hepml.sources.pythia import higgs_ntuples as ntuples

    seed, chunk = int(params["seed"]), int(chunk)
    settings = ntuples.NtupleGenSettings.from_config(dict(params["settings"]))
    if sample == ntuples.DATA:
        mc = {process: str(inputs[process]) for process in ntuples.PROCESSES}
        counts = ntuples.data_chunk_counts(mc, params["yields"], seed, chunk, settings.chunks)
    else:
        counts = {sample: ntuples.chunk_share(settings.events(sample), settings.chunks, chunk)}
    ntuples.write_ntuple_chunk(
        sample, seed, chunk, counts, dict(params["settings"]), str(outputs["chunk"])
    )


def merge_generated_ntuples(inputs: Mapping, outputs: Mapping, params: Mapping, sample: str):
    """The chunks of a built-in ntuple sample -> outputs root (tree ``mini``, MeV); params
    seed (the pseudo-data's event order)."""
    from hepml.sources.pythia import higgs_ntuples as ntuples

    ntuples.merge_ntuple_chunks(
        sample, [str(path) for path in inputs["chunks"]], str(outputs["root"]), int(params["seed"])
    )


def write_electron_dataset(
    n_events: int,
    seed: int,
    settings: ElectronSimSettings,
    unscaled_path: str | os.PathLike,
    scaled_path: str | os.PathLike,
    chunk_size: int = 10_000,
) -> None:
    """Simulate n_events candidates and write unscaled_data.h5 and data.h5 (published layout).

    unscaled_path: raw values (GeV).  scaled_path: the same events with the images divided by
    ``settings.image_scale`` (GeV) and hl, mass standardised with train-split mean and standard
    deviation (:func:`hepml.io.publish.scale_published`; the transform is stored in each
    group's attributes); y copied.
    """
    write_published(
        require_both_classes(
            simulate_electrons(n_events, seed, settings, chunk_size),
            split_sizes(n_events),
            settings.signal_fraction,
        ),
        unscaled_path,
        ELECTRON_LAYOUT,
        n_events,
    )
    log.info("wrote %s (%d events, seed %d)", unscaled_path, n_events, seed)
    scale_published(
        unscaled_path,
        scaled_path,
        divide=dict.fromkeys(IMAGE_KEYS, settings.image_scale),
        standardise=STANDARDISED_KEYS,
        chunk_size=chunk_size,
    )


def write_muon_dataset(
    n_events: int,
    seed: int,
    settings: MuonSimSettings,
    unscaled_path: str | os.PathLike,
    scaled_path: str | os.PathLike,
    chunk_size: int = 10_000,
) -> None:
    """Simulate n_events muons and write unscaled_data.h5 and data.h5 (published layout).

    The published muon data.h5 holds raw values (images in GeV, isolation as a fraction of
    the muon pT), so data.h5 is the same content as unscaled_data.h5: a copy through
    :func:`hepml.io.publish.scale_published` with no transform (every group's attribute
    ``transform`` reads 'copy').  Both files are written under temporary names.
    """
    write_published(
        published_chunks(n_events, seed, settings, chunk_size),
        unscaled_path,
        published_layout(settings),
        published_sizes(n_events, settings),
    )
    scale_published(unscaled_path, scaled_path, divide={}, standardise=(), chunk_size=chunk_size)


def download_dataset(outputs: Mapping, params: Mapping) -> str:
    """Fetch one published file (params url, sha256 and md5 or None, pin_key) to
    ``outputs["h5"]`` and check its pinned digests (``hepml.io.download_file``: with none
    pinned, a warning on the terminal and in the log gives the digests and the config key to
    pin; a failed transfer or a mismatch leaves no file). Returns the sha256 digest."""
    sha256, md5 = params["sha256"], params.get("md5")
    return io.download_file(
        url=str(params["url"]),
        dest=str(outputs["h5"]),
        sha256=str(sha256) if sha256 else None,
        md5=str(md5) if md5 else None,
        pin_key=str(params["pin_key"]),
    )


def unpack_h5(inputs: Mapping, outputs: Mapping, params: Mapping, split: str) -> dict:
    """Every key of one split of the published file ``inputs["h5"]``: ``outputs`` maps each
    unpacked key to its Feather file, validated on the way (``hepml.io.unpack_key``: physical
    bounds, checksums, an empty split refused). params: settings (kind, keys, seed, ecm_gev:
    sqrt(s) of the collisions, absent or None for the kind's published value). A key that
    fails removes the files of the keys written before it: the job leaves no partial output.
    Returns the summary of each key."""
    settings = params["settings"]
    written, summaries = [], {}
    try:
        for key, out_path in outputs.items():
            summaries[key] = io.unpack_key(
                h5_path=str(inputs["h5"]),
                kind=str(settings["kind"]),
                keys=[str(name) for name in settings["keys"]],
                split=str(split),
                key=str(key),
                out_path=str(out_path),
                seed=int(settings["seed"]),
                ecm_gev=settings.get("ecm_gev"),
            )
            written.append(out_path)
    except BaseException:
        for path in written:
            Path(path).unlink(missing_ok=True)
        raise
    return summaries


def recompute_hl(inputs: Mapping, outputs: Mapping, params: Mapping) -> dict:
    """The 7 HL features recomputed from the unpacked images of every split, compared with the
    file's own hl (median and max relative deviation per feature).

    inputs et, ht, ee, hl and outputs recomputed: one Feather file per split, in the order of
    params splits; outputs check: the JSON report (per split and all splits together). params
    file: the published file's name, recorded in the report.
    """
    published, recomputed = [], []
    report = {"file": str(params["file"]), "splits": {}}
    for split, et, ht, ee, hl_path, out in zip(
        params["splits"],
        inputs["et"],
        inputs["ht"],
        inputs["ee"],
        inputs["hl"],
        outputs["recomputed"],
        strict=True,
    ):
        et, ht, ee = (io.read_array(path) for path in (et, ht, ee))
        io.write_array_chunks(out, len(et), hl.recompute_hl(et, ht, ee))
        published.append(io.read_array(hl_path))
        recomputed.append(io.read_array(out))
        report["splits"][split] = hl.compare_hl(published[-1], recomputed[-1])
        log.info("%s: %s", split, report["splits"][split])
    report["all"] = hl.compare_hl(np.concatenate(published), np.concatenate(recomputed))
    io.write_json(outputs["check"], report)
    return report


def plot_data(inputs: Mapping, outputs: Mapping, params: Mapping, dataset: str) -> None:
    """Class-average images and feature distributions of the train split (weighted).

    inputs: y, weight and one Feather file per image and feature key; outputs images, features;
    params settings: file (named in the figures), image_keys, feature_keys.
    """
    from hepml.plots import data as plots_data  # matplotlib: only this rule of the stage

    settings = params["settings"]
    class_names = plots_data.CLASS_NAMES[settings["kind"]]
    note = f"{dataset}, train split of {settings['file']}"
    y = io.read_array(inputs["y"])
    weight = io.read_array(inputs["weight"])
    means = {
        key: plots_data.class_means(io.read_array(inputs[key]), y, weight)
        for key in settings["image_keys"]
    }
    io.write_figure(plots_data.plot_average_images(means, class_names, note), outputs["images"])
    columns = plots_data.feature_columns(
        {key: io.read_array(inputs[key]) for key in settings["feature_keys"]}
    )
    figure = plots_data.plot_feature_distributions(columns, y, weight, class_names, note)
    io.write_figure(figure, outputs["features"])
