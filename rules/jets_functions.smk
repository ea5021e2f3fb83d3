# Constants and input functions of the top-tagging analysis (rules/jets.smk; docs/jets.md).
# Kept apart from the rules: snakemake --lint wants functions and rules in separate files.

# SPLIT_FILES: the benchmark's file of each split (arXiv:1902.09914 sec. 2: train.h5, val.h5,
# test.h5); REJECTION_EFFICIENCIES: where the top-tagging table quotes 1/eps_B (0.3, 0.5).
from hepml.io.jets import REJECTION_EFFICIENCIES, SPLIT_FILES

JET_DATASETS = datasets_of_kind("jets")
# The keys unpack_jets writes, all at once (hepml.steps.jets, hepml.plan.KIND_KEYS).
JET_KEYS = list(plan.KIND_KEYS["jets"])
# Generated jets are shared among the splits as the benchmark's 1.2 M / 400 k / 400 k.
JET_SPLIT_FRACTIONS = {"train": 0.6, "valid": 0.2, "test": 0.2}
JET_BLOCK_ROWS = 20000  # jets per unpacking block: about 250 MB of arrays at a time


def jets_published_file(wildcards):
    """The benchmark-layout file of one split, chosen by datasets.<name>.source."""
    dataset, name = wildcards.dataset, SPLIT_FILES[wildcards.split]
    source = dataset_config(dataset)["source"]
    if source == "simulate":
        raise ValueError(
            f"datasets.{dataset}.source is {source!r}; kind jets reads generate, download or "
            "path (it has no built-in simulator)"
        )
    return source_file(dataset, name, f"the benchmark's {', '.join(SPLIT_FILES.values())}")


def unpack_jets_params(wildcards):
    """Jets per block (memory bound of the unpacking) and sqrt(s), the scale of the physical
    bounds checked on the way (docs/reference.md "Physical bounds"); the keys were checked at
    start-up (hepml.plan.check_datasets)."""
    return {
        "block_rows": JET_BLOCK_ROWS,
        "ecm_gev": plan.collision_energy(dataset_config(wildcards.dataset)),
    }


def jet_train_arrays(wildcards):
    """The train-split arrays the jet pictures read."""
    return {
        key: feather_file(wildcards.dataset, "train", key) for key in ("jet", "hl", "y", "weight")
    }


def top_tagging_params(wildcards):
    """The benchmark's values per result name (datasets.<name>.benchmark_reference)."""
    missing = [
        eps
        for eps in REJECTION_EFFICIENCIES
        if eps not in config["evaluation"]["signal_efficiencies"]
    ]
    if missing:
        raise ValueError(
            f"results/{wildcards.dataset}/summary/top_tagging.csv: evaluation."
            f"signal_efficiencies must include {missing} (the benchmark's rejections)"
        )
    reference = dataset_config(wildcards.dataset).get("benchmark_reference") or {}
    return canonical({"published": reference})


def jets_targets():
    """Per jets dataset: the class-average images, the standard features and the table."""
    return [
        path
        for dataset in JET_DATASETS
        for path in (
            f"results/{dataset}/plots/jet_images.png",
            f"results/{dataset}/plots/jet_features.png",
            f"results/{dataset}/summary/top_tagging.csv",
            f"results/{dataset}/summary/top_tagging.md",
        )
    ]
