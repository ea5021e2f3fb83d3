# Constants and input functions of the generate source (rules in rules/generate.smk):
# Pythia 8 events through a parametrised calorimeter, in chunks (docs/generator.md).
# Kept apart from the rules: snakemake --lint wants functions and rules in separate files.

from hepml.sources.pythia.electrons import ElectronGenSettings
from hepml.sources.pythia.muons import MuonGenSettings
from hepml.sources.pythia.jets import TopGenSettings
from hepml.sources.pythia.higgs import HiggsGenSettings

GENERATE_SETTINGS = {
    "electrons": ElectronGenSettings,
    "muons": MuonGenSettings,
    "jets": TopGenSettings,
    "tabular": HiggsGenSettings,
}


def generate_config(dataset):
    """The dataset's `generate` block, checked: unknown keys stop the DAG naming the key."""
    block = dict(dataset_config(dataset).get("generate") or {})
    kind = dataset_kind(dataset)
    if kind not in GENERATE_SETTINGS:
        raise ValueError(
            f"datasets.{dataset}.source is 'generate', but there is no generator for kind "
            f"{kind!r} (known: {sorted(GENERATE_SETTINGS)})"
        )
    GENERATE_SETTINGS[kind].from_config(block)
    return block


def generate_settings(wildcards):
    """The dataset's `generate` block (a dict) for the generate rules."""
    return generate_config(wildcards.dataset)


def generate_chunk_count(dataset):
    """Number of generate_chunk jobs of a dataset."""
    return int(generate_config(dataset)["chunks"])


def generate_chunk_events(wildcards):
    """Events of one chunk: n_events shared as evenly as possible, lower chunks first."""
    block = generate_config(wildcards.dataset)
    total, chunks, chunk = int(block["n_events"]), int(block["chunks"]), int(wildcards.chunk)
    if chunk >= chunks:
        raise ValueError(f"datasets.{wildcards.dataset}.generate: chunk {chunk} >= chunks {chunks}")
    return total // chunks + (1 if chunk < total % chunks else 0)


def generated_chunks(wildcards):
    """Every chunk file of a generated dataset, in chunk order."""
    return [
        f"resources/{wildcards.dataset}/generated/chunks/{chunk}.h5"
        for chunk in range(generate_chunk_count(wildcards.dataset))
    ]


def generate_test_rows(wildcards):
    """The test rows of a generated table (`table.test_rows`): the merge fits the scaling on
    the rows before them, so a generated table needs the number."""
    table = dataset_config(wildcards.dataset).get("table") or {}
    test_rows = table.get("test_rows")
    if test_rows is None:
        raise ValueError(
            f"datasets.{wildcards.dataset}.table.test_rows: source generate writes its test rows "
            "last and fits the scaling on the rows before them; expected a number of rows, got null"
        )
    return int(test_rows)
