"""hepml.logs.log_to: a rule job's logging, stray output and uncaught errors reach its log."""

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

SCRIPTS = Path(__file__).resolve().parents[1] / "scripts"

JOB = """
import logging, os, sys, warnings
sys.path.insert(0, {scripts!r})
from hepml.logs import log_to
log_to({log!r})
logging.getLogger("hepml.job").info("python logging line")
print("stdout line")
os.write(2, b"C++ noise on file descriptor 2\\n")
warnings.warn("a library warning")
raise {error}
"""


def run_job(tmp_path: Path, error: str) -> tuple[subprocess.CompletedProcess, str]:
    log = tmp_path / "logs" / "rule" / "job.log"
    code = textwrap.dedent(JOB.format(scripts=str(SCRIPTS), log=str(log), error=error))
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, timeout=60, check=False
    )
    return result, log.read_text()


def test_everything_goes_to_the_log_and_nothing_to_the_terminal(tmp_path):
    result, text = run_job(tmp_path, 'ValueError("bad input in file.h5, key et")')
    assert result.returncode == 1
    assert result.stdout == "" and result.stderr == ""
    assert "INFO hepml.job: python logging line" in text
    assert "stdout line" in text
    assert "C++ noise on file descriptor 2" in text
    assert "a library warning" in text
    assert "ERROR hepml: uncaught ValueError: bad input in file.h5, key et" in text
    assert "Traceback (most recent call last)" in text
    assert text.count("bad input in file.h5") == 2  # the record and the traceback's last line


def test_a_clean_exit_logs_no_error(tmp_path):
    result, text = run_job(tmp_path, "SystemExit(0)")
    assert result.returncode == 0
    assert "python logging line" in text
    assert "ERROR" not in text and "Traceback" not in text


@pytest.mark.slow
def test_a_failing_rule_has_its_error_in_its_log(tmp_path):
    """unpack_h5 on a published file with a negative pixel: the reason is in the rule's log."""
    import h5py
    import numpy as np
    import yaml

    repo = SCRIPTS.parent
    rng = np.random.default_rng(0)
    data = tmp_path / "data"
    data.mkdir()
    with h5py.File(data / "unscaled_data.h5", "w") as h5:
        for split, n in (("train", 8), ("valid", 4), ("test", 4)):
            for key, shape in (("et", (31, 31, 1)), ("ee", (31, 31, 1)), ("ht", (32, 32, 1))):
                h5[f"{key}/{split}"] = rng.exponential(size=(n, *shape)).astype(np.float32)
            h5[f"he/{split}"] = h5[f"ht/{split}"][:]
            h5[f"hl/{split}"] = rng.normal(size=(n, 7))
            h5[f"mass/{split}"] = rng.exponential(size=(n, 1))
            h5[f"y/{split}"] = (np.arange(n) % 2).astype(np.float64)
        h5["et/train"][3, 15, 15, 0] = -100.0
    config = yaml.safe_load((repo / "config" / "tiny.yaml").read_text())
    config["datasets"]["electrons"].update(source="path", path=str(data))
    (tmp_path / "bad.yaml").write_text(yaml.safe_dump(config))
    work = tmp_path / "work"
    command = [sys.executable, "-m", "snakemake", "--snakefile", str(repo / "Snakefile")]
    command += ["--directory", str(work), "--configfile", str(tmp_path / "bad.yaml")]
    command += ["--cores", "1", "results/electrons/feather/train/et.feather"]
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert result.returncode != 0
    log = (work / "logs" / "electrons" / "unpack_h5" / "train.log").read_text()
    assert "uncaught DataError" in log and "negative value (-100.0)" in log
    assert "'et/train' row 3" in log and "Traceback" in log
