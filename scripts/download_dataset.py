"""Rule download_dataset: fetch one published file and check its sha256 digest.

See :func:`leptonid.io.download_file`: an unpinned digest is logged with the config key to
pin it; a failed transfer or a mismatch stops the rule and leaves no file.
"""

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from leptonid import io  # noqa: E402 (after the log is set up)

sha256 = snakemake.params.sha256
io.download_file(
    url=str(snakemake.params.url),
    dest=str(snakemake.output.h5),
    sha256=str(sha256) if sha256 else None,
    pin_key=str(snakemake.params.pin_key),
)
