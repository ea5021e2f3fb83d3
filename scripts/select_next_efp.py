"""Checkpoint select_next_efp: one pass of the guided search on the validation split.

Writes the pairs summary, the ADO ranking of every candidate EFP, the choice (an EFP, or
the reason the scan stops) and the pass's feature set. See :func:`leptonid.guided.run_selection`.
"""

import logging

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

from leptonid import guided  # noqa: E402 (after the log is set up)

settings = snakemake.params.settings
inputs = snakemake.input
guided.run_selection(
    model_scores_path=str(inputs.model_scores),
    black_box_scores_path=str(inputs.black_box_scores),
    efp_path=str(inputs.efps),
    kept_path=str(inputs.kept),
    previous_choice_path=str(inputs.previous_choice)
    if "previous_choice" in inputs.keys()
    else None,
    model_metrics_path=str(inputs.model_metrics) if "model_metrics" in inputs.keys() else None,
    black_box_metrics_path=(
        str(inputs.black_box_metrics) if "black_box_metrics" in inputs.keys() else None
    ),
    feature_set=dict(settings["feature_set"]),
    pass_index=int(settings["pass"]),
    candidates=str(settings["candidates"]),
    n_pairs=int(settings["n_pairs"]),
    max_passes=int(settings["max_passes"]),
    seed=int(settings["seed"]),
    stop_auc_split=str(settings["stop_auc_split"]),
    pairs_path=str(snakemake.output.pairs),
    ranking_path=str(snakemake.output.ranking),
    choice_path=str(snakemake.output.choice),
    feature_set_path=str(snakemake.output.feature_set),
)
