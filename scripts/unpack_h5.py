"""Rule unpack_h5 (unpack_h5_<dataset>): one split of the published HDF5 file -> one Feather
file per key.

The reading, validation and streaming live in :func:`hepml.io.unpack_key`, called by
:func:`hepml.steps.data.unpack_h5`.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import data  # noqa: E402 (after the log is set up)

data.unpack_h5(
    inputs=dict(snakemake.input.items()),
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
    split=str(snakemake.wildcards.split),
)
