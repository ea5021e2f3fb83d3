"""Rule plot_radial_profile: mean ET against Delta R from the muon, per class (weighted)."""

import logging
import os
from pathlib import Path

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

from leptonid import io, plots_muons  # noqa: E402 (after the log is set up)

split = str(snakemake.params.split)
profile = plots_muons.radial_profile(
    images=io.read_array(snakemake.input.images),
    y=io.read_array(snakemake.input.y),
    weight=io.read_array(snakemake.input.weight),
)
logging.info("radial profile:\n%s", profile.to_string(index=False))
note = f"{snakemake.wildcards.dataset}, {split} split, weighted"
plots_muons.plot_radial_profile(profile, note=note).savefig(snakemake.output.figure, dpi=110)
table = Path(snakemake.output.table)
tmp = table.with_name(f".{table.name}.tmp")
tmp.write_text(profile.to_csv(index=False))
os.replace(tmp, table)
