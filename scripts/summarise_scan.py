"""Rule summarise_scan: the table of one guided scan (one row per trained pass), CSV and
markdown. See :func:`hepml.steps.guided.summarise_scan`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import guided  # noqa: E402 (after the log is set up)

settings = snakemake.params.settings
inputs = snakemake.input
guided.summarise_scan(
    scan=str(snakemake.wildcards.scan),
    choice_paths=[str(path) for path in inputs.choices],
    pairs_paths=[str(path) for path in inputs.pairs],
    metrics_paths=[str(path) for path in inputs.metrics],
    stop_path=str(inputs.stop) if "stop" in inputs.keys() else None,
    single_auc_path=str(inputs.single_auc),
    black_box=(str(settings["black_box"]), str(inputs.black_box_metrics)),
    start=(str(settings["start"]), str(inputs.start_metrics)),
    csv_path=str(snakemake.output.table),
    markdown_path=str(snakemake.output.markdown),
)
