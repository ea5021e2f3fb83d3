"""The evaluation rules (rules/evaluate.smk): evaluate_model, summarise_dataset, plot_roc; and
plot_history (rules/train.smk), the other figure of ``hepml.plots.eval``.

score_model, also in rules/evaluate.smk, lives with the models it loads (``hepml.steps.models``);
plot_history lives here because its environment (envs/plot.yaml) has no TensorFlow, which
``hepml.steps.models`` imports for its network rules.
Every number comes from ``hepml.metrics`` on the test split's scores files (y, score, weight).
"""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Mapping, Sequence
from pathlib import Path

import numpy as np
import pandas as pd

from hepml import io, metrics
from hepml.settings import EvaluationSettings

log = logging.getLogger(__name__)

SCORE_COLUMNS = ["y", "score", "weight"]
# The training record's fields copied into the metrics file (train_info.json of the model).
TRAINING_FIELDS = ("device", "training_time_s", "train_samples_per_s", "epochs_run", "best_epoch")


def evaluate_model(inputs: Mapping, outputs: Mapping, params: Mapping) -> dict:
    """Metrics of one model's test scores (inputs scores: AUC with a bootstrap interval,
    background rejections, the collapse check), joined with its training record (inputs info:
    device, training time, samples/s), written as JSON (outputs metrics). params settings:
    name, model, evaluation, seed."""
    scores_path, info_path = str(inputs["scores"]), str(inputs["info"])
    metrics_path, settings = str(outputs["metrics"]), params["settings"]
    name = str(settings["name"])
    table = io.read_table(scores_path, SCORE_COLUMNS)
    result = {"name": name, "model": str(settings["model"])}
    result.update(
        metrics.evaluate_scores(
            table["y"].to_numpy(),
            table["score"],
            table["weight"],
            EvaluationSettings.from_config(settings["evaluation"]),
            int(settings["seed"]),
        )
    )
    info = io.read_json(info_path)
    result.update({key: info.get(key) for key in TRAINING_FIELDS})
    if result["status"] == metrics.STATUS_COLLAPSED:
        log.warning("%s is collapsed (%s)", name, result["collapse_reason"])
    else:
        log.info(
            "%s: AUC %.4f [%.4f, %.4f]", name, result["auc"], result["auc_low"], result["auc_high"]
        )
    io.write_json(metrics_path, result)
    return result


def summarise_dataset(inputs: Mapping, outputs: Mapping, params: Mapping) -> pd.DataFrame:
    """The AUC table of every model of a dataset (inputs metrics) as CSV (outputs table) and as
    its markdown twin (outputs markdown), next to the paper's numbers. params settings:
    paper_reference, signal_efficiencies."""
    metrics_paths = [str(path) for path in inputs["metrics"]]
    settings = params["settings"]
    csv_path, markdown_path = str(outputs["table"]), str(outputs["markdown"])
    table = metrics.summary_table(
        [io.read_json(path) for path in metrics_paths],
        {str(k): float(v) for k, v in settings["paper_reference"].items()},
        [float(e) for e in settings["signal_efficiencies"]],
    )
    io.write_text(csv_path, table.to_csv(index=False))
    io.write_text(markdown_path, metrics.markdown_table(table))
    collapsed = table.loc[table["status"] == metrics.STATUS_COLLAPSED, "name"].tolist()
    if collapsed:
        log.warning("collapsed models (no AUC reported): %s", collapsed)
    return table


