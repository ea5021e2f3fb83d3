"""The plan of a run from the config (hepml.plan): datasets by kind, unpacked keys, result
names and their inverse, on the shipped configs and on hand-made blocks."""

from pathlib import Path

import pytest
import yaml
from hepml import plan
from hepml.settings import SettingsError

REPO = Path(__file__).resolve().parents[1]


def shipped(name: str) -> dict:
    return yaml.safe_load((REPO / "config" / name).read_text())


def test_datasets_are_found_by_kind_whatever_their_names():
    config = shipped("config.yaml")
    config["datasets"]["published"] = dict(config["datasets"]["electrons"], source="path")
    assert plan.datasets_of_kind(config, "electrons") == ["electrons", "published"]
    assert plan.datasets_of_kind(config, "muons") == ["muons"]
    assert plan.datasets_of_kind(config, "jets") == []
    assert plan.compared_kinds(config) == ["electrons"]
    assert plan.dataset_kind(config, "published") == "electrons"
    with pytest.raises(SettingsError, match="unknown dataset kind 'taus'"):
        plan.datasets_of_kind(config, "taus")
    with pytest.raises(SettingsError, match=r"datasets.tau: no such dataset"):
        plan.dataset_kind(config, "tau")


def test_result_names_and_their_inverse_on_every_shipped_config():
    for name in ("config.yaml", "paper.yaml", "generated.yaml", "jets.yaml", "tiny.yaml"):
        for block in shipped(name)["datasets"].values():
            names = plan.result_names(block)
            assert len(set(names)) == len(names)
            for result in names:
                feature_set, model = plan.split_result_name(block, result)
                if result == plan.EFP_LINEAR_NAME:
                    assert (feature_set, model) == ("efp", "linear")
                else:
                    assert model in plan.feature_set(block, feature_set).models


def test_names_follow_the_config():
    block = {
        "kind": "electrons",
        "keys": ["hl", "y"],
        "feature_sets": {
            "hl": {"inputs": ["hl"], "models": ["nn", "bdt"]},
            "cells": {"inputs": ["et"], "models": ["pfn"]},
        },
        "efp": {"linear": {}},
    }
    assert plan.result_names(block) == ["hl", "hl-bdt", "cells", "efp-linear"]
    assert plan.split_result_name(block, "hl-bdt") == ("hl", "bdt")
    assert plan.split_result_name(block, "cells") == ("cells", "pfn")
    assert plan.unpacked_keys(block) == ["hl", "y", "weight"]
    for unknown in ("hl-efn", "cells-pfn", "mass", "efp-bdt"):
        with pytest.raises(SettingsError, match="is not a trained model"):
            plan.split_result_name(block, unknown)
    block["efp"] = {}
    assert "efp-linear" not in plan.result_names(block)
    with pytest.raises(SettingsError, match="is not a trained model"):
        plan.split_result_name(block, "efp-linear")


def test_each_kind_lists_the_keys_its_unpacking_writes():
    """plan.KIND_KEYS (read when the DAG is built) names the keys of io's published layouts
    and of unpack_jets: the start-up check and the unpacking agree on what a key is."""
    from hepml import io
    from hepml.steps import jets

    assert set(plan.KIND_KEYS) == set(plan.KINDS)
    for kind, layout in io.LAYOUTS.items():
        assert set(plan.KIND_KEYS[kind]) == set(layout.keys), kind
    assert tuple(plan.KIND_KEYS["jets"]) == tuple(jets.KEYS)


def test_keys_are_checked_against_the_kind_and_named_by_dataset():
    """A key the kind does not have, or a feature-set or EFP input that is not unpacked, is
    named by its dataset's path (not its kind); the shipped configs pass."""
    for name in ("config.yaml", "paper.yaml", "generated.yaml", "jets.yaml", "tiny.yaml"):
        plan.check_datasets(shipped(name))
    config = shipped("config.yaml")
    config["datasets"]["published"] = config["datasets"].pop("electrons")
    config["datasets"]["published"]["keys"].append("bogus")
    config["datasets"]["muons"]["keys"].append("et")  # an electron key in a muon dataset
    with pytest.raises(SettingsError) as raised:
        plan.check_datasets(config)
    message = str(raised.value)
    assert "datasets.published.keys: unknown key 'bogus' for kind electrons (allowed: et," in (
        message
    )
    assert "datasets.muons.keys: unknown key 'et' for kind muons" in message
    assert "datasets.electrons" not in message

    config = shipped("jets.yaml")
    block = config["datasets"]["jets"]
    block["keys"].remove("hl")
    assert plan.dataset_problems("jets", block) == [
        "datasets.jets.feature_sets.hl.inputs: 'hl' is not an unpacked key of this dataset "
        "(datasets.jets.keys: jet, constituents, mass, y, weight)"
    ]
    block["keys"] = ["jet", "hl", "mass", "y"]  # EFPs of constituents that are not unpacked
    block["feature_sets"] = {"hl": {"inputs": ["hl"]}}
    assert plan.dataset_problems("jets", block) == [
        f"datasets.jets.efp.images: {block['efp']['images'][0]!r} is not an unpacked key of "
        "this dataset (datasets.jets.keys: jet, hl, mass, y, weight)"
    ]
