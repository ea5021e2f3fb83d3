"""Configuration: every shipped config is valid; typos and wrong types are named."""

import copy
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from hepml.configcheck import ConfigError, validate_config

REPO = Path(__file__).resolve().parents[1]
SCHEMA = yaml.safe_load((REPO / "config" / "schema.yaml").read_text())
# Complete configurations (each replaces config.yaml) and fragments layered on a complete one.
COMPLETE = [
    "config.yaml",
    "paper.yaml",
    "tiny.yaml",
    "generated.yaml",
    "jets.yaml",
    "higgs.yaml",
    "ztautau.yaml",
    "ntuples.yaml",
]
FRAGMENTS = {"cluster.yaml": "paper.yaml"}


def test_every_config_file_is_known():
    shipped = {path.name for path in (REPO / "config").glob("*.yaml")} - {"schema.yaml"}
    assert shipped == set(COMPLETE) | set(FRAGMENTS)


def ztautau() -> dict:
    return yaml.safe_load((REPO / "config" / "ztautau.yaml").read_text())


def test_the_ntuples_block_is_checked_by_the_schema():
    """source ntuples: the ntuples block is validated ($defs/ntuples), required, and only
    allowed with that source; a tabular dataset of another source still needs its file."""
    bad = ztautau()
    bad["datasets"]["ztautau"]["ntuples"]["samples"]["ttbar"]["rol"] = "background"
    with pytest.raises(ConfigError, match=r"samples.ttbar: unknown key\(s\) \['rol'\]"):
        validate_config(bad, SCHEMA)
    bad = ztautau()
    bad["datasets"]["ztautau"]["ntuples"]["split"] = {"valid": 0.2, "tset": 0.3}
    with pytest.raises(ConfigError, match=r"ntuples.split: unknown key"):
        validate_config(bad, SCHEMA)
    missing = ztautau()
    del missing["datasets"]["ztautau"]["ntuples"]
    with pytest.raises(ConfigError, match="ntuples"):
        validate_config(missing, SCHEMA)
    other = ztautau()
    other["datasets"]["ztautau"]["source"] = "path"
    with pytest.raises(ConfigError):
        validate_config(other, SCHEMA)  # no file, and an ntuples block without source ntuples


def test_the_ztautau_block_builds_its_settings():
    """Every expression of config/ztautau.yaml parses and reads only what comes before it."""
    from hepml.io.ntuples import NtupleBlock

    settings = NtupleBlock.from_config(ztautau()["datasets"]["ztautau"]["ntuples"])
    assert [s.role for s in settings.samples].count("background") == 6
    assert settings.columns == ["tau_et", "sum_dphi", "mt", "sum_cos_dphi", "m_vis"]


@pytest.mark.parametrize("name", COMPLETE)
def test_shipped_configs_are_valid(name):
    validate_config(yaml.safe_load((REPO / "config" / name).read_text()), SCHEMA, source=name)


def merged(base: dict, fragment: dict) -> dict:
    """Snakemake's merge of config files: nested keys of the later file win."""
    result = copy.deepcopy(base)
    for key, value in fragment.items():
        if isinstance(value, dict) and isinstance(result.get(key), dict):
            result[key] = merged(result[key], value)
        else:
            result[key] = value
    return result


@pytest.mark.parametrize("name", sorted(FRAGMENTS))
def test_fragments_are_valid_on_their_base(name):
    base = yaml.safe_load((REPO / "config" / FRAGMENTS[name]).read_text())
    fragment = yaml.safe_load((REPO / "config" / name).read_text())
    validate_config(merged(base, fragment), SCHEMA, source=name)


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


def dry_run(config_file):
    """``snakemake -n`` of the repository's workflow with one config file."""
    command = [sys.executable, "-m", "snakemake", "-n", "--cores", "1"]
    return subprocess.run(
        [*command, "--configfile", str(config_file)], cwd=REPO, capture_output=True, text=True
    )


def test_workflow_start_up_stops_on_a_typo(tmp_path, default_config):
    bad = copy.deepcopy(default_config)
    bad["evaluation"]["bootstrap_resampels"] = 10
    config_file = tmp_path / "typo.yaml"
    config_file.write_text(yaml.safe_dump(bad))
    result = dry_run(config_file)
    assert result.returncode != 0
    assert "evaluation: unknown key(s) ['bootstrap_resampels']" in result.stdout + result.stderr


def test_a_dataset_is_named_by_the_user_and_typed_by_its_kind(default_config):
    """Any name works when kind says what it is; the kind picks the simulator's schema."""
    renamed = copy.deepcopy(default_config)
    renamed["datasets"]["published_electrons"] = renamed["datasets"].pop("electrons")
    validate_config(renamed, SCHEMA)

    missing = copy.deepcopy(default_config)
    del missing["datasets"]["muons"]["kind"]
    with pytest.raises(ConfigError, match=r"datasets\.muons: 'kind' is a required property"):
        validate_config(missing, SCHEMA)

    unknown = copy.deepcopy(default_config)
    unknown["datasets"]["muons"]["kind"] = "taus"
    with pytest.raises(ConfigError, match=r"datasets\.muons\.kind: 'taus' is not one of"):
        validate_config(unknown, SCHEMA)

    # An electron simulator key in a muon dataset is a typo there, named.
    crossed = copy.deepcopy(default_config)
    crossed["datasets"]["muons"]["simulate"]["shower_core_width"] = 0.1
    with pytest.raises(ConfigError, match=r"datasets\.muons\.simulate: unknown key\(s\)"):
        validate_config(crossed, SCHEMA)


@pytest.mark.parametrize("name", ["compare", "bench", "2electrons", "my-electrons"])
def test_dataset_names_that_would_clash_or_break_paths_are_rejected(default_config, name):
    bad = copy.deepcopy(default_config)
    bad["datasets"][name] = bad["datasets"]["electrons"]
    with pytest.raises(ConfigError, match=repr(name)):
        validate_config(bad, SCHEMA)


def test_workflow_start_up_names_the_dataset_of_an_unknown_key(tmp_path, default_config):
    """keys: [..., bogus] stops the dry run at start-up, named by the dataset's own name (the
    unpack jobs would otherwise each fail, naming the kind)."""
    bad = copy.deepcopy(default_config)
    bad["datasets"]["my_electrons"] = bad["datasets"].pop("electrons")
    bad["datasets"]["my_electrons"]["keys"].append("bogus")
    validate_config(bad, SCHEMA)  # the schema cannot see it: a key's name depends on the kind
    config_file = tmp_path / "bogus.yaml"
    config_file.write_text(yaml.safe_dump(bad))
    result = dry_run(config_file)
    assert result.returncode != 0
    assert (
        "datasets.my_electrons.keys: unknown key 'bogus' for kind electrons (allowed: et, ee, "
        "ht, he, hl, mass, y, weight)"
    ) in result.stdout + result.stderr
