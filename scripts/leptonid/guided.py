"""Black-box guided search: add, one pass at a time, the EFP that best mimics a black box.

docs/reference.md "Black-box guided search" (electron paper Sec. V; Faucett et al.,
arXiv:2010.11998). Pass 0 is a small DNN on a start feature set (the 7 HL features). Each
later pass n:

1. draws signal/background pairs from the VALIDATION split (never train, never test) and keeps
   the pairs that the pass n-1 model and the black box (the CNN on the images) order in
   opposite ways (``ado.disagreeing_pairs``);
2. ranks every candidate EFP by its ADO with the black box on those pairs only
   (``rank_candidates``: the EFP's sign is fixed on all pairs, see there) and picks the largest;
3. adds it to the inputs of the pass n model, which the ordinary train/evaluate rules train and
   measure on TEST.

The search stops at the pass limit, when no pair is disagreeing any more (the model's ADO with
the black box has reached 1; this is also how an EFP that fixed every disagreeing pair ends
the search: the next pass finds none left), when no candidate is left or none orders the
disagreeing pairs like the black box more often than not, or when the pass n-1 model's AUC
has reached the black box's measured AUC (``stop_reason``).

The search itself takes arrays and settings and returns arrays, dicts and tables; the
``run_*`` entry points at the end read and write the files of one rule (through
``leptonid.io``), and rules/guided.smk does the pass bookkeeping.
"""

from __future__ import annotations

import logging
import math
import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from leptonid import ado, io, metrics
from leptonid.efp import parse_efp_name
from leptonid.settings import FeatureSet, NetworkSettings, SettingsError

log = logging.getLogger(__name__)

CANDIDATE_POOLS = ("all", "irc_safe")
FEATURE_SET_PREFIX = "guided_"
SEED_OFFSET = 700  # pair draws: master seed + this offset (settings.SEED_OFFSETS uses 300-600)
_PASS_NAME = re.compile(rf"^{FEATURE_SET_PREFIX}(?P<scan>[A-Za-z0-9_]+)_pass(?P<n>[0-9]+)$")
# Only kappa = 1 gives IRC-safe EFPs (docs/reference.md "Energy Flow Polynomials").
IRC_SAFE_KAPPA = 1.0
CALORIMETERS = {"et": "ECal", "ee": "ECal", "ht": "HCal", "he": "HCal"}

# Columns of the EFP stage's single_auc.csv that the scan table reads: name, AUC alone.
SINGLE_AUC_COLUMNS = ["efp", "auc"]
RANKING_COLUMNS = ["rank", "efp", "ado_disagreeing", "ado_disagreeing_folded", "ado_all"]
TABLE_COLUMNS = [
    "pass",
    "feature_set",
    "efp",
    "calorimeter",
    "graph",
    "kappa",
    "beta",
    "ado_disagreeing",
    "efp_auc",
    "ado_black_box",
    "auc",
    "auc_low",
    "auc_high",
    "n_disagreeing",
    "fraction_disagreeing",
    "ado_model_black_box",
    "status",
]


# ---------------------------------------------------------------------------------------------
# Settings and names
# ---------------------------------------------------------------------------------------------


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

    name: str
    start: str
    candidates: str
    black_box: str
    n_pairs: int
    max_passes: int
    seed: int
    network: NetworkSettings

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


_SHARED_KEYS = {"black_box", "n_pairs", "max_passes", "seed", "network"}
_GUIDED_KEYS = _SHARED_KEYS | {"scans"}
_SCAN_KEYS = _SHARED_KEYS | {"start", "candidates"}


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
    _reject_unknown(block, _GUIDED_KEYS, "guided")
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
        _reject_unknown(values, _SCAN_KEYS, where)
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
            candidates=merged.get("candidates", "all"),
            black_box=merged["black_box"],
            n_pairs=int(merged["n_pairs"]),
            max_passes=int(merged["max_passes"]),
            seed=int(merged.get("seed", int(master_seed) + SEED_OFFSET)),
            network=network,
        )
    return scans


