"""Guided-search names and settings: pass feature-set names, scans from the config, the
feature set of a pass.

Light on purpose (no numpy, pandas or file access): the rules import it when the DAG is built
(rules/guided_functions.smk walks the passes with these names).
"""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

from hepml.settings import (
    CONFIG_KEY,
    FALLBACK,
    SEED_OFFSETS,
    FeatureSet,
    NetworkSettings,
    SettingsError,
    config_keys,
    reject_unknown_keys,
)

CANDIDATE_POOLS = ("all", "irc_safe")
FEATURE_SET_PREFIX = "guided_"
_PASS_NAME = re.compile(rf"^{FEATURE_SET_PREFIX}(?P<scan>[A-Za-z0-9_]+)_pass(?P<n>[0-9]+)$")
# Only kappa = 1 gives IRC-safe EFPs (docs/reference.md "Energy Flow Polynomials").
IRC_SAFE_KAPPA = 1.0


def pass_feature_set_name(scan: str, pass_index: int) -> str:
    """Feature set trained at one pass: ``guided_{scan}_pass{n}``."""
    return f"{FEATURE_SET_PREFIX}{scan}_pass{int(pass_index)}"


def parse_pass_feature_set_name(name: str) -> tuple[str, int] | None:
    """(scan, pass) of a ``guided_{scan}_pass{n}`` name; None for any other feature set."""
    match = _PASS_NAME.match(name)
    return None if match is None else (match["scan"], int(match["n"]))


@dataclass(frozen=True)
class ScanSettings:
    """One guided scan (``datasets.<dataset>.guided.scans.<name>``, defaults from ``guided``).

    start: feature set whose inputs pass 0 uses (e.g. ``hl``, ``hl_and_mass``).
    candidates: ``all`` kept EFPs or ``irc_safe`` (kappa = 1) only.
    black_box: feature set whose scores the search imitates (the ``et_and_ht`` CNN).
    n_pairs: signal/background pairs drawn from the validation split (once per scan, the same
    pairs in every pass). max_passes: passes after pass 0 at most. seed: pair draws.
    network: the DNN trained at every pass (start set + chosen EFPs).
    Every choice of the search (pairs, ranking, every stop, the AUC stop included) is made on
    the validation split; the test split only measures the passes (docs/guided.md).
    """

    name: str = field(metadata={CONFIG_KEY: None})  # the key of guided.scans
    start: str
    # The keys below fall back to the guided block (seed then to the master seed + offset,
    # network to network_defaults).
    black_box: str = field(metadata={FALLBACK: "guided"})
    n_pairs: int = field(metadata={FALLBACK: "guided"})
    max_passes: int = field(metadata={FALLBACK: "guided"})
    seed: int = field(metadata={FALLBACK: "guided"})
    network: NetworkSettings = field(metadata={FALLBACK: "guided"})
    candidates: str = "all"

    def __post_init__(self) -> None:
        where = f"guided scan {self.name!r}"
        if self.candidates not in CANDIDATE_POOLS:
            raise SettingsError(
                f"{where}: candidates is {self.candidates!r}, expected one of {CANDIDATE_POOLS}"
            )
        if self.n_pairs < 1 or self.max_passes < 1:
            raise SettingsError(f"{where}: n_pairs and max_passes must be >= 1")

    def feature_set_name(self, pass_index: int) -> str:
        return pass_feature_set_name(self.name, pass_index)


# The scan keys a scan may take from the guided block (FALLBACK metadata), and the block's keys.
_SHARED_KEYS = {f.name for f in dataclasses.fields(ScanSettings) if FALLBACK in f.metadata}
_GUIDED_KEYS = _SHARED_KEYS | {"scans"}
_SCAN_KEYS = set(config_keys(ScanSettings))


