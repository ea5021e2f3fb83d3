# Constants and input functions of the efp stage (rules in rules/efp.smk).
# Kept apart from the rules: snakemake --lint wants functions and rules in separate files.


from leptonid.efp import EFP_NAME_PATTERN

SEED_OFFSET_EFP_DEDUP = 800  # stage_seed offset of the train events sampled by deduplication


def efp_datasets():
    """Datasets whose config has an efp block."""
    return [dataset for dataset in DATASETS if dataset_config(dataset).get("efp")]


def efp_config(dataset):
    """The efp block of a dataset; a dataset without one stops the DAG naming the key."""
    block = dataset_config(dataset).get("efp")
    if not block:
        raise ValueError(f"datasets.{dataset}.efp is not set: this dataset has no EFP stage")
    return block


def efp_settings(wildcards):
    """The dataset's efp block, for EFPSettings.from_config in the scripts."""
    return dict(efp_config(wildcards.dataset))


def efp_chunk_count(dataset):
    """compute_efps jobs per split."""
    return int(efp_config(dataset).get("chunks", 1))


def efp_image_files(wildcards):
    """The split's image arrays the EFPs are computed on, by key (et, ht, ...)."""
    return {
        key: f"results/{wildcards.dataset}/feather/{wildcards.split}/{key}.feather"
        for key in efp_config(wildcards.dataset)["images"]
    }


def compute_efps_inputs(wildcards):
    """Image arrays of one chunk's split; a chunk number beyond efp.chunks stops the DAG."""
    n_chunks = efp_chunk_count(wildcards.dataset)
    if int(wildcards.chunk) >= n_chunks:
        raise ValueError(
            f"chunk {wildcards.chunk} does not exist: datasets.{wildcards.dataset}.efp.chunks "
            f"is {n_chunks} (chunks 0..{n_chunks - 1})"
        )
    return efp_image_files(wildcards)


def gather_efps_inputs(wildcards):
    """Every chunk of the split, in order, and one image array (its length is the split's)."""
    dataset, split = wildcards.dataset, wildcards.split
    return {
        "chunks": [
            f"results/{dataset}/efp/chunks/{split}/{chunk}.feather"
            for chunk in range(efp_chunk_count(dataset))
        ],
        "reference": next(iter(efp_image_files(wildcards).values())),
    }


def efp_gallery_size(wildcards):
    """How many of the best single-EFP AUCs the gallery draws."""
    return int(efp_config(wildcards.dataset).get("gallery_size", 10))


def efp_targets():
    """EFP tables of every split, duplicates, single-EFP AUCs and the gallery."""
    targets = []
    for dataset in efp_datasets():
        targets += expand("results/{dataset}/efp/{split}.feather", dataset=dataset, split=SPLITS)
        targets += [
            f"results/{dataset}/efp/duplicates.csv",
            f"results/{dataset}/efp/kept.txt",
            f"results/{dataset}/efp/single_auc.csv",
            f"results/{dataset}/efp/gallery",
        ]
    return targets