def _reject_unknown(values: Mapping, allowed: set[str], where: str) -> None:
    unknown = sorted(set(values) - allowed)
    if unknown:
        raise SettingsError(f"{where}: unknown key(s) {unknown} (allowed: {sorted(allowed)})")


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


# ---------------------------------------------------------------------------------------------
# Candidates, ranking, stopping
# ---------------------------------------------------------------------------------------------


def candidate_pool(names: Sequence[str], pool: str, exclude: Sequence[str] = ()) -> list[str]:
    """Candidate EFPs: every name (``all``) or those with kappa = 1 (``irc_safe``), in the
    given order, without ``exclude`` (the EFPs the model already has)."""
    if pool not in CANDIDATE_POOLS:
        raise ValueError(f"candidate pool {pool!r}: expected one of {CANDIDATE_POOLS}")
    excluded = set(exclude)
    keep = [name for name in names if name not in excluded]
    if pool == "irc_safe":
        keep = [name for name in keep if parse_efp_name(name).kappa == IRC_SAFE_KAPPA]
    return keep


def drop_constant_columns(
    values: np.ndarray, names: Sequence[str], rtol: float = 1e-9
) -> tuple[np.ndarray, list[str]]:
    """Remove candidates that do not vary over the events: (N, K) values -> (N, K') values.

    Such an observable carries no information (e.g. 1_0_0 at kappa = 1 is sum_i z_i = 1 for
    every event, since the cell ET is normalised); its ADO is 1/2 up to rounding, and rounding
    must never decide a pick. Constant means max - min <= rtol * max|value| on these events.
    """
    if values.shape[1] == 0:
        return values, list(names)
    spread = values.max(axis=0) - values.min(axis=0)
    varies = spread > rtol * np.abs(values).max(axis=0)
    dropped = [name for name, keep in zip(names, varies, strict=True) if not keep]
    if dropped:
        log.info("dropping %d constant candidates: %s", len(dropped), ", ".join(dropped[:10]))
    return values[:, varies], [name for name, keep in zip(names, varies, strict=True) if keep]


def rank_candidates(
    values: np.ndarray,
    names: Sequence[str],
    black_box_score: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray],
    disagreeing: np.ndarray,
) -> pd.DataFrame:
    """ADO ranking of candidate observables against the black box.

    values: (N, K) candidate values (EFPs) of the N validation events; names: their K names;
    black_box_score: (N,); pairs: (signal_index, background_index), each (P,); disagreeing:
    (P,) boolean mask of the pairs the current model orders against the black box.

    Orientation: an EFP may grow towards signal or towards background, so its sign is fixed
    once, on ALL drawn pairs (flipped when its raw ADO with the black box there is below 1/2),
    and its ADO on the disagreeing pairs is taken with that orientation. Folding on the
    disagreeing pairs alone would reward an observable that repeats the model's mistakes: the
    model's own score has raw ADO 0 there, folded to a perfect 1.

    Returns a table with columns rank (1 = best), efp, ado_disagreeing (oriented ADO on the
    disagreeing pairs, the ranking key), ado_disagreeing_folded (max(ADO, 1 - ADO) on the
    disagreeing pairs, as the original code reported it), ado_all (folded ADO on all P pairs),
    sorted by ado_disagreeing, then ado_all (descending), then name.
    """
    values = np.asarray(values)
    if values.ndim != 2 or values.shape[1] != len(names):
        raise ValueError(f"values must be (N, {len(names)}), got shape {values.shape}")
    signal_index, background_index = pairs
    disagreeing = np.asarray(disagreeing, dtype=bool)
    if disagreeing.shape != signal_index.shape:
        raise ValueError(f"disagreeing must have shape {signal_index.shape}")
    if not disagreeing.any():
        raise ValueError("no disagreeing pairs: nothing to rank on")
    raw_all = ado.ado_columns(values, black_box_score, signal_index, background_index, folded=False)
    raw_disagreeing = ado.ado_columns(
        values,
        black_box_score,
        signal_index[disagreeing],
        background_index[disagreeing],
        folded=False,
    )
    oriented = np.where(raw_all >= 0.5, raw_disagreeing, 1.0 - raw_disagreeing)
    table = pd.DataFrame(
        {
            "efp": list(names),
            "ado_disagreeing": oriented,
            "ado_disagreeing_folded": ado.fold(raw_disagreeing),
            "ado_all": ado.fold(raw_all),
        }
    )
    table = table.sort_values(
        ["ado_disagreeing", "ado_all", "efp"], ascending=[False, False, True], kind="mergesort"
    ).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table[RANKING_COLUMNS]


