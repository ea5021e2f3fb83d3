"""Rule plot_roc: ROC overlays of every model of a dataset (TPR vs FPR, and 1/eps_B vs eps_S).

See :func:`hepml.steps.evaluate.plot_roc`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import evaluate  # noqa: E402 (after the log is set up)

evaluate.plot_roc(
    scores_paths=[str(path) for path in snakemake.input.scores],
    metrics_paths=[str(path) for path in snakemake.input.metrics],
    names=[str(name) for name in snakemake.params.settings["names"]],
    title=f"{snakemake.wildcards.dataset}, test split",
    roc_path=str(snakemake.output.roc),
    rejection_path=str(snakemake.output.rejection),
)
