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

The search takes arrays and settings and returns arrays, dicts and tables: the rule's files are
read and written by ``hepml.steps.guided``, names and settings are ``hepml.guided.names``,
the scan table ``hepml.guided.tables``, and rules/guided.smk does the pass bookkeeping.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from hepml.efp.names import parse_efp_name
from hepml.guided import ado
from hepml.guided.names import CANDIDATE_POOLS, IRC_SAFE_KAPPA

log = logging.getLogger(__name__)

RANKING_COLUMNS = ["rank", "efp", "ado_disagreeing", "ado_disagreeing_folded", "ado_all"]


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
    must never decide a pick. Constant means every value equals every other to relative
    tolerance, max - min <= rtol * max|value| on these events: scale-free (the same at any
    unit), and a column that varies only where its values are small (kappa = -1: one soft
    cell's event at 1e12, the rest of order one) varies.
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
