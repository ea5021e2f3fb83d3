"""Rule plot_roc: ROC overlays of every model of a dataset (TPR vs FPR, and 1/eps_B vs eps_S).

See :func:`leptonid.plots_eval.run_roc_plots`.
"""

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from leptonid import plots_eval  # noqa: E402 (after the log is set up)

settings = snakemake.params.settings
plots_eval.run_roc_plots(
    prediction_paths=[str(path) for path in snakemake.input.scores],
    metrics_paths=[str(path) for path in snakemake.input.metrics],
    names=[str(name) for name in settings["names"]],
    title=f"{snakemake.wildcards.dataset}, test split",
    roc_path=str(snakemake.output.roc),
    rejection_path=str(snakemake.output.rejection),
)
