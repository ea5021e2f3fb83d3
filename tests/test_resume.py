"""An interrupted training job resumes from its last checkpoint.

A real training process (the library's entry, ``python -m leptonid.steps.models``) runs on
small synthetic Feather data; it is killed with SIGKILL as soon as it reports its 2nd checkpoint,
rerun with the same arguments, and must continue after the checkpointed epoch and finish.
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
from leptonid import io

REPO = Path(__file__).resolve().parents[1]
EPOCHS = 8


def write_feather_dataset(root: Path, seed: int = 3) -> None:
    """results-like layout root/{split}/{key}.feather with hl (N, 7), y (N,), weight (N,)."""
    rng = np.random.default_rng(seed)
    for split, n in (("train", 3000), ("valid", 800)):
        y = rng.integers(0, 2, n).astype(np.int8)
        hl = rng.normal(size=(n, 7))
        hl[:, 0] += 1.2 * y
        (root / split).mkdir(parents=True)
        io.write_array(root / split / "hl.feather", hl)
        io.write_array(root / split / "y.feather", y)
        io.write_array(root / split / "weight.feather", np.ones(n))


def config(tmp_path: Path) -> Path:
    network = {"conv_blocks": 1, "filters": 2, "dense_layers": 2, "units": 16}
    network |= {"learning_rate": 0.001, "dropout": 0.0}
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
            "lr_patience": 2,
            "threads": 1,
        },
    }
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(values))
    return path


@pytest.mark.slow
def test_killed_training_resumes_from_its_last_checkpoint(tmp_path):
    feather = tmp_path / "feather"
    write_feather_dataset(feather)
    out, checkpoints = tmp_path / "models" / "hl", tmp_path / "checkpoints" / "hl"
    command = [
        sys.executable,
        "-u",
        "-m",
        "leptonid.steps.models",
        "--config",
        str(config(tmp_path)),
    ]
    command += ["--dataset", "electrons", "--feature-set", "hl", "--feather-dir", str(feather)]
    command += ["--out-dir", str(out), "--checkpoint-dir", str(checkpoints), "--threads", "1"]
    pythonpath = os.pathsep.join(
        filter(None, [str(REPO / "scripts"), os.environ.get("PYTHONPATH")])
    )
    env = {**os.environ, "PYTHONPATH": pythonpath, "TF_CPP_MIN_LOG_LEVEL": "3"}

    first = subprocess.Popen(
        command, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, env=env
    )
    seen = []
    for line in first.stdout:
        seen.append(line)
        if "checkpoint saved: epoch 2" in line:
            first.send_signal(signal.SIGKILL)
            break
    first.wait(timeout=60)
    first.stdout.close()
    assert first.returncode == -signal.SIGKILL, "".join(seen[-20:])
    state = json.loads((checkpoints / "state.json").read_text())
    killed_at = state["epoch"]
    assert 2 <= killed_at < EPOCHS
    assert not (out / "model.keras").exists()

    second = subprocess.run(command, capture_output=True, text=True, env=env, timeout=300)
    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert f"resuming from checkpoint after epoch {killed_at}" in second.stdout
    assert f"epoch {killed_at}/{EPOCHS}:" not in second.stdout  # no epoch was repeated
    info = json.loads((out / "train_info.json").read_text())
    assert info["resumed_from_epoch"] == killed_at
    assert info["epochs_run"] == EPOCHS
    history = pd.read_csv(out / "history.csv")
    assert list(history["epoch"]) == list(range(1, EPOCHS + 1))
    assert history["val_loss"].notna().all()
    assert not checkpoints.exists()  # dropped once the outputs are written
