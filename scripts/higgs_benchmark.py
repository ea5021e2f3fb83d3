"""Rule higgs_benchmark: test AUC and the paper's discovery significance (threshold chosen on
valid) per model, beside the Higgs paper's values. See
:func:`hepml.steps.tabular.higgs_benchmark`."""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import tabular  # noqa: E402 (after the log is set up)

tabular.higgs_benchmark(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
