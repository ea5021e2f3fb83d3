"""Rule plot_guided: AUC against pass per scan (black box and start set as reference lines
from their metrics files), the candidates' ADO histograms, and drawings of the chosen EFP
graphs. See :func:`hepml.steps.guided.plot_guided`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import guided  # noqa: E402 (after the log is set up)

guided.plot_guided(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    dataset=str(snakemake.wildcards.dataset),
)
