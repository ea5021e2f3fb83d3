"""Tests of hepml.io.download_file on file:// URLs (no network)."""

from __future__ import annotations

import hashlib
import logging
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hepml import io

PIN_KEY = "datasets.electrons.download.sha256['data.h5']"
REPO = Path(__file__).resolve().parents[1]


@pytest.fixture
def published(tmp_path):
    """A local 'published' file served through a file:// URL, and its sha256."""
    source = tmp_path / "server" / "data.h5"
    source.parent.mkdir()
    content = bytes(range(256)) * 9000  # a little over 2 MB: several read blocks
    source.write_bytes(content)
    return source.as_uri(), content, hashlib.sha256(content).hexdigest()


def test_pinned_digest_downloads(tmp_path, published):
    url, content, digest = published
    dest = tmp_path / "resources" / "data.h5"
    assert io.download_file(url, dest, sha256=digest, pin_key=PIN_KEY) == digest
    assert dest.read_bytes() == content
    assert sorted(p.name for p in dest.parent.iterdir()) == ["data.h5"]
    assert io.sha256_of(dest) == digest


def test_unpinned_digest_is_logged_with_the_key_to_pin(tmp_path, published, caplog):
    url, content, digest = published
    dest = tmp_path / "data.h5"
    with caplog.at_level(logging.INFO, logger="hepml.io"):
        io.download_file(url, dest, sha256=None, pin_key=PIN_KEY)
    assert dest.read_bytes() == content
    warning = next(r for r in caplog.records if r.levelno == logging.WARNING)
    message = warning.getMessage()
    assert digest in message and PIN_KEY in message and "no digest pinned" in message
    assert hashlib.md5(content).hexdigest() in message
    assert warning.terminal  # hepml.logs.TERMINAL: shown on the terminal too


def test_pinned_md5_is_checked(tmp_path, published, caplog):
    """md5 (what Zenodo publishes) pins a file as sha256 does: no warning; a mismatch refused."""
    url, content, digest = published
    md5 = hashlib.md5(content).hexdigest()
    with caplog.at_level(logging.INFO, logger="hepml.io"):
        assert io.download_file(url, tmp_path / "a.h5", md5=md5.upper(), pin_key=PIN_KEY) == digest
    assert not [r for r in caplog.records if r.levelno >= logging.WARNING]
    dest = tmp_path / "out" / "b.h5"
    with pytest.raises(io.DownloadError) as error:
        io.download_file(url, dest, sha256=digest, md5="0" * 32, pin_key=PIN_KEY)
    message = str(error.value)
    assert "md5 mismatch" in message and md5 in message and "0" * 32 in message
    assert "datasets.electrons.download.md5['data.h5']" in message
    assert list(dest.parent.iterdir()) == []


TERMINAL_JOB = """
import sys
sys.path.insert(0, {scripts!r})
from hepml.logs import log_to
log_to({log!r})
from hepml import io
io.download_file({url!r}, {dest!r}, sha256={sha256!r}, pin_key="the.key")
"""


@pytest.mark.parametrize("pinned", [False, True])
def test_an_unpinned_download_warns_on_the_terminal_of_a_rule_job(tmp_path, published, pinned):
    """Inside a rule job (hepml.logs.log_to sends stderr to the log) the warning still
    reaches the job's original stderr, which Snakemake shows; a pinned download says
    nothing there (negative control)."""
    url, _, digest = published
    log = tmp_path / "job.log"
    code = TERMINAL_JOB.format(
        scripts=str(REPO / "scripts"),
        log=str(log),
        url=url,
        dest=str(tmp_path / "d.h5"),
        sha256=digest if pinned else None,
    )
    done = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=120, check=False
    )
    assert done.returncode == 0, log.read_text()
    assert done.stdout == ""
    if pinned:
        assert done.stderr == ""
        assert "no digest pinned" not in log.read_text()
    else:
        assert "no digest pinned" in done.stderr and digest in done.stderr
        assert "the.key" in done.stderr
        assert "no digest pinned" in log.read_text()


def test_mismatch_names_url_file_and_digests_and_keeps_nothing(tmp_path, published):
    url, _, digest = published
    dest = tmp_path / "out" / "data.h5"
    wrong = "0" * 64
    with pytest.raises(io.DownloadError) as error:
        io.download_file(url, dest, sha256=wrong, pin_key=PIN_KEY)
    message = str(error.value)
    assert url in message and str(dest) in message
    assert wrong in message and digest in message and PIN_KEY in message
    assert list(dest.parent.iterdir()) == []


def test_offline_names_url_file_and_expected_digest(tmp_path):
    url = (tmp_path / "nowhere" / "data.h5").as_uri()
    dest = tmp_path / "out" / "data.h5"
    with pytest.raises(io.DownloadError) as error:
        io.download_file(url, dest, sha256="a" * 64, pin_key=PIN_KEY)
    message = str(error.value)
    assert url in message and str(dest) in message and "a" * 64 in message
    assert "source: path" in message  # says what to do without network
    assert list(dest.parent.iterdir()) == []


def test_uppercase_pinned_digest_is_accepted(tmp_path, published):
    url, _, digest = published
    assert io.download_file(url, tmp_path / "d.h5", sha256=digest.upper()) == digest


# ---------------------------------------------------------------------------------------------
# The data sources of rules/data.smk, through a Snakemake dry run
# ---------------------------------------------------------------------------------------------


def dry_run(tmp_path, electrons: dict, target: str) -> subprocess.CompletedProcess:
    """``snakemake -n target`` in tmp_path with the default config, electrons block updated."""
    config = yaml.safe_load((REPO / "config" / "config.yaml").read_text())
    config["datasets"] = {"electrons": {**config["datasets"]["electrons"], **electrons}}
    (tmp_path / "config.yaml").write_text(yaml.safe_dump(config))
    command = [sys.executable, "-m", "snakemake", target, "-n", "--snakefile", REPO / "Snakefile"]
    command += ["--directory", tmp_path, "--configfile", tmp_path / "config.yaml"]
    return subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)


@pytest.mark.slow
def test_path_source_missing_file_stops_the_dag_naming_path_and_key(tmp_path):
    done = dry_run(
        tmp_path, {"source": "path", "path": "mydata"}, "results/electrons/feather/test/y.feather"
    )
    output = done.stdout + done.stderr
    assert done.returncode != 0
    assert "mydata/unscaled_data.h5 does not exist" in output
    assert "datasets.electrons.path" in output and "datasets.electrons.file" in output


@pytest.mark.slow
def test_path_and_download_sources_plan_the_right_jobs(tmp_path):
    (tmp_path / "mydata").mkdir()
    (tmp_path / "mydata" / "unscaled_data.h5").write_bytes(b"")
    target = "results/electrons/feather/test/y.feather"
    done = dry_run(tmp_path, {"source": "path", "path": "mydata"}, target)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "unpack_h5" in done.stdout and "download_dataset" not in done.stdout

    download = {"base_url": "file:///nowhere/", "sha256": {"unscaled_data.h5": "a" * 64}}
    done = dry_run(tmp_path, {"source": "download", "download": download}, target)
    assert done.returncode == 0, done.stderr[-2000:]
    assert "download_dataset" in done.stdout
    assert "resources/electrons/downloaded/unscaled_data.h5" in done.stdout
