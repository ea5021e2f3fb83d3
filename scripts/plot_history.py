"""Rule plot_history: training curves of one model (loss, AUC and learning rate per epoch;
loss per boosting iteration for a BDT). See :func:`hepml.steps.evaluate.plot_history`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import evaluate  # noqa: E402 (after the log is set up)

evaluate.plot_history(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    dataset=str(snakemake.wildcards.dataset),
    name=str(snakemake.wildcards.name),
)