def rank_candidate_groups(
    groups: Iterable[tuple[Sequence[str], np.ndarray]],
    black_box_score: np.ndarray,
    pairs: tuple[np.ndarray, np.ndarray],
    disagreeing: np.ndarray,
) -> pd.DataFrame:
    """``rank_candidates`` over candidates streamed in groups of columns.

    groups: (names, (N, g) values) pieces of the candidate pool, e.g. read block by block
    from the EFP table (memory holds one group); constant candidates are dropped per group
    (``drop_constant_columns``). Returns one ranking of every candidate, as rank_candidates.
    """
    parts = []
    for names, values in groups:
        values, names = drop_constant_columns(np.asarray(values, dtype=np.float64), names)
        if names:
            parts.append(rank_candidates(values, names, black_box_score, pairs, disagreeing))
    if not parts:
        return pd.DataFrame(columns=RANKING_COLUMNS)
    table = pd.concat(parts, ignore_index=True).drop(columns="rank")
    table = table.sort_values(
        ["ado_disagreeing", "ado_all", "efp"], ascending=[False, False, True], kind="mergesort"
    ).reset_index(drop=True)
    table.insert(0, "rank", np.arange(1, len(table) + 1))
    return table[RANKING_COLUMNS]


def stop_reason(
    *,
    pass_index: int,
    max_passes: int,
    n_disagreeing: int,
    n_candidates: int,
    model_auc: float | None,
    black_box_auc: float | None,
    best_ado: float | None = None,
) -> str | None:
    """Why pass ``pass_index`` adds no EFP (None: it goes on).

    Checked in order: the pass limit; the pass n-1 model's AUC has reached the black box's
    (both measured, on the scan's ``stop_auc_split``; skipped with a warning when either is
    unknown, e.g. a collapsed model); no pair is disagreeing (ADO(model, black box) = 1 on
    the drawn pairs); no candidate is left; the best candidate's (oriented) ADO with the black
    box on the disagreeing pairs, ``best_ado``, is at most 1/2: no EFP orders those pairs like
    the black box more often than not, so there is nothing left to add.
    """
    if pass_index > max_passes:
        return f"pass limit: pass {pass_index} > max_passes {max_passes}"
    if model_auc is None or black_box_auc is None:
        log.warning(
            "AUC stop not checked: model AUC %s, black-box AUC %s", model_auc, black_box_auc
        )
    elif model_auc >= black_box_auc:
        return f"AUC reached the black box: {model_auc:.5f} >= {black_box_auc:.5f}"
    if n_disagreeing == 0:
        return "ADO with the black box reached 1: no disagreeing pair left"
    if n_candidates == 0:
        return "no candidate EFP left"
    if best_ado is not None and best_ado <= 0.5:
        return (
            f"no candidate orders the disagreeing pairs like the black box more often than "
            f"not (best ADO {best_ado:.4f} <= 0.5)"
        )
    return None


