"""Test configuration: the library lives in scripts/hepml, importable with no install step.

``tiny_run``: the whole workflow on tests/tiny_full.yaml (every stage of both analyses, and two
electron datasets side by side), run once per test session in a copy of the repository; the
end-to-end tests read it and dry-run edits against it.
"""

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO / "scripts"))
TINY_FULL = "tests/tiny_full.yaml"


def copy_repository(destination: Path) -> None:
    """The tracked and untracked-but-not-ignored files (no results/, resources/, .venv)."""
    listing = subprocess.run(
        ["git", "ls-files", "-co", "--exclude-standard"],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=True,
    ).stdout.splitlines()
    for name in listing:
        source = REPO / name
        if source.is_file():
            target = destination / name
            target.parent.mkdir(parents=True, exist_ok=True)
            shutil.copy2(source, target)


def run_snakemake(
    workdir: Path, *args: str, timeout: int = 1200, configfile: str = TINY_FULL
) -> subprocess.CompletedProcess:
    """``snakemake --configfile CONFIGFILE ARGS`` in workdir; fails the test on an error."""
    command = [sys.executable, "-m", "snakemake", "--configfile", configfile, *args]
    result = subprocess.run(command, cwd=workdir, capture_output=True, text=True, timeout=timeout)
    assert result.returncode == 0, f"{' '.join(args)} failed:\n{result.stderr[-6000:]}"
    return result


@pytest.fixture(scope="session")
def tiny_run(tmp_path_factory) -> Path:
    """A finished run of tests/tiny_full.yaml in a copy of the repository (its directory)."""
    workdir = tmp_path_factory.mktemp("tiny") / "repo"
    copy_repository(workdir)
    write_published_electrons(workdir / "published" / "electrons")
    run_snakemake(workdir, "--cores", "2")
    return workdir


def write_published_electrons(directory: Path) -> None:
    """The files of tiny_full.yaml's electrons_path dataset (source path): the published
    layout, written by the built-in simulator with a seed of its own."""
    from hepml.sources.simulate.electrons import ElectronSimSettings
    from hepml.steps.data import write_electron_dataset

    directory.mkdir(parents=True)
    write_electron_dataset(
        n_events=600,
        seed=99,
        settings=ElectronSimSettings.from_config({}),
        unscaled_path=str(directory / "unscaled_data.h5"),
        scaled_path=str(directory / "data.h5"),
    )


# `make pytest` runs three pytest-xdist workers on the two cores with --dist loadfile: a test
# file runs on one worker, so each module-scoped or session-scoped run is built once (the session
# run tiny_run is therefore used by one module only, and the SLURM runs live in
# tests/test_slurm.py). The third worker is for the SLURM module, which mostly waits on sbatch
# and squeue while its jobs run: the other two keep both cores busy meanwhile.
TINY_RUN_MODULE = "test_end_to_end.py"
# The modules that run a workflow, longest first. pytest-xdist's file scheduler hands out files
# in the order of its queue: one to each worker at the start, then the next whenever a worker
# has two tests or fewer left. It would sort that queue by test count (the tiny run, a dozen
# tests, would start a minute late, after the many-test modules); pytest_configure turns that
# off, so the queue is this collection order: the tiny run (the critical path) starts at once
# on the first worker, the SLURM module on the second, the other long modules next, then the
# short files fill in.
LONG_MODULES = (
    TINY_RUN_MODULE,
    "test_slurm.py",
    "test_tabular_run.py",
    "test_ntuples_run.py",
    "test_resume.py",
)


def long_modules_first(items: list) -> list:
    """items reordered by file: LONG_MODULES first, in that order, the others after them in
    collection order."""
    files = list(dict.fromkeys(item.path.name for item in items))
    ordered = [name for name in LONG_MODULES if name in files]
    ordered += [name for name in files if name not in LONG_MODULES]
    order = {name: position for position, name in enumerate(ordered)}
    return sorted(items, key=lambda item: order[item.path.name])


def pytest_configure(config):
    # xdist's --no-loadscope-reorder: keep long_modules_first's order (the option is there
    # whenever xdist is installed, and read only by the controller's file scheduler)
    if hasattr(config.option, "loadscopereorder"):
        config.option.loadscopereorder = False


def pytest_collection_modifyitems(config, items):
    items[:] = long_modules_first(items)
    strays = [
        item.nodeid
        for item in items
        if "tiny_run" in item.fixturenames and item.path.name != TINY_RUN_MODULE
    ]
    if strays:
        raise pytest.UsageError(
            f"tests using tiny_run belong in tests/{TINY_RUN_MODULE} (one xdist worker builds "
            f"the run once): {strays}"
        )