def plot_roc(inputs: Mapping, outputs: Mapping, params: Mapping, *, dataset: str) -> None:
    """The two ROC overlays (outputs roc: TPR vs FPR, rejection: 1/eps_B vs eps_S) of every
    model of a dataset on the test split (weighted; inputs scores and metrics, in the order of
    params settings names); a model with non-finite scores is listed without a curve."""
    from hepml.plots import eval as plots_eval  # matplotlib: only the plotting rules need it

    scores_paths = [str(path) for path in inputs["scores"]]
    metrics_paths = [str(path) for path in inputs["metrics"]]
    names = [str(name) for name in params["settings"]["names"]]
    title = f"{dataset}, test split"
    roc_path, rejection_path = str(outputs["roc"]), str(outputs["rejection"])

    curves, entries = {}, {}
    for name, scores, metrics_path in zip(names, scores_paths, metrics_paths, strict=True):
        table = io.read_table(scores, SCORE_COLUMNS)
        entries[name] = io.read_json(metrics_path)
        if not np.isfinite(table["score"]).all():
            log.warning("%s: non-finite scores, no curve drawn", name)
            continue
        curves[name] = plots_eval.roc_points(table["y"].to_numpy(), table["score"], table["weight"])
    roc, rejection = plots_eval.plot_roc_overlay(curves, entries, title)
    io.write_figure(roc, roc_path)
    io.write_figure(rejection, rejection_path)


def plot_history(inputs: Mapping, outputs: Mapping, *, dataset: str, name: str) -> None:
    """The training curves of one model (inputs history: loss, AUC and learning rate per
    epoch; loss per boosting iteration for a BDT) -> outputs figure."""
    from hepml.plots import eval as plots_eval  # matplotlib: only the plotting rules need it

    figure = plots_eval.plot_history(io.read_csv(inputs["history"]), f"{dataset} {name}")
    io.write_figure(figure, str(outputs["figure"]))


# --- the results document (rule write_results) ---------------------------------------------

#: Sections of a dataset's part of the results document: (file under results/<dataset>/, title).
DATASET_TABLES = (
    ("summary/auc_table.md", "AUC table (test split)"),
    ("summary/top_tagging.md", "Top-tagging table (test split)"),
    ("summary/higgs_benchmark.md", "Higgs benchmark (threshold chosen on valid, test split)"),
    ("summary/cutflow.md", "Ntuples: cut-flow (weighted yields after each cut)"),
    ("summary/significance.md", "Ntuples: significance (cut chosen on valid, test split)"),
    ("summary/overtraining.md", "Ntuples: overtraining check (train against test)"),
)
DATASET_FIGURES = (
    ("summary/roc.svg", "ROC curves"),
    ("summary/rejection.svg", "background rejection"),
    ("guided/auc_vs_pass.png", "guided search: AUC against pass"),
    ("guided/chosen_graphs.png", "guided search: the chosen EFP graphs"),
    ("plots/jet_images.png", "average jet images"),
    ("plots/table_features.png", "feature distributions by class (valid split)"),
    ("plots/ntuple_variables.png", "ntuples: input variables by class (train split)"),
    ("plots/ntuple_correlation.png", "ntuples: linear correlations (train split)"),
)
#: The ntuple analyses' figures of each result name: (folder under plots/, title).
NTUPLE_FIGURES = (
    ("overtraining", "ntuples: overtraining check"),
    ("significance", "ntuples: significance against the score cut"),
    ("ranking", "ntuples: permutation importance (valid split)"),
)
RELIABILITY_NOTE = (
    "Same configuration, same numbers: a rerun on the same machine (same CPU, same thread "
    "counts) gives these numbers again to the last digit; on another CPU, round-off in the "
    "training kernels differs and the trained networks, hence their AUCs and the guided "
    'search\'s picks, can differ within their intervals (README, section "Reliability").'
)


def code_version(directory: str | Path) -> str:
    """The git commit of the workflow's code (``+ uncommitted changes`` when the work tree
    differs from it), or ``unknown (not a git checkout)``."""
    import subprocess

    def git(*arguments: str) -> str:
        return subprocess.run(
            ["git", "-C", str(directory), *arguments],
            capture_output=True,
            text=True,
            check=True,
            timeout=60,
        ).stdout.strip()

    try:
        commit = git("rev-parse", "HEAD")
        dirty = git("status", "--porcelain", "--untracked-files=no")
    except (OSError, subprocess.SubprocessError):
        return "unknown (not a git checkout)"
    return commit + (" + uncommitted changes" if dirty else "")


