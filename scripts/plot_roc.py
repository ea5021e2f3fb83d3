"""Rule plot_roc: ROC overlays of every model of a dataset (TPR vs FPR, and 1/eps_B vs eps_S).

See :func:`hepml.steps.evaluate.plot_roc`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import evaluate  # noqa: E402 (after the log is set up)

evaluate.plot_roc(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    dataset=str(snakemake.wildcards.dataset),
)
