"""The plan of a run from the config (leptonid.plan): datasets by kind, unpacked keys, result
names and their inverse, on the shipped configs and on hand-made blocks."""

from pathlib import Path

import pytest
import yaml
from leptonid import plan
from leptonid.settings import SettingsError

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
