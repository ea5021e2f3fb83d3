"""Rule plot_guided: AUC against pass per scan (black box and start set as reference lines
from their metrics files), the candidates' ADO histograms, and drawings of the chosen EFP
graphs. See :func:`hepml.steps.guided.plot_guided`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import guided  # noqa: E402 (after the log is set up)

settings = snakemake.params.settings
inputs = snakemake.input
scans = [str(scan) for scan in settings["scans"]]
guided.plot_guided(
    dataset=str(snakemake.wildcards.dataset),
    tables={scan: str(inputs[f"table_{scan}"]) for scan in scans},
    rankings={scan: [str(path) for path in inputs[f"ranking_{scan}"]] for scan in scans},
    choices={scan: [str(path) for path in inputs[f"choice_{scan}"]] for scan in scans},
    black_boxes={name: str(inputs[f"metrics_{name}"]) for name in settings["black_boxes"]},
    starts={name: str(inputs[f"metrics_{name}"]) for name in settings["starts"]},
    auc_path=str(snakemake.output.auc),
    ado_path=str(snakemake.output.ado),
    graphs_path=str(snakemake.output.graphs),
)
