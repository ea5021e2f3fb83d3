"""Rule recompute_hl: the 7 HL features recomputed from the unpacked images of every split,
compared with the file's own hl (median and max relative deviation per feature)."""

import logging

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

import numpy as np  # noqa: E402 (after the log is set up)
from leptonid import io, plots_data  # noqa: E402

published, recomputed = [], []
report = {"file": str(snakemake.params.file), "splits": {}}
for split, et, ht, ee, hl, out in zip(
    snakemake.params.splits,
    *(map(io.read_array, snakemake.input[key]) for key in ("et", "ht", "ee", "hl")),
    snakemake.output.recomputed,
    strict=True,
):
    io.write_array_chunks(out, len(et), plots_data.recompute_hl(et, ht, ee))
    published.append(hl)
    recomputed.append(io.read_array(out))
    report["splits"][split] = plots_data.compare_hl(published[-1], recomputed[-1])
    logging.info("%s: %s", split, report["splits"][split])
report["all"] = plots_data.compare_hl(np.concatenate(published), np.concatenate(recomputed))
io.write_json(snakemake.output.check, report)
