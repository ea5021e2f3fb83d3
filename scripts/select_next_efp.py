"""Checkpoint select_next_efp: one pass of the guided search on the validation split.

Writes the pairs summary, the ADO ranking of every candidate EFP, the choice (an EFP, or
the reason the scan stops) and the pass's feature set. See
:func:`hepml.steps.guided.select_next_efp`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import guided  # noqa: E402 (after the log is set up)

guided.select_next_efp(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
