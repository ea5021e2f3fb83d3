# Constants and input functions of the ntuple source (rules/ntuples.smk; docs/ntuples.md).
# Kept apart from the rules: snakemake --lint wants functions and rules in separate files.

import glob as globbing

# Datasets of kind tabular read from ROOT ntuples (source ntuples): rules/ntuples.smk unpacks
# them per sample; unpack_table, plot_table and higgs_benchmark do not apply to them.
NTUPLE_DATASETS = [
    name for name in datasets_of_kind("tabular") if plan.is_ntuples(dataset_config(name))
]
# Sub-blocks of the ntuples block that unpacking does not read (their own rules do): left out
# of unpack_ntuple's params, so that editing them does not unpack the samples again.
NTUPLE_UNPACK_IGNORES = ("significance", "generate")


def ntuple_block(dataset):
    """datasets.<dataset>.ntuples"""
    return dataset_config(dataset)["ntuples"]


def ntuple_samples(dataset, roles=("signal", "background", "data")):
    """The dataset's sample names of the given roles, in config order."""
    return [
        name for name, sample in ntuple_block(dataset)["samples"].items() if sample["role"] in roles
    ]


def ntuple_table(dataset, sample):
    """results/{dataset}/ntuples/{sample}.feather (hepml.io.ntuples.unpack_sample)."""
    return f"results/{dataset}/ntuples/{sample}.feather"


def ntuple_sample_files(wildcards):
    """A sample's files: with ntuples.generate, the generated files
    resources/{dataset}/generated/ntuples/<file> (file names, no globs); else each glob of
    its files under ntuples.path (null: the working directory), sorted, in the order of the
    globs. A glob matching nothing stops the DAG, naming the sample and the glob."""
    dataset, sample = wildcards.dataset, wildcards.sample
    block = ntuple_block(dataset)
    if sample not in block["samples"]:
        raise ValueError(
            f"datasets.{dataset}.ntuples.samples: no sample {sample!r} "
            f"(samples: {list(block['samples'])})"
        )
    files = block["samples"][sample]["files"]
    files = [files] if isinstance(files, str) else list(files)
    if block.get("generate") is not None:
        return [f"resources/{dataset}/generated/ntuples/{name}" for name in files]
    root = Path(block.get("path") or ".")
    found = []
    for pattern in files:
        matches = sorted(globbing.glob(str(root / pattern)))
        if not matches:
            raise ValueError(
                f"datasets.{dataset}.ntuples.samples.{sample}.files: no file matches "
                f"{pattern!r} under {str(root)!r} (datasets.{dataset}.ntuples.path)"
            )
        found += [match for match in matches if match not in found]
    return found


def unpack_ntuple_params(wildcards):
    """The ntuples block as unpacking reads it (its mappings in config order: definitions
    are evaluated in order, variables are columns in order), the split's seed and the
    block's config key."""
    dataset = wildcards.dataset
    block = {
        key: value
        for key, value in ntuple_block(dataset).items()
        if key not in NTUPLE_UNPACK_IGNORES
    }
    return {
        "block": block,
        "seed": stage_seed(SEED_OFFSETS["ntuple_split"]),
        "where": f"datasets.{dataset}.ntuples",
    }


def ntuple_cutflows(wildcards):
    """Every sample's cut-flow, in config order."""
    return [
        f"results/{wildcards.dataset}/ntuples/{sample}.cutflow.csv"
        for sample in ntuple_samples(wildcards.dataset)
    ]


def ntuple_mc_tables(wildcards):
    """The simulated samples' tables (signal and background), in config order."""
    dataset = wildcards.dataset
    return [ntuple_table(dataset, s) for s in ntuple_samples(dataset, ("signal", "background"))]


def ntuple_all_tables(wildcards):
    """Every sample's table, data included, in config order."""
    return [ntuple_table(wildcards.dataset, s) for s in ntuple_samples(wildcards.dataset)]


def ntuple_columns(dataset):
    """The computed columns of every table: the variables, then the spectators (config
    order: the order of features.feather)."""
    block = ntuple_block(dataset)
    return [*(block.get("variables") or {}), *(block.get("spectators") or {})]


def split_ntuples_params(wildcards):
    """The columns of features.feather, in order."""
    return {"columns": ntuple_columns(wildcards.dataset)}


def apply_model_inputs(wildcards):
    """Every sample's table and the trained model of result {name}: model.txt of a tree,
    model.keras and preprocess.json of a network."""
    dataset, name = wildcards.dataset, wildcards.name
    _, model = split_result_name(dataset, name)
    directory = model_dir(dataset, name)
    if model in TREE_MODELS:
        files = [f"{directory}/model.txt"]
    else:
        files = [f"{directory}/model.keras", f"{directory}/preprocess.json"]
    return {"tables": ntuple_all_tables(wildcards), "model": files}


def apply_model_params(wildcards):
    """The feature set's columns (the model's inputs, in order)."""
    feature_set, _ = split_result_name(wildcards.dataset, wildcards.name)
    return {"columns": list(feature_set_settings(wildcards.dataset, feature_set).columns)}


def ntuple_weights_param(dataset):
    """For a source-ntuples dataset, what the training rules need to make its training
    weights (hepml.steps.models.reweighted: negative_weights, then equal class sums); empty
    for every other dataset, whose params stay as they were."""
    if dataset not in NTUPLE_DATASETS:
        return {}
    mode = ntuple_block(dataset).get("negative_weights", "absolute")
    return {"ntuple_weights": {"negative_weights": mode}}


def ntuple_targets():
    """Per ntuple dataset: the gathered cut-flow and every model applied to every sample."""
    return [
        path
        for dataset in NTUPLE_DATASETS
        for path in (
            f"results/{dataset}/summary/cutflow.csv",
            f"results/{dataset}/summary/cutflow.md",
            *(f"results/{dataset}/applied/{name}.feather" for name in result_names(dataset)),
        )
    ]
