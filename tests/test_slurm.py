"""profiles/slurm, checked statically and proven on a real (one-node) SLURM cluster.

The static checks run everywhere. The end-to-end checks (markers slurm, slow) need a running
cluster, `scripts/slurm/cluster.sh install && scripts/slurm/cluster.sh start` as root (CI
does this), and are skipped with the reason otherwise. They work in temporary copies of the
repository and
  1. run config/tiny.yaml through profiles/slurm plus tests/slurm_overrides.yaml: every job
     is submitted with sbatch and ends COMPLETED in SLURM's records; every training job holds
     a GPU in SLURM's own record (scontrol: JOB_GRES=gpu:1) and saw CUDA_VISIBLE_DEVICES
     inside the job (its train_info.json);
  2. train, score and evaluate the same models locally, from the SLURM run's data, and
     compare the two AUC tables;
  3. cancel a training job with scancel after its first checkpoint, rerun the workflow, and
     require the model to resume from that checkpoint.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import jsonschema
import pandas as pd
import pytest
import yaml

REPO = Path(__file__).resolve().parents[1]
PROFILE = REPO / "profiles" / "slurm" / "config.yaml"
OVERRIDES = REPO / "tests" / "slurm_overrides.yaml"
CLUSTER_FRAGMENT = REPO / "config" / "cluster.yaml"
COPY_IGNORE = shutil.ignore_patterns(
    ".git", ".venv", "results", "resources", "logs", ".snakemake", "__pycache__", ".*_cache"
)
GPU_RULES = ("train_model", "train_secondary_network", "tune_model")
# The test node has ~21 GB for 2 CPUs: requests above this would serialise the jobs.
MEM_PER_JOB_MB = 8000
RUN_TIMEOUT_S = 1500
# Same seeds, same threads: measured identical here; a tolerance for summation order on
# other machines (1/(60*60) per flipped pair of the tiny test split).
AUC_TOLERANCE = 0.005
DATASET = "electrons"
PREEMPT_FEATURE_SET = "et_and_ht"
# Enough epochs that the training is still running when its first checkpoint shows up.
PREEMPT_EPOCHS = 20


# ------------------------------------------------------------------ profile helpers
def merge(base: dict, override: dict) -> dict:
    """Deep merge: nested mappings merge, None deletes the key, other values replace."""
    merged = dict(base)
    for key, value in override.items():
        if value is None:
            merged.pop(key, None)
        elif isinstance(value, dict) and isinstance(merged.get(key), dict):
            merged[key] = merge(merged[key], value)
        else:
            merged[key] = value
    return merged


def test_profile() -> dict:
    """profiles/slurm with the test overrides, memory requests capped for the test node."""
    profile = merge(yaml.safe_load(PROFILE.read_text()), yaml.safe_load(OVERRIDES.read_text()))
    for resources in profile.get("set-resources", {}).values():
        if "mem_mb" in resources:
            resources["mem_mb"] = min(int(resources["mem_mb"]), MEM_PER_JOB_MB)
    return profile


test_profile.__test__ = False  # a helper, not a test


def rule_names() -> set[str]:
    """Names of the rules and checkpoints defined in rules/*.smk."""
    header = re.compile(r"^(?:rule|checkpoint)\s+(\w+)\s*:", re.MULTILINE)
    return {
        name for path in (REPO / "rules").glob("*.smk") for name in header.findall(path.read_text())
    }


# ------------------------------------------------------------------- static checks
def test_merge_nests_and_deletes():
    base = {"a": {"x": 1, "y": 2}, "b": 1, "c": [1]}
    assert merge(base, {"a": {"y": None, "z": 3}, "b": None, "c": [2]}) == {
        "a": {"x": 1, "z": 3},
        "c": [2],
    }
    assert base == {"a": {"x": 1, "y": 2}, "b": 1, "c": [1]}


def test_profile_names_only_existing_rules():
    profile = yaml.safe_load(PROFILE.read_text())
    named = set(profile["set-resources"]) | set(profile["set-threads"])
    unknown = named - rule_names()
    assert not unknown, f"profiles/slurm names rules that rules/*.smk does not define: {unknown}"


def test_profile_site_settings_in_one_place():
    profile = yaml.safe_load(PROFILE.read_text())
    defaults = profile["default-resources"]
    assert {"slurm_partition", "slurm_account", "runtime", "mem_mb", "cpus_per_task"} <= set(
        defaults
    )
    text = PROFILE.read_text()
    placeholders = [line for line in text.splitlines() if "CHANGE_ME" in line]
    assert len(placeholders) == 2, placeholders  # partition and account, nowhere else
    for rule, resources in profile["set-resources"].items():
        assert "slurm_account" not in resources, rule


def test_network_rules_ask_for_a_gpu_and_others_do_not():
    profile = yaml.safe_load(PROFILE.read_text())
    resources = profile["set-resources"]
    for rule in GPU_RULES:
        assert resources[rule].get("gpu") == 1, rule
    for rule in set(resources) - set(GPU_RULES):
        assert "gpu" not in resources[rule] and "gres" not in resources[rule], rule
    for rule in ("simulate_dataset", "compute_efps"):
        assert profile["set-threads"][rule] >= 1 and "gpu" not in resources.get(rule, {})


def test_every_profile_key_is_commented():
    """Top-level and default-resources keys carry a comment on or right above their line;
    rules under set-resources/set-threads sit below a comment of their group."""
    lines = PROFILE.read_text().splitlines()
    section = None
    for number, line in enumerate(lines):
        key = re.match(r"^( *)([A-Za-z_][\w-]*):", line)
        if key is None:
            continue
        indent = len(key[1])
        if indent == 0:
            section = key[2]
        above = lines[max(0, number - 1)].strip()
        has_comment = "#" in line or above.startswith("#")
        if indent == 0 or (indent == 2 and section == "default-resources"):
            assert has_comment, f"uncommented profile key: {line!r}"
        elif indent == 2:  # a rule under set-resources / set-threads
            group = lines[max(0, number - 12) : number]
            assert any(entry.startswith("  #") for entry in group), f"uncommented rule: {line!r}"


def test_cluster_profile_turns_require_gpu_on():
    profile = yaml.safe_load(PROFILE.read_text())
    assert "config/cluster.yaml" in profile["configfiles"]
    fragment = yaml.safe_load(CLUSTER_FRAGMENT.read_text())
    assert fragment["training"]["require_gpu"] is True
    merged = merge(yaml.safe_load((REPO / "config" / "config.yaml").read_text()), fragment)
    schema = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
    jsonschema.validate(merged, schema)


def test_overrides_fit_the_test_node():
    profile = test_profile()
    assert profile["default-resources"]["slurm_partition"] == "local"
    assert "slurm_account" not in profile["default-resources"]
    assert profile["configfiles"] == ["config/tiny.yaml"]  # require_gpu stays false
    # Memory: test_profile caps the rules' requests, so check what it starts from, not itself.
    raw = merge(yaml.safe_load(PROFILE.read_text()), yaml.safe_load(OVERRIDES.read_text()))
    assert int(raw["default-resources"]["mem_mb"]) <= MEM_PER_JOB_MB
    for rule, resources in raw.get("set-resources", {}).items():
        if "mem_mb" in resources:
            capped = profile["set-resources"][rule]["mem_mb"]
            assert capped == min(int(resources["mem_mb"]), MEM_PER_JOB_MB), rule


@pytest.mark.slow
def test_dry_run_with_the_slurm_profile():
    """The profile parses and every job's resources evaluate, without SLURM (dry run)."""
    done = subprocess.run(
        [sys.executable, "-m", "snakemake", "--dry-run", "--workflow-profile", "profiles/slurm"]
        + ["--configfile", "config/tiny.yaml", "config/cluster.yaml"],
        cwd=REPO,
        capture_output=True,
        text=True,
        timeout=300,
    )
    output = done.stdout + done.stderr
    assert done.returncode == 0, output[-6000:]
    resources = dict(re.findall(r"^rule (\w+):\n(?:    .*\n)*?    resources: (.*)$", output, re.M))
    assert "gpu=1" in resources["train_model"].split(", "), resources["train_model"]
    assert "gpu=1" not in resources["simulate_dataset"].split(", ")
    for rule, line in resources.items():
        assert "slurm_partition=CHANGE_ME" in line and "cpus_per_task=" in line, (rule, line)


# ---------------------------------------------------------------- SLURM helpers
def slurm_problem(partition: str) -> str | None:
    """Why the end-to-end tests cannot run here, or None when a cluster is usable."""
    for tool in ("sbatch", "squeue", "scontrol", "scancel", "sinfo"):
        if shutil.which(tool) is None:
            return f"{tool} not found"
    ping = subprocess.run(["scontrol", "ping"], capture_output=True, text=True, timeout=30)
    if "UP" not in ping.stdout:
        answer = (ping.stdout + ping.stderr).strip().splitlines()
        return f"slurmctld does not answer ({answer[0] if answer else 'no output'})"
    states = subprocess.run(
        ["sinfo", "--noheader", "--partition", partition, "--format", "%t"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.split()
    if not set(states) & {"idle", "mix", "alloc", "comp"}:
        return f"partition {partition!r} has no usable node (states {states})"
    return None


class JobRecorder(threading.Thread):
    """Records SLURM's view (scontrol show job -d) of every job while a run goes on."""

    FIELDS = ("JobId", "JobName", "JobState", "Comment", "JOB_GRES", "TresPerJob", "TresPerNode")

    def __init__(self):
        super().__init__(daemon=True)
        self.jobs: dict[str, dict[str, str]] = {}
        self._stop_event = threading.Event()

    def run(self):
        while not self._stop_event.is_set():
            self.poll()
            self._stop_event.wait(2)

    def poll(self):
        lines = subprocess.run(
            ["scontrol", "--oneliner", "--details", "show", "job"],
            capture_output=True,
            text=True,
            timeout=60,
        ).stdout.splitlines()
        for line in lines:
            fields = {key: m[1] for key in self.FIELDS if (m := re.search(rf"\b{key}=(\S*)", line))}
            if "JobId" in fields:
                self.jobs[fields["JobId"]] = fields

    def stop(self):
        self._stop_event.set()
        self.join(timeout=30)
        self.poll()  # the final states


def copy_repository(destination: Path) -> Path:
    shutil.copytree(REPO, destination, ignore=COPY_IGNORE, symlinks=True)
    return destination


def run_snakemake(workdir: Path, args: list[str], log_name: str) -> tuple[int, str]:
    """Run Snakemake in workdir with this interpreter; (exit code, its output)."""
    log_path = workdir / log_name
    with log_path.open("w") as log:
        done = subprocess.run(
            [sys.executable, "-m", "snakemake", *args],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
            timeout=RUN_TIMEOUT_S,
        )
    return done.returncode, log_path.read_text()


def slurm_run_id(output: str) -> str:
    match = re.search(r"SLURM run ID: (\S+)", output)
    assert match, "the run printed no SLURM run ID: it did not use the SLURM executor"
    return match[1]


def auc_table(workdir: Path) -> pd.Series:
    table = pd.read_csv(workdir / "results" / DATASET / "summary" / "auc_table.csv")
    return table.set_index("name")["auc_measured"].sort_index()


# ------------------------------------------------------------------- fixtures
@pytest.fixture(scope="module")
def cluster():
    partition = test_profile()["default-resources"]["slurm_partition"]
    problem = slurm_problem(partition)
    if problem is not None:
        pytest.skip(
            f"no usable SLURM cluster ({problem}); start one as root with "
            "scripts/slurm/cluster.sh install && scripts/slurm/cluster.sh start"
        )
    return partition


@pytest.fixture(scope="module")
def slurm_run(cluster, tmp_path_factory):
    """The tiny config run through the SLURM profile: (workdir, output, SLURM job records)."""
    workdir = copy_repository(tmp_path_factory.mktemp("slurm") / "repo")
    profile_dir = workdir / "profiles" / "slurm-test"
    profile_dir.mkdir()
    (profile_dir / "config.yaml").write_text(yaml.safe_dump(test_profile(), sort_keys=False))
    recorder = JobRecorder()
    recorder.start()
    try:
        code, output = run_snakemake(
            workdir, ["--workflow-profile", "profiles/slurm-test"], "snakemake-slurm.log"
        )
    finally:
        recorder.stop()
    assert code == 0, f"the SLURM run failed:\n{output[-6000:]}"
    run_id = slurm_run_id(output)
    jobs = {jid: job for jid, job in recorder.jobs.items() if job.get("JobName") == run_id}
    return workdir, output, jobs


# What the local run recomputes from the SLURM run's data: every file of a model and its
# numbers (the training checkpoints too, or the local jobs would reuse the SLURM ones).
LOCAL_RERUN = ("models", "checkpoints", "scores", "metrics", "summary")


@pytest.fixture(scope="module")
def local_run(slurm_run, tmp_path_factory):
    """The SLURM run's models trained, scored and evaluated again on this machine, from the
    same simulated and unpacked data (a copy of the SLURM workdir without LOCAL_RERUN and
    Snakemake's records): the comparison needs no second simulation and unpacking."""
    source = slurm_run[0]
    results = source / "results" / DATASET

    def ignore(directory: str, names: list[str]) -> set[str]:
        if Path(directory) == source:
            return {".snakemake"} & set(names)
        return set(LOCAL_RERUN) & set(names) if Path(directory) == results else set()

    workdir = tmp_path_factory.mktemp("local") / "repo"
    shutil.copytree(source, workdir, ignore=ignore, symlinks=True)
    target = f"results/{DATASET}/summary/auc_table.csv"
    code, output = run_snakemake(
        workdir,
        ["--cores", "2", "--configfile", "config/tiny.yaml", "--", target],
        "snakemake-local.log",
    )
    assert code == 0, f"the local run failed:\n{output[-6000:]}"
    trained = set(re.findall(r"^localrule (\w+):", output, re.MULTILINE))
    assert {"train_model", "score_model", "evaluate_model"} <= trained, trained
    assert "simulate_dataset" not in trained and "unpack_h5_electrons" not in trained, trained
    return workdir


# ----------------------------------------------------------------- end to end
@pytest.mark.slurm
@pytest.mark.slow
def test_every_job_goes_through_sbatch(slurm_run):
    _, output, jobs = slurm_run
    finished = dict(re.findall(r"Finished jobid: (\d+) \(Rule: (\w+)\)", output))
    submitted = dict(re.findall(r"Job (\d+) has been submitted with SLURM jobid (\d+)", output))
    cluster_jobs = {jobid: rule for jobid, rule in finished.items() if rule != "all"}
    assert len(cluster_jobs) >= 10, f"suspiciously few jobs ran: {cluster_jobs}"
    not_submitted = {jobid: rule for jobid, rule in cluster_jobs.items() if jobid not in submitted}
    assert not not_submitted, f"jobs that ran without sbatch: {not_submitted}"
    for jobid, slurm_id in submitted.items():
        job = jobs.get(slurm_id)
        assert job is not None, f"SLURM has no record of job {slurm_id} ({finished.get(jobid)})"
        assert job["JobState"] == "COMPLETED", job
        assert job["Comment"].startswith(f"rule_{finished[jobid]}"), job


@pytest.mark.slurm
@pytest.mark.slow
def test_training_jobs_hold_a_gpu(slurm_run):
    workdir, _, jobs = slurm_run
    training = [job for job in jobs.values() if job["Comment"].startswith("rule_train_model")]
    others = [job for job in jobs.values() if job not in training]
    assert len(training) == 2, f"expected one train_model job per feature set: {training}"
    for job in training:
        assert job.get("JOB_GRES") == "gpu:1", f"no GPU allocated to {job}"
        assert job.get("TresPerJob") == "gres:gpu:1", job
    for job in others:
        assert job.get("JOB_GRES") in (None, "(null)"), f"a GPU went to a CPU job: {job}"
    for feature_set in ("et_and_ht", "hl"):
        info_path = workdir / "results" / DATASET / "models" / feature_set / "train_info.json"
        info = json.loads(info_path.read_text())
        assert info["device_info"]["cuda_visible_devices"] == "0", info["device_info"]


@pytest.mark.slurm
@pytest.mark.slow
def test_auc_table_matches_a_local_run(slurm_run, local_run):
    on_slurm = auc_table(slurm_run[0])
    local = auc_table(local_run)
    assert list(on_slurm.index) == list(local.index)
    difference = (on_slurm - local).abs()
    assert (difference <= AUC_TOLERANCE).all(), pd.DataFrame({"slurm": on_slurm, "local": local})


def end_leftover_job_processes(workdir: Path, grace_s: float = 30.0) -> list[int]:
    """End this run's SLURM job processes that outlived their cancelled job; their pids.

    The test cluster tracks job processes through /proc (no cgroups in containers), and a
    cancelled job's Snakemake process was once seen to escape it and hang. Only processes
    whose command line names this test's temporary workdir are touched.
    """

    def leftovers() -> list[int]:
        pids = []
        for cmdline in Path("/proc").glob("[0-9]*/cmdline"):
            try:
                text = cmdline.read_bytes().replace(b"\0", b" ").decode(errors="replace")
            except OSError:
                continue
            if str(workdir) in text and "slurm-jobstep" in text:
                pids.append(int(cmdline.parent.name))
        return pids

    deadline = time.monotonic() + grace_s
    while leftovers() and time.monotonic() < deadline:
        time.sleep(1)
    ended = leftovers()
    for pid in ended:
        try:
            os.kill(pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    return ended


def running_training_job(run_id: str, feature_set: str) -> str | None:
    """SLURM id of this run's running train_model job for the feature set, if any."""
    lines = subprocess.run(
        ["squeue", "--noheader", "--name", run_id, "--states", "RUNNING", "--format", "%i|%k"],
        capture_output=True,
        text=True,
        timeout=30,
    ).stdout.splitlines()
    for line in lines:
        jobid, comment = line.split("|", 1)
        if comment.startswith("rule_train_model") and comment.endswith(feature_set):
            return jobid
    return None


@pytest.mark.slurm
@pytest.mark.slow
def test_cancelled_training_resumes_from_its_checkpoint(slurm_run):
    """scancel a training job after its first checkpoint; the rerun resumes from it."""
    workdir = slurm_run[0]
    fragment = workdir / "preempt.yaml"
    fragment.write_text(
        yaml.safe_dump({"training": {"epochs": PREEMPT_EPOCHS, "patience": PREEMPT_EPOCHS}})
    )
    target = f"results/{DATASET}/models/{PREEMPT_FEATURE_SET}/model.keras"
    checkpoints = workdir / "results" / DATASET / "checkpoints" / PREEMPT_FEATURE_SET
    args = ["--workflow-profile", "profiles/slurm-test"]
    args += ["--configfile", "config/tiny.yaml", str(fragment.name), "--", target]
    log_path = workdir / "snakemake-preempt.log"
    # A finished training keeps its checkpoint (docs/cluster.md), so the tiny run left one here;
    # remove it, so that the state.json waited for below is this run's first checkpoint.
    shutil.rmtree(checkpoints, ignore_errors=True)
    with log_path.open("w") as log:
        first = subprocess.Popen(
            [sys.executable, "-m", "snakemake", *args],
            cwd=workdir,
            stdout=log,
            stderr=subprocess.STDOUT,
        )
        cancelled = None
        deadline = time.monotonic() + RUN_TIMEOUT_S
        try:
            while first.poll() is None and time.monotonic() < deadline:
                if (checkpoints / "state.json").exists():
                    run_id = slurm_run_id(log_path.read_text())
                    cancelled = running_training_job(run_id, PREEMPT_FEATURE_SET)
                    if cancelled is not None:
                        subprocess.run(["scancel", cancelled], check=True, timeout=30)
                        break
                time.sleep(0.2)
            code = first.wait(timeout=300)
        finally:
            if first.poll() is None:
                first.kill()
    output = log_path.read_text()
    leftovers = end_leftover_job_processes(workdir)
    if leftovers:
        print(f"ended processes left over by the cancelled job: {leftovers}")
    assert cancelled is not None, f"no running training job to cancel:\n{output[-4000:]}"
    assert code != 0, "the run with a cancelled training job reported success"
    assert (checkpoints / "state.json").exists(), "the cancelled job left no checkpoint"
    assert not (workdir / target).exists()

    code, output = run_snakemake(workdir, args, "snakemake-resume.log")
    assert code == 0, f"the rerun failed:\n{output[-6000:]}"
    train_log = workdir / "logs" / DATASET / "train_model" / f"{PREEMPT_FEATURE_SET}.log"
    resumed = re.findall(r"resuming from checkpoint after epoch (\d+)", train_log.read_text())
    assert resumed and int(resumed[-1]) >= 1, train_log.read_text()[-3000:]
    info_path = workdir / "results" / DATASET / "models" / PREEMPT_FEATURE_SET / "train_info.json"
    info = json.loads(info_path.read_text())
    assert info["resumed_from_epoch"] == int(resumed[-1])
    assert info["epochs_run"] == PREEMPT_EPOCHS  # the epochs before the cancel count too
