"""Rule train_bdt: the boosted decision trees (bdt or gbdt, LightGBM) of a flat feature set,
trained on train and early-stopped on valid; the model is saved in LightGBM's text format
(model.txt, no pickle) and score_model scores any split from it. See
:func:`hepml.steps.models.train_bdt`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import models  # noqa: E402 (after the log is set up)

models.train_bdt(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    threads=int(snakemake.threads),
)
