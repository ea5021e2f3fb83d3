"""Synthetic top and QCD jets in the top-tagging benchmark's layout, written in row blocks.

For the paper-scale rehearsal's jets axis (benchmarks/rehearse_paper.py): the benchmark's
sizes (arXiv:1902.09914 sec. 2: 1.2 M train, 400 k valid, 400 k test jets) through the real
jets rules, without Pythia (docs/generator.md: far too slow at this scale). The physics is a
sketch, enough for the rules to do their work on realistic shapes: jets of 550-650 GeV at
|eta| < 2 whose massless constituents (30-80 of them, pT ordered, zero-padded to 200) sit
around three prongs (top) or one hard and one soft prong (QCD), each prong a Gaussian of
width 0.05 in (eta, phi). Files: pandas ``format="table"`` under key ``table``, the 806
columns of :func:`hepml.io.jets.benchmark_columns` (momenta float32, ttv and label
int64), appended ``block_rows`` jets at a time so that memory holds one block. Seeded: block
b of a split draws from ``default_rng([seed, split index, b])``.
"""

from __future__ import annotations

import os
import sys
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))

from hepml.io.jets import (  # noqa: E402
    KEY,
    LABEL_COLUMN,
    N_CONSTITUENTS,
    SPLIT_FILES,
    SPLIT_TTV,
    TRUTH_COLUMNS,
    TTV_COLUMN,
    constituent_columns,
)

BENCHMARK_SIZES = {"train": 1_200_000, "valid": 400_000, "test": 400_000}
BLOCK_ROWS = 50_000
PRONG_WIDTH = 0.05


def synthetic_block(n: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """(constituents (n, 200, 4) [E, px, py, pz] GeV pT ordered, labels (n,) 1 = top)."""
    labels = rng.integers(0, 2, n)
    pt_jet = rng.uniform(550.0, 650.0, n)
    eta_jet, phi_jet = rng.uniform(-2.0, 2.0, n), rng.uniform(-np.pi, np.pi, n)
    # prongs: fractions and positions relative to the jet axis
    top_fractions = rng.dirichlet([3.0, 2.0, 2.0], n)
    qcd_fractions = np.stack([np.full(n, 0.9), np.full(n, 0.1), np.zeros(n)], axis=1)
    fractions = np.where(labels[:, None] == 1, top_fractions, qcd_fractions)
    radius = rng.uniform(0.15, 0.6, (n, 3))
    radius[:, 0] *= 0.2  # the hardest prong close to the axis
    angle = rng.uniform(0, 2 * np.pi, (n, 3))
    prong_eta, prong_phi = radius * np.cos(angle), radius * np.sin(angle)
    # constituents: multiplicity, prong of each, pT shares, positions
    count = np.clip(rng.poisson(np.where(labels == 1, 60, 40)), 4, 80)
    present = np.arange(N_CONSTITUENTS)[None, :] < count[:, None]
    prong = rng.random((n, N_CONSTITUENTS))[..., None] > np.cumsum(fractions, 1)[:, None, :]
    prong = np.minimum(prong.sum(axis=2), 2)
    shares = rng.exponential(size=(n, N_CONSTITUENTS)) * present
    shares /= shares.sum(axis=1, keepdims=True)
    pt = -np.sort(-shares * pt_jet[:, None], axis=1)  # pT ordered, padding last
    rows = np.arange(n)[:, None]
    eta = eta_jet[:, None] + prong_eta[rows, prong] + rng.normal(0, PRONG_WIDTH, pt.shape)
    phi = phi_jet[:, None] + prong_phi[rows, prong] + rng.normal(0, PRONG_WIDTH, pt.shape)
    constituents = np.stack(
        [pt * np.cosh(eta), pt * np.cos(phi), pt * np.sin(phi), pt * np.sinh(eta)], axis=2
    )
    constituents[pt == 0] = 0.0
    return constituents, labels


def write_split(
    path: str | os.PathLike, n: int, split: str, seed: int, block_rows: int = BLOCK_ROWS
) -> None:
    """n synthetic jets of one split in the benchmark layout, appended block by block; the
    file appears under its name only once complete."""
    import pandas as pd

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.partial")
    temporary.unlink(missing_ok=True)
    columns = [*constituent_columns(), *TRUTH_COLUMNS]
    index = list(SPLIT_FILES).index(split)
    try:
        with pd.HDFStore(temporary, mode="w", complevel=0) as store:
            for block, start in enumerate(range(0, n, block_rows)):
                rng = np.random.default_rng([seed, index, block])
                size = min(block_rows, n - start)
                constituents, labels = synthetic_block(size, rng)
                values = np.zeros((size, len(columns)), dtype=np.float32)
                values[:, : 4 * N_CONSTITUENTS] = constituents.reshape(size, -1)
                frame = pd.DataFrame(values, columns=columns, index=np.arange(start, start + size))
                frame[TTV_COLUMN] = np.full(size, SPLIT_TTV[split], dtype=np.int64)
                frame[LABEL_COLUMN] = labels.astype(np.int64)
                store.append(KEY, frame, format="table", index=False)
        os.replace(temporary, path)
    except BaseException:
        temporary.unlink(missing_ok=True)
        raise


def write_benchmark_files(directory: str | os.PathLike, sizes: dict, seed: int) -> Path:
    """train.h5, val.h5, test.h5 of the given sizes in directory (kept when already there)."""
    directory = Path(directory)
    for split, name in SPLIT_FILES.items():
        if not (directory / name).exists():
            print(f"writing {directory / name}: {sizes[split]} synthetic jets", flush=True)
            write_split(directory / name, int(sizes[split]), split, seed)
    return directory
