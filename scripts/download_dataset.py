"""Rule download_dataset: fetch one published file and check its pinned digests (sha256, md5).

See :func:`hepml.steps.data.download_dataset`: with no digest pinned, a warning on the
terminal and in the log gives the digests and the config key to pin them; a failed transfer or a
mismatch stops the rule and leaves no file.
"""

from hepml.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from hepml.steps import data  # noqa: E402 (after the log is set up)

data.download_dataset(
    outputs=dict(snakemake.output.items()),
    params=dict(snakemake.params.items()),
)
