"""Rule summarise_dataset: the AUC table of every model of a dataset (CSV + markdown twin),
next to the paper's numbers. See :func:`leptonid.metrics.run_summary`.
"""

import logging

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

from leptonid import metrics  # noqa: E402 (after the log is set up)

settings = snakemake.params.settings
metrics.run_summary(
    metrics_paths=[str(path) for path in snakemake.input.metrics],
    paper_reference={str(k): float(v) for k, v in settings["paper_reference"].items()},
    signal_efficiencies=[float(e) for e in settings["signal_efficiencies"]],
    csv_path=str(snakemake.output.table),
    markdown_path=str(snakemake.output.markdown),
)
