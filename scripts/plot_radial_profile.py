"""Rule plot_radial_profile: mean ET against Delta R from the muon, per class (weighted).

See :func:`hepml.steps.muons.plot_radial_profile`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import muons  # noqa: E402 (after the log is set up)

muons.plot_radial_profile(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    dataset=str(snakemake.wildcards.dataset),
)
