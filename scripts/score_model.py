"""Rule score_model: the scores (y, score, weight) of a trained network or BDT on one split.

Test scores feed the metrics; validation scores feed the guided search. See
:func:`hepml.steps.models.score_model`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import models  # noqa: E402 (after the log is set up)

models.score_model(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    split=str(snakemake.wildcards.split),
    threads=int(snakemake.threads),
)