def chosen_efps(markdown: str) -> list[tuple[int, str]]:
    """(pass, EFP name) of every pass that added an EFP, read from a scan's markdown table
    (columns ``pass`` and ``efp``, as ``hepml.guided.tables.scan_markdown`` writes them)."""
    rows = [line for line in markdown.splitlines() if line.startswith("|")]
    if len(rows) < 3:
        return []
    header = [cell.strip() for cell in rows[0].strip("|").split("|")]
    if "pass" not in header or "efp" not in header:
        return []
    picks = []
    for row in rows[2:]:
        cells = [cell.strip() for cell in row.strip("|").split("|")]
        name = cells[header.index("efp")]
        if name and name not in ("None", "nan", "n/a"):
            picks.append((int(cells[header.index("pass")]), name))
    return picks


def efp_meaning(name: str) -> str:
    """What an EFP weighs, in words, from its name alone: the graph's size and the two
    exponents (docs/guided.md "Reading an EFP"; the definition is docs/reference.md "Energy
    Flow Polynomials")."""
    from hepml.efp.names import parse_efp_name
    from hepml.guided.tables import describe_efp

    parts, described = parse_efp_name(name), describe_efp(name)
    if parts.d == 0:
        shape = f"a product of {parts.n} energy weights with no angle (sum of z^{parts.n})"
    else:
        shape = (
            f"a {parts.n}-point correlator with {parts.d} angular factor"
            f"{'s' if parts.d > 1 else ''} theta^{parts.beta:g}"
        )
    if parts.kappa == 1:
        weight = "kappa = 1: energy fractions, IRC safe"
    elif parts.kappa > 1:
        weight = f"kappa = {parts.kappa:g}: dominated by the hardest cells (energy concentration)"
    elif parts.kappa == 0:
        weight = "kappa = 0: every hit cell counts alike (multiplicity-like, not IRC safe)"
    else:
        weight = f"kappa = {parts.kappa:g}: dominated by the softest cells (not IRC safe)"
    if parts.d == 0:
        angle = ""
    elif parts.beta < 1:
        angle = f"; beta = {parts.beta:g} weighs near and far deposits alike"
    elif parts.beta > 1:
        angle = f"; beta = {parts.beta:g} emphasises the widest separations"
    else:
        angle = "; beta = 1: plain angular distances"
    return (
        f"`{name}` ({described['calorimeter']}, graph {described['graph']}): {shape}; "
        f"{weight}{angle}"
    )


def _table_section(heading: str, path: str, table: str, note: str = "") -> list[str]:
    """Markdown lines of one table of the run: its heading, the file it was copied from, the
    table itself."""
    return [heading, "", f"`results/{path}`{note}:", "", table.strip(), ""]