@dataclass(frozen=True)
class PassSelection:
    """Result of one selection step.

    summary: JSON-ready dict (pass, n_pairs, n_disagreeing, fraction_disagreeing,
    ado_model_black_box, model_auc, black_box_auc, auc_split, seed).
    ranking: the rank_candidates table (empty when no pair disagrees).
    choice: JSON-ready dict (pass, stop, stop_reason, efp, ado_disagreeing, ado_all,
    efps: every EFP the pass n model gets beyond the start set's).
    """

    summary: dict
    ranking: pd.DataFrame
    choice: dict


def select_next_efp(
    y: np.ndarray,
    model_score: np.ndarray,
    black_box_score: np.ndarray,
    candidates: Iterable[tuple[Sequence[str], np.ndarray]],
    *,
    pass_index: int,
    chosen_before: Sequence[str],
    n_pairs: int,
    max_passes: int,
    seed: int,
    model_auc: float | None,
    black_box_auc: float | None,
    auc_split: str,
    weight: np.ndarray | None = None,
) -> PassSelection:
    """One pass of the guided search on the validation split.

    y: (N,) labels (1 = signal); model_score: (N,) scores of the pass n-1 model;
    black_box_score: (N,) black-box scores; candidates: the candidate EFPs (already restricted
    to the scan's pool and without ``chosen_before``) as (names, (N, g) values) groups,
    consumed only when some pair disagrees (``rank_candidate_groups``);
    model_auc, black_box_auc: the validation AUCs the stop compares (None = unknown).
    weight: optional (N,) event weights the pairs are drawn with (None: all equal).
    Pairs come from ``ado.draw_pairs(y, n_pairs, seed, weight)``: the same in every pass.
    """
    y = np.asarray(y)
    n_events = y.shape[0]
    for label, array in (("model_score", model_score), ("black_box_score", black_box_score)):
        if np.shape(array) != (n_events,):
            raise ValueError(f"{label} must have shape ({n_events},), got {np.shape(array)}")
    pairs = ado.draw_pairs(y, n_pairs, seed, weight)
    do = ado.decision_ordering(model_score, black_box_score, *pairs)
    disagreeing = do == 0.0
    n_disagreeing = int(disagreeing.sum())
    summary = {
        "pass": int(pass_index),
        "n_pairs": int(n_pairs),
        "n_disagreeing": n_disagreeing,
        "fraction_disagreeing": n_disagreeing / n_pairs,
        "n_tied": int((do == 0.5).sum()),
        "ado_model_black_box": float(do.mean()),
        "model_auc": model_auc,
        "black_box_auc": black_box_auc,
        "auc_split": auc_split,
        "seed": int(seed),
    }
    log.info(
        "pass %d: %d of %d pairs disagree (%.4f), ADO(model, black box) = %.5f",
        pass_index,
        n_disagreeing,
        n_pairs,
        summary["fraction_disagreeing"],
        summary["ado_model_black_box"],
    )
    if n_disagreeing:
        ranking = rank_candidate_groups(candidates, black_box_score, pairs, disagreeing)
    else:
        ranking = pd.DataFrame(columns=RANKING_COLUMNS)
    summary["n_candidates"] = len(ranking)
    reason = stop_reason(
        pass_index=pass_index,
        max_passes=max_passes,
        n_disagreeing=n_disagreeing,
        n_candidates=len(ranking),
        model_auc=model_auc,
        black_box_auc=black_box_auc,
        best_ado=float(ranking["ado_disagreeing"].iloc[0]) if len(ranking) else None,
    )
    choice = {"pass": int(pass_index), "stop": reason is not None, "stop_reason": reason}
    if reason is None:
        best = ranking.iloc[0]
        choice.update(
            efp=str(best["efp"]),
            ado_disagreeing=float(best["ado_disagreeing"]),
            ado_all=float(best["ado_all"]),
            efps=[*chosen_before, str(best["efp"])],
        )
        log.info(
            "pass %d: chose %s (ADO %.5f)", pass_index, choice["efp"], choice["ado_disagreeing"]
        )
    else:
        choice.update(efp=None, ado_disagreeing=None, ado_all=None, efps=list(chosen_before))
        log.info("pass %d: stop (%s)", pass_index, reason)
    return PassSelection(summary=summary, ranking=ranking, choice=choice)


