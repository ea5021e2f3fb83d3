"""Canonical EFP names: the one place names are built (`efp_name`) and parsed (`parse_efp_name`).

Kept apart from the engine so that the rules (wildcard constraints, rules/efp_functions.smk) and
every reader of kept.txt or a feature set's EFP list import names without numpy or pandas::

    {image}_efp_{n}_{d}_{k}_k_{kappa}_b_{beta}          e.g. et_efp_2_1_0_k_2_b_0.5

``n`` vertices, ``d`` edges, ``k`` the index of the graph among the prime graphs with that
(n, d). (n, d, k) are the columns ``n``, ``d`` and ``k`` of energyflow's ``EFPSet.specs``
(energyflow numbers the graphs of each (n, d) in its generator order, 0-based, and calls the
triple ``EFP.ndk``), so graph index ``i`` of ``EFPSet(...)`` has name (n, d, k) when
``tuple(efpset.specs[i][[0, 2, 4]]) == (n, d, k)``; the authors' names ``efp_{n}_{d}_{k}`` use
the same triple. kappa and beta are written as integers when whole (``2``, ``-1``) and as
Python's shortest float repr otherwise (``0.5``): only ``[A-Za-z0-9._-]``, safe in file names.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

_NUMBER = r"-?[0-9]+(?:\.[0-9]+)?"
_NAME_RE = re.compile(
    rf"^(?P<image>[A-Za-z0-9]+)_efp_(?P<n>[0-9]+)_(?P<d>[0-9]+)_(?P<k>[0-9]+)"
    rf"_k_(?P<kappa>{_NUMBER})_b_(?P<beta>{_NUMBER})$"
)
#: Regular expression of a canonical name without groups, for Snakemake wildcard constraints.
EFP_NAME_PATTERN = rf"[A-Za-z0-9]+_efp_[0-9]+_[0-9]+_[0-9]+_k_{_NUMBER}_b_{_NUMBER}"


def format_number(value: float) -> str:
    """Exact, file-name-safe text of kappa or beta: 2 -> '2', -1 -> '-1', 0.5 -> '0.5'."""
    value = float(value)
    if not math.isfinite(value):
        raise ValueError(f"EFP exponent must be finite, got {value}")
    if value.is_integer():
        return str(int(value))
    text = repr(value)
    if not re.fullmatch(_NUMBER, text):
        raise ValueError(f"EFP exponent {value} has no plain decimal form (got {text!r})")
    return text


@dataclass(frozen=True)
class EFPName:
    """The parts of a canonical EFP name (see the module docstring)."""

    image: str
    n: int
    d: int
    k: int
    kappa: float
    beta: float

    @property
    def ndk(self) -> tuple[int, int, int]:
        return (self.n, self.d, self.k)

    def __str__(self) -> str:
        return efp_name(self.image, self.n, self.d, self.k, self.kappa, self.beta)


def efp_name(image: str, n: int, d: int, k: int, kappa: float, beta: float) -> str:
    """Canonical name, e.g. efp_name('et', 2, 1, 0, 2, 0.5) == 'et_efp_2_1_0_k_2_b_0.5'."""
    if not re.fullmatch(r"[A-Za-z0-9]+", image):
        raise ValueError(f"image key {image!r} must be letters and digits only")
    if min(n, d, k) < 0:
        raise ValueError(f"graph indices must be >= 0, got n={n} d={d} k={k}")
    graph = f"{int(n)}_{int(d)}_{int(k)}"
    return f"{image}_efp_{graph}_k_{format_number(kappa)}_b_{format_number(beta)}"


def parse_efp_name(name: str) -> EFPName:
    """Inverse of `efp_name`; ValueError naming the string if it is not canonical."""
    match = _NAME_RE.match(name)
    if match is None:
        raise ValueError(
            f"{name!r} is not a canonical EFP name ({{image}}_efp_{{n}}_{{d}}_{{k}}"
            "_k_{kappa}_b_{beta}, e.g. et_efp_2_1_0_k_2_b_0.5)"
        )
    parts = EFPName(
        image=match["image"],
        n=int(match["n"]),
        d=int(match["d"]),
        k=int(match["k"]),
        kappa=float(match["kappa"]),
        beta=float(match["beta"]),
    )
    if str(parts) != name:
        raise ValueError(f"{name!r} is not in canonical form; expected {str(parts)!r}")
    return parts
