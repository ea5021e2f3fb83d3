"""Configuration: every shipped config is valid; typos and wrong types are named."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from leptonid.configcheck import ConfigError, validate_config

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
CONFIGS = sorted((REPO / "config").glob("*.yaml"))
SHIPPED = [path for path in CONFIGS if path.name != "schema.yaml"]


@pytest.mark.parametrize("path", SHIPPED, ids=lambda p: p.name)
def test_shipped_configs_are_valid(path):
    validate_config(yaml.safe_load(path.read_text()), SCHEMA, source=path.name)


@pytest.fixture()
def default_config():
    return yaml.safe_load((REPO / "config" / "config.yaml").read_text())


def test_typo_in_a_nested_key_is_named(default_config):
    bad = copy.deepcopy(default_config)
    bad["training"]["epocs"] = 3
    with pytest.raises(ConfigError) as error:
        validate_config(bad, SCHEMA, source="bad.yaml")
    message = str(error.value)
    assert "bad.yaml" in message
    assert "training: unknown key(s) ['epocs']" in message
    assert "epochs" in message  # the allowed keys are listed


def test_wrong_type_is_named_with_its_path(default_config):
    bad = copy.deepcopy(default_config)
    bad["datasets"]["electrons"]["simulate"]["n_events"] = "many"
    with pytest.raises(ConfigError, match=r"datasets\.electrons\.simulate\.n_events: 'many'"):
        validate_config(bad, SCHEMA)


def test_unknown_source_is_rejected(default_config):
    bad = copy.deepcopy(default_config)
    bad["datasets"]["electrons"]["source"] = "simulated"
    with pytest.raises(ConfigError, match=r"datasets\.electrons\.source"):
        validate_config(bad, SCHEMA)


def test_workflow_start_up_stops_on_a_typo(tmp_path, default_config):
    bad = copy.deepcopy(default_config)
    bad["evaluation"]["bootstrap_resampels"] = 10
    config_file = tmp_path / "typo.yaml"
    config_file.write_text(yaml.safe_dump(bad))
    result = subprocess.run(
        [sys.executable, "-m", "snakemake", "-n", "--cores", "1", "--configfile", str(config_file)],
        cwd=REPO,
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "evaluation: unknown key(s) ['bootstrap_resampels']" in result.stdout + result.stderr