# ---------------------------------------------------------------------------------------------
# Scan table
# ---------------------------------------------------------------------------------------------


def describe_efp(name: str | None) -> dict:
    """calorimeter (ECal/HCal), graph ``n_d_k``, kappa, beta of a canonical EFP name."""
    if name is None:
        return {"calorimeter": None, "graph": None, "kappa": None, "beta": None}
    parts = parse_efp_name(name)
    return {
        "calorimeter": CALORIMETERS.get(parts.image, parts.image),
        "graph": f"{parts.n}_{parts.d}_{parts.k}",
        "kappa": parts.kappa,
        "beta": parts.beta,
    }


def scan_table(
    scan: str,
    choices: Sequence[Mapping],
    summaries: Sequence[Mapping],
    metrics: Sequence[Mapping],
    efp_auc: Mapping[str, float],
) -> pd.DataFrame:
    """The paper's table of one scan (its name ``scan``): one row per trained pass, 0..n.

    choices, summaries: the choice and pairs-summary dicts of passes 1..n that added an EFP
    (select_next_efp); metrics: evaluate_model's dicts of passes 0..n (test split);
    efp_auc: AUC of each EFP alone (a missing name leaves the cell empty).
    Columns: TABLE_COLUMNS. ado_disagreeing is the chosen EFP's ADO with the black box on the
    pairs the previous model got wrong; ado_black_box its ADO on all drawn pairs.
    """
    if len(metrics) != len(choices) + 1 or len(summaries) != len(choices):
        raise ValueError(
            f"scan {scan!r}: {len(metrics)} metrics for {len(choices)} choices and "
            f"{len(summaries)} pair summaries (expected choices + 1 metrics)"
        )
    rows = []
    for pass_index, entry in enumerate(metrics):
        choice = choices[pass_index - 1] if pass_index else {}
        summary = summaries[pass_index - 1] if pass_index else {}
        name = choice.get("efp")
        rows.append(
            {
                "pass": pass_index,
                "feature_set": pass_feature_set_name(scan, pass_index),
                "efp": name,
                **describe_efp(name),
                "ado_disagreeing": choice.get("ado_disagreeing"),
                "efp_auc": efp_auc.get(name) if name else None,
                "ado_black_box": choice.get("ado_all"),
                "auc": entry.get("auc"),
                "auc_low": entry.get("auc_low"),
                "auc_high": entry.get("auc_high"),
                "n_disagreeing": summary.get("n_disagreeing"),
                "fraction_disagreeing": summary.get("fraction_disagreeing"),
                "ado_model_black_box": summary.get("ado_model_black_box"),
                "status": entry.get("status"),
            }
        )
    table = pd.DataFrame(rows, columns=TABLE_COLUMNS)
    table["n_disagreeing"] = table["n_disagreeing"].astype("Int64")  # empty at pass 0
    return table


def gap_closed(table: pd.DataFrame, baseline_auc: float, black_box_auc: float) -> float:
    """Fraction of the AUC gap (black box - baseline) closed by the scan's final pass.

    The final pass is the one the validation-split procedure ends on (the last row of the
    table): which pass is the headline is decided without the test split, whose AUCs only
    measure it. The best test AUC over passes would let the test split choose.
    """
    gap = black_box_auc - baseline_auc
    final = pd.to_numeric(table["auc"], errors="coerce").iloc[-1] if len(table) else math.nan
    if not math.isfinite(gap) or gap <= 0 or not math.isfinite(final):
        return math.nan
    return float((final - baseline_auc) / gap)


# ---------------------------------------------------------------------------------------------
# Entry points of the rules (file handling through leptonid.io)
# ---------------------------------------------------------------------------------------------


