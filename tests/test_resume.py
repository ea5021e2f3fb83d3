"""An interrupted training job resumes from its last checkpoint and ends bit-identical to an
uninterrupted run (docs/cluster.md "Preemption, time limits, resume").

Real training processes (the library's entry, ``python -m hepml.steps.models``, one thread)
run on small synthetic Feather data, with dropout and a learning-rate schedule that acts. One
run goes through uninterrupted. The other is killed with SIGKILL as soon as it reports its 2nd
checkpoint, its rerun gets SIGINT (Ctrl-C) after its 4th, and a third run finishes it. The
interrupted runs wait (``signal.pause``) right after writing the checkpoint the test kills them
at, so the signal lands there however loaded the machine is (a test-only wrapper around the same
entry point; the library has no hook for it). Both
must end with the same history, the same weights and optimizer variables (Adam's iteration
counter and moments), bit for bit, and score the valid split identically; the finished
checkpoint stays for a rerun.
"""

import json
import os
import signal
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml
from hepml import io

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 6
KILLS = ((2, signal.SIGKILL), (4, signal.SIGINT))  # (after checkpoint of epoch, signal)


def write_feather_dataset(root: Path, seed: int = 3) -> None:
    """results-like layout root/{split}/{key}.feather with hl (N, 7), y (N,), weight (N,)."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", 2000), ("valid", 600)):
        y = rng.integers(0, 2, n).astype(np.int8)
        hl = rng.normal(size=(n, 7))
        hl[:, 0] += 1.2 * y
        (root / split).mkdir(parents=True)
        io.write_array(root / split / "hl.feather", hl)
        io.write_array(root / split / "y.feather", y)
        io.write_array(root / split / "weight.feather", np.ones(n))


def config(tmp_path: Path) -> Path:
    network = {"conv_blocks": 1, "filters": 2, "dense_layers": 2, "units": 16}
    network |= {"learning_rate": 0.02, "dropout": 0.3}
    values = {
        "seed": 1,
        "datasets": {
            "electrons": {"network_defaults": network, "feature_sets": {"hl": {"inputs": ["hl"]}}}
        },
        "training": {
            "batch_size": 64,
            "epochs": EPOCHS,
            "patience": EPOCHS,
            "lr_factor": 0.3,
            "lr_patience": 1,
            "threads": 1,
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


def train_command(tmp_path: Path, name: str) -> list[str]:
    """The training command line writing to tmp_path/name/{model,checkpoints}."""
    command = [sys.executable, "-u", "-m", "hepml.steps.models"]
    command += ["--config", str(tmp_path / "config.yaml"), "--dataset", "electrons"]
    command += ["--feature-set", "hl", "--feather-dir", str(tmp_path / "feather")]
    command += ["--out-dir", str(tmp_path / name / "model")]
    command += ["--checkpoint-dir", str(tmp_path / name / "checkpoints"), "--threads", "1"]
    return command


# The training entry point, made to wait for a signal once it has saved the checkpoint of
# epoch PAUSE_AT (argv[1]): without the wait, a loaded machine lets the run finish before the
# test has read the line and sent its signal.
PAUSING_ENTRY = """
import signal, sys
from hepml.steps import models
from hepml.training import fit
pause_at = int(sys.argv.pop(1))
# Ctrl-C as in a terminal: a shell that starts the suite in the background (nohup, CI runners)
# hands its children SIGINT ignored, and Python then never raises KeyboardInterrupt
signal.signal(signal.SIGINT, signal.default_int_handler)
save = fit._Run.save_checkpoint
def save_and_wait(self, model, epoch):
    save(self, model, epoch)
    if epoch == pause_at:
        signal.pause()
