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


# The built-in ntuples (datasets.<name>.ntuples.generate, docs/ntuples.md "Built-in ntuples"):
# the Higgs benchmark's processes and pseudo-data as ROOT files in the open-data layout.
from hepml.sources.pythia import higgs_ntuples as ntuple_generator

NTUPLE_GENERATED = "resources/{dataset}/generated/ntuples"


def ntuple_generate_config(dataset):
    """The dataset's `ntuples.generate` block, after checking the whole `ntuples` block against
    generated files (hepml.sources.pythia.higgs_ntuples.check_generated_block)."""
    block = dict(dataset_config(dataset).get("ntuples") or {})
    ntuple_generator.check_generated_block(block, f"datasets.{dataset}.ntuples")
    return dict(block["generate"])


def ntuple_generate_settings(wildcards):
    """The `ntuples.generate` block (a dict, keys sorted) for the ntuple generation rules."""
    return canonical(ntuple_generate_config(wildcards.dataset))


def ntuple_yield_specs(wildcards):
    """Pseudo-data only: per MC process, the tree, weight, constants and definitions of the
    sample reading it (its expected yield); empty for the MC samples, so that a change of the
    weights does not regenerate them."""
    if wildcards.sample != ntuple_generator.DATA:
        return {}
    block = dict(dataset_config(wildcards.dataset).get("ntuples") or {})
    return canonical(
        ntuple_generator.check_generated_block(block, f"datasets.{wildcards.dataset}.ntuples")
    )


def ntuple_data_inputs(wildcards):
    """Pseudo-data chunks read the generated MC files (their expected yields); none else."""
    if wildcards.sample != ntuple_generator.DATA:
        return {}
    directory = NTUPLE_GENERATED.format(dataset=wildcards.dataset)
    return {
        process: f"{directory}/{ntuple_generator.generated_file(process)}"
        for process in ntuple_generator.PROCESSES
    }


def generated_ntuple_chunks(wildcards):
    """Every chunk file of a generated ntuple sample, in chunk order."""
    chunks = int(
        ntuple_generator.NtupleGenSettings.from_config(
            ntuple_generate_config(wildcards.dataset)
        ).chunks
    )
    directory = NTUPLE_GENERATED.format(dataset=wildcards.dataset)
    return [f"{directory}/chunks/{wildcards.sample}/{chunk}.h5" for chunk in range(chunks)]
