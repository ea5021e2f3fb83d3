"""The table of one guided scan (the paper's table: one row per trained pass) and its markdown.

Dicts and tables in, a table and text out; ``hepml.steps.guided.summarise_scan`` reads the
pass files and writes both.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence

import pandas as pd

from hepml import metrics
from hepml.efp.names import parse_efp_name
from hepml.guided.names import pass_feature_set_name

CALORIMETERS = {"et": "ECal", "ee": "ECal", "ht": "HCal", "he": "HCal"}
# Columns of the EFP stage's single_auc.csv that the scan table reads: name, AUC alone.
SINGLE_AUC_COLUMNS = ["efp", "auc"]
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


def single_aucs(table: pd.DataFrame, source: str) -> dict[str, float]:
    """EFP name -> AUC of the EFP alone, from the EFP stage's single_auc table (read from
    ``source``, named in the error when a column is missing)."""
    missing = [column for column in SINGLE_AUC_COLUMNS if column not in table.columns]
    if missing:
        raise ValueError(
            f"{source}: column(s) {missing} missing (expected {SINGLE_AUC_COLUMNS}, "
            f"found {list(table.columns)})"
        )
    return dict(zip(table[SINGLE_AUC_COLUMNS[0]], table[SINGLE_AUC_COLUMNS[1]], strict=True))


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
    (select_next_efp); metrics: evaluate_model's dicts of passes 0..n (test split), whose
    ``name`` fills the feature_set column (pass 0: the start set's when it is that model);
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
                # the model the row measures: its metrics' name (pass 0 may be the start
                # set's own model, guided.names.pass_zero_is_start)
                "feature_set": entry.get("name") or pass_feature_set_name(scan, pass_index),
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
