"""Checkpoint select_next_efp: one pass of the guided search on the validation split.

Writes the pairs summary, the ADO ranking of every candidate EFP, the choice (an EFP, or
the reason the scan stops) and the pass's feature set. See
:func:`hepml.steps.guided.select_next_efp`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.efp.settings import storage_settings  # noqa: E402 (after the log is set up)
from hepml.steps import guided  # noqa: E402

settings = snakemake.params.settings
inputs = snakemake.input
guided.select_next_efp(
    model_scores_path=str(inputs.model_scores),
    black_box_scores_path=str(inputs.black_box_scores),
    efp_index=str(inputs.valid_efps),
    kept_path=str(inputs.kept),
    previous_choice_path=(
        str(inputs.previous_choice) if "previous_choice" in inputs.keys() else None
    ),
    feature_set=settings["feature_set"],
    pass_index=int(settings["pass"]),
    candidates=str(settings["candidates"]),
    n_pairs=int(settings["n_pairs"]),
    max_passes=int(settings["max_passes"]),
    seed=int(settings["seed"]),
    storage=storage_settings(settings["storage"]),
    pairs_path=str(snakemake.output.pairs),
    ranking_path=str(snakemake.output.ranking),
    choice_path=str(snakemake.output.choice),
    feature_set_path=str(snakemake.output.feature_set),
)