def scans_from_config(dataset_config: Mapping, master_seed: int) -> dict[str, ScanSettings]:
    """Every scan of one dataset block (``datasets.<dataset>``); {} when it has no ``guided``.

    A scan key (black_box, n_pairs, max_passes, seed, network) falls back to
    the ``guided`` block, the network to the dataset's ``network_defaults``. Raises
    SettingsError naming the scan and key for unknown keys, unknown feature sets, or a
    configured feature set whose name collides with the guided pass names.
    """
    block = dataset_config.get("guided")
    if not block:
        return {}
    reject_unknown_keys(block, _GUIDED_KEYS, "guided")
    feature_sets = dataset_config["feature_sets"]
    for name in feature_sets:
        if parse_pass_feature_set_name(name) is not None:
            raise SettingsError(
                f"feature set {name!r}: names guided_<scan>_pass<n> are reserved for the passes "
                "of the guided search"
            )
    scans = {}
    for name, values in (block.get("scans") or {}).items():
        where = f"guided.scans.{name}"
        reject_unknown_keys(values, _SCAN_KEYS, where)
        merged = {key: block[key] for key in _SHARED_KEYS if key in block}
        merged.update(values)
        for key in ("start", "black_box"):
            if key not in merged:
                raise SettingsError(f"{where}: {key!r} is required")
            if merged[key] not in feature_sets:
                raise SettingsError(
                    f"{where}.{key}: feature set {merged[key]!r} is not configured "
                    f"(known: {sorted(feature_sets)})"
                )
        for key in ("n_pairs", "max_passes"):
            if key not in merged:
                raise SettingsError(f"{where}: {key!r} is required (here or in guided)")
        network = NetworkSettings.from_config(
            dataset_config.get("network_defaults"),
            block.get("network"),
            values.get("network"),
            where=f"{where} network",
        )
        scans[name] = ScanSettings(
            name=name,
            start=merged["start"],
            candidates=merged.get("candidates", ScanSettings.candidates),
            black_box=merged["black_box"],
            n_pairs=int(merged["n_pairs"]),
            max_passes=int(merged["max_passes"]),
            seed=int(merged.get("seed", int(master_seed) + SEED_OFFSETS["guided_pairs"])),
            network=network,
        )
    return scans


def pass_feature_set(
    scan: ScanSettings, start: FeatureSet, pass_index: int, chosen: Sequence[str]
) -> FeatureSet:
    """The feature set of one pass: the start set's inputs and EFPs plus ``chosen`` EFPs,
    trained with the scan's network (a DNN: ``nn`` on flat inputs)."""
    if start.image_inputs:
        raise SettingsError(
            f"guided scan {scan.name!r}: start set {start.name!r} has image inputs "
            f"{list(start.image_inputs)}; the guided search starts from flat features"
        )
    repeated = sorted(set(start.efps) & set(chosen))
    if repeated:
        raise ValueError(f"guided scan {scan.name!r}: EFP(s) {repeated} chosen twice")
    return FeatureSet(
        name=scan.feature_set_name(pass_index),
        inputs=start.inputs,
        network=scan.network,
        efps=(*start.efps, *chosen),
        models=("nn",),
    )


def pass_zero_is_start(scan: ScanSettings, start: FeatureSet, *, start_tuned: bool) -> bool:
    """Whether pass 0 of ``scan`` is the start set's own primary model, so that the search
    reuses that model's scores and metrics instead of training it a second time.

    train_model trains a network from its feature set (inputs, EFPs, columns, network, primary
    model), the training block and the training seed (one for every feature set); the name
    only names files. Pass 0 is therefore the same model, bit for bit, when its feature set
    (``pass_feature_set`` with no EFP chosen) equals the start set but for the name and the
    secondary models (the primary model the same), and the start set's network is not
    replaced by a tuning result (``start_tuned``). A scan whose network differs on purpose
    (the default config's 3 x 50 loop DNN of the paper beside the smaller ``hl`` network)
    trains its own pass 0.
    """
    if start_tuned:
        return False
    pass_zero = pass_feature_set(scan, start, 0, [])
    if pass_zero.models[0] != start.models[0]:  # e.g. a tabular start set's dnn
        return False
    return dataclasses.replace(pass_zero, name=start.name, models=start.models) == start
