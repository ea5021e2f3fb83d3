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
# The modules that run a workflow, longest first. With --dist loadfile pytest-xdist hands each
# worker a first batch of max(files // 4 // workers, 2) files in collection order, then one
# more file whenever a worker runs short; a file's wall time adds to when it starts. The tiny
# run opens the first worker's batch, the SLURM module the second's, and the other long modules
# share the remaining workers' batches (the second's with two workers), so every worker starts
# with its longest work and the short files fill in beside it.
LONG_MODULES = (
    TINY_RUN_MODULE,
    "test_slurm.py",
    "test_tabular_run.py",
    "test_ntuples_run.py",
    "test_resume.py",
)


def long_modules_first(items: list, workers: int) -> list:
    """items reordered by file so that each worker's first batch opens with its long modules
    (LONG_MODULES[0] on the first worker, [1] on the second, the others round-robin over the
    workers after the first: the second with two workers), shorts filling each batch; the
    rest after, otherwise stable."""
    workers = max(workers, 1)
    files = list(dict.fromkeys(item.path.name for item in items))
    batch = max(len(files) // 4 // workers, 2)
    long = [name for name in LONG_MODULES if name in files]
    short = [name for name in files if name not in LONG_MODULES]
    batches: list[list[str]] = [[] for _ in range(workers)]
    for position, name in enumerate(long):
        if position < workers:
            batches[position].append(name)
        else:  # the first worker keeps the tiny run alone
            batches[1 + (position - workers) % max(workers - 1, 1) if workers > 1 else 0].append(
                name
            )
    ordered = []
    for names in batches:
        fill = max(batch - len(names), 0)
        ordered += names + short[:fill]
        short = short[fill:]
    order = {name: position for position, name in enumerate(ordered + short)}
    return sorted(items, key=lambda item: order[item.path.name])


def pytest_collection_modifyitems(config, items):
    workers = config.getoption("numprocesses", None)
    items[:] = long_modules_first(items, workers if isinstance(workers, int) else 1)
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
