"""Input scaling fitted on the train split only (docs/reference.md 3, "Known mistakes"), saved
beside the model as preprocess.json: the same transform then scales valid, test and any later
split."""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from hepml.models.networks import InputSpec, input_specs

log = logging.getLogger(__name__)

FIT_BLOCK_EVENTS = 16384  # events per block when fitting the image scales (bounded memory)
FLAT_FIT_BLOCK_EVENTS = 1 << 18  # events per block of the flat inputs' mean and std (float64)


def flat_moments(source, name: str) -> tuple[np.ndarray, np.ndarray]:
    """Per-column mean and standard deviation (float64) of a flat input (N, ...), in one pass
    over blocks of FLAT_FIT_BLOCK_EVENTS events (an array or ``io.TableRows``: 10.5M x 28
    values never held as float64, 2.4 GB).

    Each block's mean and variance are numpy's; blocks are merged with the pairwise update of
    Chan, Golub & LeVeque, "Algorithms for computing the sample variance", Am. Stat. 37, 242
    (1983): a split of at most one block gives exactly ``mean(axis=0)`` and ``std(axis=0)``
    of the whole array. Raises ValueError when a value is NaN or infinite.
    """
    count, mean, variance = 0, None, None
    for start in range(0, max(len(source), 1), FLAT_FIT_BLOCK_EVENTS):
        values = np.asarray(source[start : start + FLAT_FIT_BLOCK_EVENTS], dtype=np.float64)
        if not np.isfinite(values).all():
            raise ValueError(f"train input {name!r} contains NaN or infinity")
        flat = values.reshape(values.shape[0], -1)
        k, block_mean, block_variance = len(flat), flat.mean(axis=0), flat.var(axis=0)
        if mean is None:
            count, mean, variance = k, block_mean, block_variance
            continue
        total = count + k
        delta = block_mean - mean
        m2 = variance * count + block_variance * k + delta**2 * (count * k / total)
        count, mean, variance = total, mean + delta * (k / total), m2 / total
    return mean, np.sqrt(variance)


@dataclass(frozen=True)
class Preprocessor:
    """Input scaling fitted on the train split, saved beside the model (preprocess.json).

    Images are divided by one constant per key: the mean over train events of the total image
    sum (for ET images, the mean total ET in GeV), so a typical image sums to about 1. Flat
    inputs are standardised per column with the train mean and standard deviation (a constant
    column gets std 1; :func:`flat_moments`, one streamed pass). Particle lists (jet
    constituents) pass unchanged: their momentum fractions and angles are already of order
    one, and zero padding must stay zero.
    """

    specs: tuple[InputSpec, ...]
    image_scale: Mapping[str, float]
    mean: Mapping[str, tuple[float, ...]]
    std: Mapping[str, tuple[float, ...]]

    @classmethod
    def fit(cls, arrays: Mapping[str, np.ndarray], names: Sequence[str]) -> Preprocessor:
        """Fit on the train arrays (N, ...) of the model inputs ``names``."""
        specs = tuple(input_specs(arrays, names))
        scale, mean, std = {}, {}, {}
        for spec in specs:
            if spec.is_particles:
                source = arrays[spec.name]
                for start in range(0, len(source), FIT_BLOCK_EVENTS):
                    if not np.isfinite(source[start : start + FIT_BLOCK_EVENTS]).all():
                        raise ValueError(f"train input {spec.name!r} contains NaN or infinity")
            elif spec.is_image:
                # image sums in blocks of events: no float64 copy of the whole split
                source = arrays[spec.name]
                sums = np.empty(len(source), dtype=np.float64)
                for start in range(0, len(source), FIT_BLOCK_EVENTS):
                    block = np.asarray(source[start : start + FIT_BLOCK_EVENTS], dtype=np.float64)
                    if not np.isfinite(block).all():
                        raise ValueError(f"train input {spec.name!r} contains NaN or infinity")
                    sums[start : start + len(block)] = block.reshape(len(block), -1).sum(axis=1)
                total = float(sums.mean())
                if not total > 0:
                    raise ValueError(
                        f"train input {spec.name!r}: mean image sum is {total}, expected > 0"
                    )
                scale[spec.name] = total
            else:
                column_mean, sd = flat_moments(arrays[spec.name], spec.name)
                if (sd == 0).any():
                    log.warning("%s: constant column(s) %s", spec.name, np.flatnonzero(sd == 0))
                mean[spec.name] = tuple(float(m) for m in column_mean)
                std[spec.name] = tuple(float(s) if s > 0 else 1.0 for s in sd)
        return cls(specs, scale, mean, std)

    def transform(self, arrays: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Model inputs as float32 arrays (N, *spec.shape), scaled with the train constants."""
        out = {}
        for spec in self.specs:
            array = np.asarray(arrays[spec.name])
            values = array.reshape(array.shape[0], *spec.shape).astype(np.float32)
            if spec.is_image:
                values /= np.float32(self.image_scale[spec.name])
            elif not spec.is_particles:
                values -= np.asarray(self.mean[spec.name], dtype=np.float32)
                values /= np.asarray(self.std[spec.name], dtype=np.float32)
            out[spec.name] = values
        return out

    def to_dict(self) -> dict:
        return {
            "inputs": [
                {"name": s.name, "shape": list(s.shape), "kind": _kind(s)} for s in self.specs
            ],
            "image_scale": dict(self.image_scale),
            "mean": {k: list(v) for k, v in self.mean.items()},
            "std": {k: list(v) for k, v in self.std.items()},
            "fitted_on": "train",
        }

    @classmethod
    def from_dict(cls, values: Mapping) -> Preprocessor:
        specs = tuple(InputSpec(i["name"], tuple(i["shape"])) for i in values["inputs"])
        return cls(
            specs,
            dict(values["image_scale"]),
            {k: tuple(v) for k, v in values["mean"].items()},
            {k: tuple(v) for k, v in values["std"].items()},
        )


def _kind(spec: InputSpec) -> str:
    """How preprocess.json names an input's treatment."""
    return "image" if spec.is_image else "particles" if spec.is_particles else "flat"