def read_single_auc(path: str | Path) -> dict[str, float]:
    """EFP name -> AUC of the EFP alone, from the EFP stage's single_auc.csv."""
    table = pd.read_csv(path)
    missing = [column for column in SINGLE_AUC_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(
            f"{path}: column(s) {missing} missing (expected {SINGLE_AUC_COLUMNS}, "
            f"found {list(table.columns)})"
        )
    return dict(zip(table[SINGLE_AUC_COLUMNS[0]], table[SINGLE_AUC_COLUMNS[1]], strict=True))


def scan_markdown(
    table: pd.DataFrame,
    stop: Mapping | None,
    black_box: tuple[str, Mapping],
    start: tuple[str, Mapping],
) -> str:
    """The scan table as markdown, with how the scan ended and the share of the gap between
    the start set's model and the black box that the best pass closes."""
    shown = table.astype(object)
    for column in ("kappa", "beta"):  # exponents as written in the EFP names, not 1.0000
        shown[column] = [None if pd.isna(v) else f"{v:g}" for v in table[column]]
    shown["n_disagreeing"] = [None if pd.isna(v) else str(v) for v in table["n_disagreeing"]]
    lines = [metrics.markdown_table(shown)]
    if stop is None:
        lines.append(f"Ran to the pass limit (pass {int(table['pass'].max())}).")
    else:
        lines.append(f"Stopped before pass {stop['pass']}: {stop['stop_reason']}.")
    (bb_name, bb), (start_name, st) = black_box, start
    lines.append(
        f"Black box {bb_name}: AUC {_format(bb.get('auc'))} "
        f"[{_format(bb.get('auc_low'))}, {_format(bb.get('auc_high'))}]; "
        f"start set {start_name}: AUC {_format(st.get('auc'))} "
        f"[{_format(st.get('auc_low'))}, {_format(st.get('auc_high'))}] (test split)."
    )
    if bb.get("auc") is not None and st.get("auc") is not None:
        gap = bb["auc"] - st["auc"]
        widths = [
            (m["auc_high"] - m["auc_low"]) / 2
            for m in (bb, st)
            if m.get("auc_high") is not None and m.get("auc_low") is not None
        ]
        width = max(widths) if widths else math.nan
        in_widths = gap / width if width > 0 else math.nan
        closed = gap_closed(table, st["auc"], bb["auc"])
        lines.append(
            f"Gap black box - start set: {_format(gap)} AUC = {_format(in_widths, 1)} bootstrap "
            f"half-widths (the larger half-width of the two intervals). Share of the gap closed "
            f"by the final pass (pass {int(table['pass'].iloc[-1])}, where the validation-split "
            f"procedure ended): {_format(closed, 2)}."
        )
    return "\n\n".join(lines) + "\n"


def _format(value, digits: int = 4) -> str:
    if value is None or (isinstance(value, float) and not math.isfinite(value)):
        return "n/a"
    return f"{value:.{digits}f}"


def run_scan_summary(
    *,
    scan: str,
    choice_paths: Sequence[str | Path],
    pairs_paths: Sequence[str | Path],
    metrics_paths: Sequence[str | Path],
    stop_path: str | Path | None,
    single_auc_path: str | Path,
    black_box: tuple[str, str | Path],
    start: tuple[str, str | Path],
    csv_path: str | Path,
    markdown_path: str | Path,
) -> pd.DataFrame:
    """summarise_scan: the table of one scan as CSV and markdown (with the stop and the gap).

    black_box, start: (feature set name, its metrics file).
    """
    table = scan_table(
        scan,
        [io.read_json(path) for path in choice_paths],
        [io.read_json(path) for path in pairs_paths],
        [io.read_json(path) for path in metrics_paths],
        read_single_auc(single_auc_path),
    )
    stop = io.read_json(stop_path) if stop_path else None
    text = scan_markdown(
        table,
        stop,
        (black_box[0], io.read_json(black_box[1])),
        (start[0], io.read_json(start[1])),
    )
    io.write_text(csv_path, table.to_csv(index=False))
    io.write_text(markdown_path, text)
    return table
