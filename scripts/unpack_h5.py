"""Rule unpack_h5: one key of one split of the published HDF5 file -> one Feather file.

The reading, validation and streaming live in :func:`leptonid.io.unpack_key`.
"""

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from leptonid import io  # noqa: E402 (after the log is set up)

settings = snakemake.params.settings
io.unpack_key(
    h5_path=str(snakemake.input.h5),
    kind=str(settings["kind"]),
    keys=[str(key) for key in settings["keys"]],
    split=str(snakemake.wildcards.split),
    key=str(snakemake.wildcards.key),
    out_path=str(snakemake.output.feather),
    seed=int(settings["seed"]),
)
