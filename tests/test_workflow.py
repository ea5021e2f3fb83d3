"""The workflow as a whole: lint, and dry runs of the shipped configurations."""

import functools
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]


def snakemake(*args, cwd=REPO):
    return subprocess.run(
        [sys.executable, "-m", "snakemake", *args],
        cwd=cwd,
        capture_output=True,
        text=True,
    )


@functools.cache
def dry_run(configfiles: tuple[str, ...], directory: str) -> subprocess.CompletedProcess:
    """The dry run of the shipped config files (none: config/config.yaml), once per module:
    building a paper-scale DAG costs seconds, and two tests read config/paper.yaml's.
    --directory keeps it independent of whatever results/ the checkout holds."""
    args = ["-n", "--cores", "8", "--directory", directory, "--snakefile", "Snakefile"]
    if configfiles:
        args += ["--configfile", *[str(REPO / path) for path in configfiles]]
    return snakemake(*args)


@pytest.fixture(scope="module")
def empty_directory(tmp_path_factory) -> str:
    return str(tmp_path_factory.mktemp("dry_run"))


@pytest.mark.parametrize(
    ("configfiles", "expected_rules"),
    [
        ([], ["simulate_dataset", "unpack_h5", "compute_efps", "train_model", "select_next_efp"]),
        (["config/paper.yaml"], ["download_dataset", "compute_efps", "train_model"]),
        (["config/paper.yaml", "config/cluster.yaml"], ["download_dataset", "train_model"]),
        (["config/tiny.yaml"], ["simulate_dataset", "train_model", "summarise_dataset"]),
        (
            ["config/jets.yaml"],
            ["generate_chunk", "merge_generated_jets", "unpack_jets", "train_efp_linear"],
        ),
    ],
    ids=["default", "paper", "paper+cluster", "tiny", "jets"],
)
def test_dry_run(empty_directory, configfiles, expected_rules):
    result = dry_run(tuple(configfiles), empty_directory)
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for rule in expected_rules:
        assert rule in result.stdout, f"{rule} missing from the dry run of {configfiles}"


def test_paper_config_is_paper_scale(empty_directory):
    result = dry_run(("config/paper.yaml",), empty_directory)
    assert result.returncode == 0
    # One compute_efps job per EFP chunk of every split of every dataset with an EFP grid.
    config = yaml.safe_load((REPO / "config" / "paper.yaml").read_text())
    datasets = config["datasets"].values()
    chunks = [block["efp"].get("chunks", 1) for block in datasets if "efp" in block]
    assert chunks and max(chunks) > 1  # paper scale: EFP jobs spread over many chunks
    counts = {
        fields[0]: fields[1]
        for fields in map(str.split, result.stdout.splitlines())
        if len(fields) == 2 and fields[1].isdigit()
    }
    assert counts.get("compute_efps") == str(3 * sum(chunks))


def test_lint_is_clean():
    result = snakemake("--lint", "--cores", "1")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
