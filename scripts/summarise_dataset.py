"""Rule summarise_dataset: the AUC table of every model of a dataset (CSV + markdown twin),
next to the paper's numbers. See :func:`leptonid.metrics.run_summary`.
"""

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from leptonid import metrics  # noqa: E402 (after the log is set up)

settings = snakemake.params.settings
metrics.run_summary(
    metrics_paths=[str(path) for path in snakemake.input.metrics],
    paper_reference={str(k): float(v) for k, v in settings["paper_reference"].items()},
    signal_efficiencies=[float(e) for e in settings["signal_efficiencies"]],
    csv_path=str(snakemake.output.table),
    markdown_path=str(snakemake.output.markdown),
)
