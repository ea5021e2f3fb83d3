"""Write the per-rule conda environments envs/*.yaml from the lock, requirements.txt.

Each environment names the few packages its kind of step imports (ENVIRONMENTS below) and
pins them, together with everything they depend on, to exactly the versions of the lock:
Python 3.11 and pip come from conda-forge, every other package from PyPI through the pip
section, so that a rule runs with the same wheels in its conda env as in the project venv.
The dependency graph is read from the installed venv's package metadata (the venv is built
from the lock, `make venv`); the versions always come from the lock.

Usage (from the repository root, with the project venv):
    python scripts/make_envs.py           write envs/*.yaml
    python scripts/make_envs.py --check   exit 1 when a committed file differs
"""

from __future__ import annotations

import argparse
import importlib.metadata
import sys
import textwrap
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path

from packaging.requirements import Requirement
from packaging.utils import canonicalize_name

REPO = Path(__file__).resolve().parents[1]
LOCK = REPO / "requirements.txt"
ENV_DIR = REPO / "envs"
PYTHON = "3.11"

# Packages pip freeze leaves out of a lock: conda installs them with pip itself.
BOOTSTRAP = frozenset({"pip", "setuptools", "wheel", "distribute"})

# Markers of the platform the lock was frozen on (CPython 3.11 on x86-64 Linux), so that the
# generated files do not depend on the machine running this script.
MARKER_ENVIRONMENT = {
    "python_version": PYTHON,
    "python_full_version": f"{PYTHON}.0",
    "implementation_name": "cpython",
    "platform_python_implementation": "CPython",
    "os_name": "posix",
    "sys_platform": "linux",
    "platform_system": "Linux",
    "platform_machine": "x86_64",
}


@dataclass(frozen=True)
class Environment:
    """One conda environment: the packages a kind of step imports, by their lock names.

    extras: pip extras per package, e.g. {"tensorflow": ("and-cuda",)}. The packages an
    extra adds may be missing from the lock (CUDA wheels); the package pins them itself.
    """

    name: str
    description: tuple[str, ...]
    packages: tuple[str, ...]
    extras: Mapping[str, tuple[str, ...]] = field(default_factory=dict)


EFP_PACKAGES = ("EnergyFlow", "numpy", "pyarrow", "pandas", "scikit-learn", "matplotlib", "tqdm")
TRAIN_PACKAGES = (
    "tensorflow",
    "keras",
    "lightgbm",
    "scikit-learn",
    "optuna",
    "pyarrow",
    "pandas",
    "matplotlib",
    "h5py",
    "PyYAML",
    "average-decision-ordering",
    "tqdm",
)

ENVIRONMENTS = (
    Environment(
        name="data",
        description=(
            "Data rules: simulation, download (standard library HTTP, no requests),",
            "HDF5 validation and unpacking to Feather, HL recomputation, Pythia 8 generation,",
            "jet clustering and N-subjettiness (fastjet), the top-tagging benchmark's pandas",
            "HDF5 files (tables), ROOT ntuples read in steps (uproot, awkward).",
        ),
        packages=("h5py", "pyarrow", "numpy", "pandas", "matplotlib", "jsonschema", "tqdm")
        + ("pythia8mc", "fastjet", "tables", "uproot", "awkward"),
    ),
    Environment(
        name="efp",
        description=("EFP rules: EFP computation, gathering, deduplication, single-EFP AUCs.",),
        packages=EFP_PACKAGES,
    ),
    Environment(
        name="efp-gpu",
        description=(
            "compute_efps with efp.backend: gpu: the efp environment plus TensorFlow with its",
            "CUDA wheels (tensorflow[and-cuda], as in envs/train-gpu.yaml).",
        ),
        packages=(*EFP_PACKAGES, "tensorflow"),
        extras={"tensorflow": ("and-cuda",)},
    ),
    Environment(
        name="train",
        description=(
            "Network, BDT and evaluation rules on CPU (TensorFlow's PyPI wheel also drives a",
            "GPU only with the CUDA wheels of envs/train-gpu.yaml).",
        ),
        packages=TRAIN_PACKAGES,
    ),
    Environment(
        name="train-gpu",
        description=(
            "The train environment with TensorFlow's CUDA libraries: tensorflow[and-cuda]",
            "pulls NVIDIA's CUDA/cuDNN wheels from PyPI at the exact versions TensorFlow",
            "pins, so the env needs only an NVIDIA driver on the GPU node and no conda CUDA",
            "package: it solves the same on a login node without a GPU (no",
            "CONDA_OVERRIDE_CUDA needed; see docs/cluster.md).",
        ),
        packages=TRAIN_PACKAGES,
        extras={"tensorflow": ("and-cuda",)},
    ),
    Environment(
        name="plot",
        description=(
            "Figures: data, EFP drawings, ROC curves, training histories, guided search (h5py and",
            "tqdm: every script reads its inputs through hepml.io), the ntuple figures (hist,",
            "mplhep).",
        ),
        packages=("matplotlib", "pandas", "pyarrow", "scikit-learn", "numpy", "h5py", "tqdm")
        + ("hist", "mplhep"),
    ),
)