fit._Run.save_checkpoint = save_and_wait
sys.exit(models.main(sys.argv[1:]))
"""


def interrupt(command: list[str], env: dict, epoch: int, signum: int) -> str:
    """Run command, made to wait after the checkpoint of epoch, and send it signum when it
    reports that checkpoint."""
    assert command[1:4] == ["-u", "-m", "hepml.steps.models"], command
    command = [command[0], "-u", "-c", PAUSING_ENTRY, str(epoch), *command[4:]]
    process = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    seen = []
    for line in process.stdout:
        seen.append(line)
        if f"checkpoint saved: epoch {epoch}" in line:
            process.send_signal(signum)
            break
    try:
        rest, _ = process.communicate(timeout=60)
    except subprocess.TimeoutExpired:  # it ignored the signal
        process.kill()
        rest, _ = process.communicate()
    output = "".join(seen) + rest
    assert process.returncode == -signum, output[-3000:]  # ended by the signal, not finished
    return output


def saved_state(path: Path):
    """(weights, optimizer variables by path) of a saved model.keras."""
    import keras

    model = keras.models.load_model(path)
    optimizer = {variable.path: np.asarray(variable) for variable in model.optimizer.variables}
    return model.get_weights(), optimizer


@pytest.mark.slow
def test_killed_training_resumes_bit_identical_to_an_uninterrupted_run(tmp_path):
    from hepml.io.dataset import SplitInput, split_files
    from hepml.steps.models import load_model
    from hepml.training.fit import predict_scores

    write_feather_dataset(tmp_path / "feather")
    config(tmp_path)
    pythonpath = os.pathsep.join(
        filter(None, [str(REPO / "scripts"), os.environ.get("PYTHONPATH")])
    )
    env = {**os.environ, "PYTHONPATH": pythonpath, "TF_CPP_MIN_LOG_LEVEL": "3"}

    def finish(name: str) -> str:
        done = subprocess.run(
            train_command(tmp_path, name), capture_output=True, text=True, env=env, timeout=300
        )
        assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
        return done.stdout

    finish("uninterrupted")

    resumed = tmp_path / "resumed"
    command = train_command(tmp_path, "resumed")
    output = ""
    for epoch, signum in KILLS:
        output = interrupt(command, env, epoch, signum)
        state = json.loads((resumed / "checkpoints" / "state.json").read_text())
        assert state["epoch"] >= epoch, output[-3000:]
        assert not (resumed / "model" / "model.keras").exists()
    last = state["epoch"]
    output = finish("resumed")
    assert f"resuming from checkpoint after epoch {last}" in output
    assert f"epoch {last}/{EPOCHS}:" not in output  # no epoch was repeated
    info = json.loads((resumed / "model" / "train_info.json").read_text())
    assert info["resumed_from_epoch"] == last and info["epochs_run"] == EPOCHS

    full = tmp_path / "uninterrupted" / "model"
    history = pd.read_csv(full / "history.csv")
    assert list(history["epoch"]) == list(range(1, EPOCHS + 1))
    assert history["lr"].nunique() > 1  # the schedule acted, so its state had to be restored
    assert (resumed / "model" / "history.csv").read_bytes() == (full / "history.csv").read_bytes()
    weights, optimizer = saved_state(full / "model.keras")
    weights_resumed, optimizer_resumed = saved_state(resumed / "model" / "model.keras")
    assert len(weights) == len(weights_resumed)
    for a, b in zip(weights, weights_resumed, strict=True):
        np.testing.assert_array_equal(a, b)
    assert optimizer.keys() == optimizer_resumed.keys()
    for path, value in optimizer.items():
        np.testing.assert_array_equal(value, optimizer_resumed[path], err_msg=path)
    valid = SplitInput(tuple(map(str, split_files(tmp_path / "feather", "valid", ["hl"]))))
    arrays = valid.load(["hl"])
    scores = [
        predict_scores(*load_model(out / "model.keras", out / "preprocess.json"), arrays)
        for out in (full, resumed / "model")
    ]
    np.testing.assert_array_equal(scores[0], scores[1])
    # The finished checkpoint stays until a run with other settings or data replaces it.
    state = json.loads((resumed / "checkpoints" / "state.json").read_text())
    assert state["epoch"] == EPOCHS
