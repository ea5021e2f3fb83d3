"""Rule write_results: the run's results document, results/results.md, from the tables and
figures the run wrote, stamped with the code version and the configuration.
See :func:`hepml.steps.evaluate.write_results`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import evaluate  # noqa: E402 (after the log is set up)

evaluate.write_results(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