def read_lock(path: Path = LOCK) -> dict[str, tuple[str, str]]:
    """The lock as {canonical name: (name as written, version)}.

    Raises ValueError naming the file and line for anything but `name==version`.
    """
    lock = {}
    for number, raw in enumerate(path.read_text().splitlines(), start=1):
        line = raw.split("#", 1)[0].strip()
        if not line:
            continue
        name, sep, version = line.partition("==")
        if not sep or not name.strip() or not version.strip():
            raise ValueError(f"{path}:{number}: expected 'name==version', got {raw!r}")
        key = canonicalize_name(name.strip())
        if key in lock:
            raise ValueError(f"{path}:{number}: {name.strip()} is pinned twice")
        lock[key] = (name.strip(), version.strip())
    return lock


def requirement_applies(requirement: Requirement, extras: Iterable[str]) -> bool:
    """Whether a Requires-Dist entry holds on the lock's platform with these extras."""
    if requirement.marker is None:
        return True
    return any(
        requirement.marker.evaluate({**MARKER_ENVIRONMENT, "extra": extra})
        for extra in ("", *extras)
    )


def dependency_closure(
    packages: Iterable[str],
    lock: Mapping[str, tuple[str, str]],
    extras: Mapping[str, tuple[str, ...]] | None = None,
) -> set[str]:
    """Canonical names of the packages and all they depend on, every one of them in the lock.

    Dependencies come from the installed distributions' metadata (the venv built from the
    lock). Raises ValueError when a package or one of its dependencies is missing from the
    lock, or when the installed version differs from the lock's.
    """
    extras = {canonicalize_name(name): tuple(e) for name, e in (extras or {}).items()}
    done: dict[str, set[str]] = {}  # package -> extras whose dependencies were followed
    pending = [
        (canonicalize_name(name), extras.get(canonicalize_name(name), ())) for name in packages
    ]
    while pending:
        name, wanted = pending.pop()
        if name in done and done[name].issuperset(wanted):
            continue
        if name not in lock:
            raise ValueError(f"{LOCK.name}: {name} is needed by an environment but not locked")
        done.setdefault(name, set()).update(wanted)
        written, version = lock[name]
        try:
            distribution = importlib.metadata.distribution(written)
        except importlib.metadata.PackageNotFoundError:
            raise ValueError(
                f"{written} (locked in {LOCK.name}) is not installed: run `make venv`"
            ) from None
        if distribution.version != version:
            raise ValueError(
                f"{written} is installed at {distribution.version} but {LOCK.name} pins "
                f"{version}: run `make venv`"
            )
        for entry in distribution.requires or []:
            requirement = Requirement(entry)
            if not requirement_applies(requirement, wanted):
                continue
            dependency = canonicalize_name(requirement.name)
            only_for_extra = not requirement_applies(requirement, ())
            if dependency in BOOTSTRAP or (only_for_extra and dependency not in lock):
                continue  # provided by conda's pip, or pinned by the package's own extra
            pending.append((dependency, tuple(requirement.extras)))
    return set(done)


def render(environment: Environment, lock: Mapping[str, tuple[str, str]]) -> str:
    """The text of envs/<name>.yaml: conda-forge Python + pip, exact pins from the lock."""
    closure = dependency_closure(environment.packages, lock, environment.extras)
    extras = {canonicalize_name(name): e for name, e in environment.extras.items()}
    pins = []
    for name in sorted(closure):
        written, version = lock[name]
        extra = f"[{','.join(extras[name])}]" if name in extras else ""
        pins.append(f"      - {written}{extra}=={version}")
    requested = textwrap.wrap(
        f"Requested: {', '.join(environment.packages)}; the rest are their dependencies, "
        "pinned as locked.",
        width=88,
    )
    lines = [
        f"# Generated by scripts/make_envs.py from {LOCK.name} (the lock): do not edit.",
        "# Regenerate with `make envs`; tests/test_envs.py fails when this file and the lock",
        "# disagree.",
        *(f"# {line}" for line in environment.description),
        *(f"# {line}" for line in requested),
        f"name: hepml-{environment.name}",
        "channels:",
        "  - conda-forge",
        "  - nodefaults",
        "dependencies:",
        f"  - python={PYTHON}",
        "  - pip",
        "  - pip:",
        *pins,
    ]
    return "\n".join(lines) + "\n"


def render_all(lock_path: Path = LOCK) -> dict[str, str]:
    """{file name: text} of every environment file."""
    lock = read_lock(lock_path)
    return {f"{env.name}.yaml": render(env, lock) for env in ENVIRONMENTS}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--check", action="store_true", help="exit 1 when envs/ differs from the lock"
    )
    args = parser.parse_args(argv)
    stale = []
    for name, text in render_all().items():
        path = ENV_DIR / name
        if path.exists() and path.read_text() == text:
            continue
        stale.append(path)
        if not args.check:
            ENV_DIR.mkdir(exist_ok=True)
            tmp = path.with_suffix(".yaml.tmp")
            tmp.write_text(text)
            tmp.replace(path)
            print(f"wrote {path.relative_to(REPO)}")
    if args.check and stale:
        names = ", ".join(str(p.relative_to(REPO)) for p in stale)
        print(f"out of date with {LOCK.name}: {names} (run `make envs`)", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
