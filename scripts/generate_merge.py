"""Rule merge_generated_chunks: the chunks of a generated dataset -> data.h5, unscaled_data.h5."""

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from leptonid.generate.chunks import merge_generated_chunks  # noqa: E402

merge_generated_chunks(
    kind=str(snakemake.params.kind),
    chunk_paths=[str(path) for path in snakemake.input.chunks],
    unscaled_path=str(snakemake.output.unscaled),
    scaled_path=str(snakemake.output.data),
    settings=dict(snakemake.params.settings),
)
