"""Rule simulate_dataset: the built-in simulator writes data.h5 and unscaled_data.h5.

Dispatches on the dataset kind; the physics lives in leptonid.simulate_<kind>.
"""

from leptonid.logs import log_to

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
log_to(snakemake.log[0])

kind = str(snakemake.params.kind)
n_events = int(snakemake.params.n_events)
seed = int(snakemake.params.seed)
settings = dict(snakemake.params.settings)

if kind == "electrons":
    from leptonid.data.simulate_electrons import ElectronSimSettings
    from leptonid.steps.data import write_electron_dataset

    write_electron_dataset(
        n_events=n_events,
        seed=seed,
        settings=ElectronSimSettings.from_config(settings),
        unscaled_path=str(snakemake.output.unscaled),
        scaled_path=str(snakemake.output.data),
    )
elif kind == "muons":
    from leptonid.data.simulate_muons import MuonSimSettings
    from leptonid.steps.data import write_muon_dataset

    write_muon_dataset(
        n_events=n_events,
        seed=seed,
        settings=MuonSimSettings.from_config(settings),
        unscaled_path=str(snakemake.output.unscaled),
        scaled_path=str(snakemake.output.data),
    )
else:
    raise ValueError(f"simulate_dataset: no built-in simulator for kind {kind!r}")