def results_markdown(
    tables: Mapping[str, str],
    figures: Sequence[str],
    settings: Mapping,
    version: str,
) -> str:
    """The results document of one run as markdown, from the tables the run wrote.

    tables: path under results/ -> the markdown it holds (AUC tables, top-tagging tables,
    guided-scan tables, comparison tables); figures: paths under results/ that exist;
    settings: the rule's params (datasets: name -> kind in config order; config: the resolved
    configuration, whose digest is the stamp and which is appended in full). Nothing in it is
    typed by hand: every number is one of the run's files.
    """
    datasets = dict(settings["datasets"])
    resolved = json.dumps(settings["config"], indent=1, sort_keys=True)
    digest = hashlib.sha256(resolved.encode()).hexdigest()
    lines = [
        "# Results of this run",
        "",
        "Written by rule `write_results` from the run's own result files; every number below is "
        "copied from the file named above it.",
        "",
        f"- code: `{version}`",
        f"- configuration: sha256 `{digest[:16]}` of the resolved configuration (in full at the "
        "end of this document)",
        f"- datasets: {', '.join(f'`{name}` ({kind})' for name, kind in datasets.items())}",
        "",
        RELIABILITY_NOTE,
        "",
    ]
    for dataset, kind in datasets.items():
        lines += [f"## {dataset} (kind {kind})", ""]
        for relative, title in DATASET_TABLES:
            path = f"{dataset}/{relative}"
            if path in tables:
                lines += _table_section(f"### {title}", path, tables[path])
        yields = sorted(
            path
            for path in tables
            if path.startswith(f"{dataset}/summary/data_mc_") and path.endswith(".md")
        )
        for path in yields:  # the ntuple analyses: one data/MC yields table per result name
            name = path.removeprefix(f"{dataset}/summary/data_mc_").removesuffix(".md")
            title = f"### Ntuples: data and simulation yields, `{name}` (before and after the cut)"
            lines += _table_section(title, path, tables[path])
        scans = sorted(
            path
            for path in tables
            if path.startswith(f"{dataset}/guided/") and path.endswith("/table.md")
        )
        for path in scans:
            scan = path.split("/")[2]
            note = " (every choice on the validation split; AUCs on test)"
            lines += _table_section(f"### Guided search, scan `{scan}`", path, tables[path], note)
            picks = chosen_efps(tables[path])
            if picks:
                lines += ['What each chosen EFP weighs (docs/guided.md "Reading an EFP"):', ""]
                lines += [f"- pass {number}: {efp_meaning(name)}" for number, name in picks]
                lines.append("")
        shown = [
            (f"{dataset}/{relative}", title)
            for relative, title in DATASET_FIGURES
            if f"{dataset}/{relative}" in figures
        ]
        for family, title in NTUPLE_FIGURES:  # one figure per result name
            prefix = f"{dataset}/plots/{family}/"
            shown += [
                (path, f"{title}, `{path.removeprefix(prefix).rsplit('.', 1)[0]}`")
                for path in sorted(figures)
                if path.startswith(prefix) and "/" not in path.removeprefix(prefix)
            ]
        if shown:
            lines += ["### Figures", ""]
            lines += [f"- {title}: `results/{path}`" for path, title in shown]
            lines.append("")
    comparisons = sorted(path for path in tables if path.startswith("compare/"))
    for path in comparisons:
        kind = path.split("/")[1]
        lines += _table_section(f"## Datasets of kind {kind} side by side", path, tables[path])
    lines += [
        "## The resolved configuration",
        "",
        "<details><summary>every setting of this run (JSON, keys sorted)</summary>",
        "",
        "```json",
        resolved,
        "```",
        "",
        "</details>",
    ]
    return "\n".join(lines).rstrip() + "\n"


def write_results(
    inputs: Mapping, outputs: Mapping, params: Mapping, *, code_directory: str | Path | None = None
) -> str:
    """Rule write_results: the run's results document (outputs document: results/results.md),
    stamped with the code version and the configuration (params settings), from the tables
    and figures of the run (inputs tables, figures). code_directory: where the code version is
    read (default: this library's checkout)."""
    table_paths = [str(path) for path in inputs["tables"]]
    figure_paths = [str(path) for path in inputs["figures"]]
    settings, document_path = params["settings"], str(outputs["document"])
    if code_directory is None:
        code_directory = Path(__file__).resolve().parent
    root = Path(document_path).parent

    def under_root(path: str | Path) -> str:
        return Path(path).relative_to(root).as_posix()

    tables = {under_root(path): io.read_text(path) for path in table_paths}
    figures = [under_root(path) for path in figure_paths]
    text = results_markdown(tables, figures, settings, code_version(code_directory))
    io.write_text(document_path, text)
    log.info("results document: %d tables, %d figures", len(tables), len(figures))
    return text
