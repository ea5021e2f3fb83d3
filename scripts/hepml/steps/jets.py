"""The top-tagging rules (rules/jets.smk, docs/jets.md): unpack_jets, merge_generated_jets,
plot_jets and top_tagging_table.

A dataset of kind ``jets`` is published as the benchmark's three pandas HDF5 files
(hepml.io.jets: train.h5, val.h5, test.h5). unpack_jets turns one of them into the
workflow's Feather arrays in one streamed pass, block by block, so that memory is bounded by
``block_rows`` whatever the file's length:

==============  ======================  ===============================================
key             per-jet shape, dtype    content
==============  ======================  ===============================================
jet       (40, 40, 1) float32     pT image, centred, rotated, flipped, sum 1
                                        (hepml.jets.preprocess.jets)
constituents    (200, 3) float32        (pT / pT_jet, Delta eta, Delta phi), zero-padded
                                        (hepml.jets.preprocess.particle_inputs)
hl              (4,) float64            mass (GeV), tau_21, tau_32, constituents
                                        (hepml.jets.substructure)
mass            (1,) float64            the jet mass alone (GeV), hl's first column
y               () int8                 1 = top, 0 = QCD (is_signal_new)
weight          () float64              ones (the benchmark has no weights)
==============  ======================  ===============================================
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Mapping, Sequence

import numpy as np
import pandas as pd

from hepml import io
from hepml.plan import KIND_KEYS
from hepml.settings import DEFAULT_ECM_GEV

log = logging.getLogger(__name__)

KEYS = KIND_KEYS["jets"]
HL_NAMES = ("mass", "tau21", "tau32", "n_constituents")
_PROGRESS_SECONDS = 30.0


def jet_arrays(constituents: np.ndarray, labels: np.ndarray, keys: Sequence[str]) -> dict:
    """The unpacked arrays of a block of jets (module docstring), for the keys asked."""
    from hepml.jets.preprocess import jet_images, particle_inputs
    from hepml.jets.substructure import jet_mass, substructure_features

    arrays = {}
    if "hl" in keys:  # N-subjettiness (fastjet): the expensive part, once per block
        features, names = substructure_features(constituents)
        if tuple(names) != HL_NAMES:
            raise AssertionError(f"substructure features {names}, expected {HL_NAMES}")
        arrays["hl"] = np.asarray(features, dtype=np.float64)
    for key in keys:
        if key in arrays:
            continue
        if key == "jet":
            arrays[key] = jet_images(constituents)[..., None]
        elif key == "constituents":
            arrays[key] = particle_inputs(constituents).astype(np.float32)
        elif key == "mass":  # hl's first column, or the mass alone when hl is not asked for
            mass = arrays["hl"][:, 0] if "hl" in arrays else jet_mass(constituents)
            arrays[key] = np.asarray(mass, dtype=np.float64)[:, None]
        elif key == "y":
            arrays[key] = np.asarray(labels, dtype=np.int8)
        elif key == "weight":
            arrays[key] = np.ones(len(labels), dtype=np.float64)
        else:
            raise ValueError(f"unknown jets key {key!r}; known: {list(KEYS)}")
    return arrays


def check_jet_energies(path: str, constituents: np.ndarray, start: int, ecm_gev: float) -> None:
    """A block of jets against docs/reference.md "Physical bounds": each constituent's energy
    at most sqrt(s)/2 (one beam's), each jet's summed energy at most sqrt(s); a DataError names
    the file, the key, the row, the value and the bound.  (The reader has checked that values
    are finite and energies non-negative.) constituents: (n, 200, 4) [E, px, py, pz], GeV."""
    energy = np.asarray(constituents[..., 0], dtype=np.float64)
    for what, values, bound in (
        ("constituent energy", energy.max(axis=1), ecm_gev / 2),
        ("jet energy (sum of its constituents')", energy.sum(axis=1), ecm_gev),
    ):
        above = values > bound
        if above.any():
            row = int(np.argmax(above))
            raise io.DataError(
                f"{path}: key 'table', row {start + row}: {what} {values[row]:.7g} GeV above "
                f"the bound {bound:.7g} GeV (sqrt(s) = {ecm_gev:g} GeV); the file is damaged "
                "or not of these collisions"
            )


def unpack_jets(inputs: Mapping, outputs: Mapping, params: Mapping) -> int:
    """One benchmark file (inputs h5) -> one Feather file per key (outputs, named by key).

    params settings: block_rows (jets per block), ecm_gev (sqrt(s), the scale of
    :func:`check_jet_energies`; default the benchmark's 14 TeV). Returns the number of jets.
    A bad file raises hepml.io.jets.BenchmarkFormatError naming the file, key and
    row (io.DataError for a value outside the physical bounds, or an empty file), and leaves
    no output behind (every Feather file is written under a temporary name first).
    """
    from hepml.io.jets import count_jets, read_blocks

    path = str(inputs["h5"])
    keys = [key for key in KEYS if key in outputs]
    unknown = sorted(set(outputs) - set(KEYS))
    if unknown:
        raise ValueError(f"unpack_jets: unknown output key(s) {unknown}; known: {list(KEYS)}")
    for out in outputs.values():
        io.remove_stale_temporaries(out)
    n = count_jets(path)
    if n == 0:
        raise io.DataError(f"{path}: empty split: key 'table' holds no jets")
    settings = params["settings"]
    ecm_gev = float(settings.get("ecm_gev") or DEFAULT_ECM_GEV["jets"])
    block_rows = int(settings["block_rows"])
    started = last = time.perf_counter()
    done = 0
    with contextlib.ExitStack() as stack:
        writers = {}
        for block in read_blocks(path, block_rows):
            check_jet_energies(path, block.constituents, block.start, ecm_gev)
            arrays = jet_arrays(block.constituents, block.labels, keys)
            for key in keys:
                if key not in writers:
                    writers[key] = stack.enter_context(
                        io.FeatherArrayWriter(
                            outputs[key], n, arrays[key].shape[1:], arrays[key].dtype
                        )
                    )
                writers[key].write(arrays[key])
            done += len(block)
            now = time.perf_counter()
            if now - last > _PROGRESS_SECONDS or done == n:
                last = now
                log.info("%s: %d/%d jets unpacked, %.0f s", path, done, n, now - started)
    return n


def merge_generated_jets(inputs: Mapping, outputs: Mapping, params: Mapping) -> dict[str, int]:
    """The generated chunks (inputs chunks, in chunk order) -> the benchmark's three files
    (outputs train, valid, test): with params fractions, the first ``fractions['train']`` of
    the jets to train, the next ``fractions['valid']`` to valid, the rest to test (each
    chunk's jets are already in a seeded random order of both classes)."""
    from hepml.io.jets import SPLIT_TTV, write_benchmark
    from hepml.sources.pythia.chunks import read_chunk

    chunk_paths = [str(path) for path in inputs["chunks"]]
    fractions = {str(split): float(value) for split, value in params["fractions"].items()}

    chunks = [read_chunk(path) for path in chunk_paths]
    constituents = np.concatenate([chunk["constituents"] for chunk in chunks])
    labels = np.concatenate([chunk["labels"] for chunk in chunks])
    truth = np.concatenate([chunk["truth"] for chunk in chunks])
    n = len(labels)
    n_train = int(round(fractions["train"] * n))
    n_valid = int(round(fractions["valid"] * n))
    bounds = {
        "train": (0, n_train),
        "valid": (n_train, n_train + n_valid),
        "test": (n_train + n_valid, n),
    }
    sizes = {}
    for split, (start, stop) in bounds.items():
        if stop <= start:
            raise ValueError(f"merge_generated_jets: {n} jets leave the {split} split empty")
        part = slice(start, stop)
        write_benchmark(
            outputs[split], constituents[part], labels[part], truth[part], ttv=SPLIT_TTV[split]
        )
        sizes[split] = stop - start
        tops = int(labels[part].sum())
        log.info("%s: %d jets (%d top)", outputs[split], sizes[split], tops)
    return sizes


def plot_jets(inputs: Mapping, outputs: Mapping, dataset: str) -> None:
    """The class-average jet images and the standard features of the train split."""
    from hepml.plots import data as plots_data

    class_names = plots_data.CLASS_NAMES["jets"]
    note = f"{dataset}, train split"
    y = io.read_array(inputs["y"])
    weight = io.read_array(inputs["weight"])
    # images read a block at a time by positioned reads (io.ArrayRows): a memory map's pages
    # would count in the job's memory, the whole train split's images by the end
    means = {"jet": plots_data.class_means(io.ArrayRows(inputs["jet"]), y, weight)}
    io.write_figure(plots_data.plot_average_images(means, class_names, note), outputs["images"])
    columns = plots_data.feature_columns({"hl": io.read_array(inputs["hl"])}, {"hl": HL_NAMES})
    figure = plots_data.plot_feature_distributions(columns, y, weight, class_names, note)
    io.write_figure(figure, outputs["features"])


def top_tagging_table(inputs: Mapping, outputs: Mapping, params: Mapping) -> pd.DataFrame:
    """Our AUC and rejections at 30 % and 50 % signal efficiency per model (inputs metrics),
    beside the benchmark paper's values for the same model family (params settings published:
    name -> entry), labelled as computed on other data (docs/jets.md).

    A metrics file without a rejection the table needs (evaluate_model computes one per
    ``evaluation.signal_efficiencies``) raises ValueError naming the file, the key and the
    config key, rather than leaving the column empty; a rejection that is null in the file
    (a collapsed model, or no background left at that efficiency) stays an empty cell.
    """
    from hepml import metrics
    from hepml.io.jets import REJECTION_EFFICIENCIES

    rows = []
    metrics_paths = [str(path) for path in inputs["metrics"]]
    published = params["settings"].get("published") or {}
    for path in metrics_paths:
        entry = io.read_json(path)
        reference = published.get(entry["name"]) or {}
        row = {
            "name": entry["name"],
            "model": entry.get("model"),
            "auc": entry.get("auc"),
            "auc_low": entry.get("auc_low"),
            "auc_high": entry.get("auc_high"),
        }
        for eps in REJECTION_EFFICIENCIES:
            key = metrics.rejection_key(eps)
            if key not in entry:
                raise ValueError(
                    f"{path}: no {key!r}: the top-tagging table needs the background rejection "
                    f"at signal efficiencies {list(REJECTION_EFFICIENCIES)}; add them to "
                    "evaluation.signal_efficiencies"
                )
            row[key] = entry[key]
        row.update(
            {
                "benchmark_tagger": reference.get("tagger"),
                "benchmark_auc": reference.get("auc"),
            }
        )
        for eps in REJECTION_EFFICIENCIES:
            key = metrics.rejection_key(eps)
            row[f"benchmark_{key}"] = reference.get(key)
        rows.append(row)
    table = pd.DataFrame(rows)
    io.write_text(outputs["table"], table.to_csv(index=False))
    note = (
        "\nBenchmark columns: the top-tagging comparison arXiv:1902.09914 (values of its "
        "analysis notebook, docs/jets.md section 6), on its Delphes sample, not on these jets; "
        "shown for orientation, never used as a target.\n"
    )
    io.write_text(outputs["markdown"], metrics.markdown_table(table) + note)
    return table
