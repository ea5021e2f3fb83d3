# Constants and input functions of the efp stage (rules in rules/efp.smk).
# Kept apart from the rules: snakemake --lint wants functions and rules in separate files.


from hepml.efp.names import EFP_NAME_PATTERN
from hepml.efp.settings import EFPSettings
from hepml.settings import config_keys

# The keys of the efp block each rule reads, from the fields of EFPSettings (the grid, fields
# without read_by, is read by every EFP rule; docs/architecture.md "Settings: one source").
# compute_efps runs TensorFlow's CUDA build when any dataset asks for the GPU backend
# (docs/efp_engine.md "Backends"), the numpy-only EFP environment otherwise.
EFP_COMPUTE_ENV = (
    "../envs/efp-gpu.yaml"
    if any(
        (block.get("efp") or {}).get("backend", EFPSettings.backend) == "gpu"
        for block in config["datasets"].values()
    )
    else "../envs/efp.yaml"
)


def efp_datasets():
    """Datasets whose config has an efp block."""
    return [dataset for dataset in DATASETS if dataset_config(dataset).get("efp")]


def efp_config(dataset):
    """The efp block of a dataset; a dataset without one stops the DAG naming the key."""
    block = dataset_config(dataset).get("efp")
    if not block:
        raise ValueError(f"datasets.{dataset}.efp is not set: this dataset has no EFP stage")
    return block


def efp_block_subset(dataset, keys):
    """The given keys of a dataset's efp block (only those present): a rule's params carry
    exactly what its script reads, so editing another key does not rerun it."""
    block = efp_config(dataset)
    return canonical({key: block[key] for key in keys if key in block})


def compute_efps_params(wildcards):
    """The grid, the chunking, the storage block and the engine's backend and batch size."""
    return efp_block_subset(wildcards.dataset, config_keys(EFPSettings, "compute_efps"))


def compute_efps_gpus(wildcards):
    """1 when datasets.<dataset>.efp.backend is gpu (the SLURM profile then asks sbatch for a
    GPU: --gpus=1), else 0 (no GPU requested)."""
    return 1 if efp_config(wildcards.dataset).get("backend", EFPSettings.backend) == "gpu" else 0


def gather_efps_params(wildcards):
    """The grid (gather_efps checks every chunk against its names)."""
    return efp_block_subset(wildcards.dataset, config_keys(EFPSettings, "gather_efps"))


def deduplicate_efps_params(wildcards):
    """The grid and the dedup block."""
    return efp_block_subset(wildcards.dataset, config_keys(EFPSettings, "deduplicate_efps"))


def efp_storage_params(wildcards):
    """The storage block (block sizes bound the memory of a streaming reader)."""
    return canonical(dict(efp_config(wildcards.dataset).get("storage") or {}))


def efp_chunk_count(dataset):
    """compute_efps jobs per split."""
    return int(efp_config(dataset).get("chunks", EFPSettings.chunks))


def efp_chunk_dirs(dataset, split):
    """The chunk directories of a split's EFP table, in event order."""
    return [
        f"results/{dataset}/efp/{split}/chunk{chunk:04d}"
        for chunk in range(efp_chunk_count(dataset))
    ]


def efp_table_files(dataset, split):
    """What a reader of a split's EFP table reads: index.json and the chunk directories."""
    return {
        f"{split}_efps": f"results/{dataset}/efp/{split}/index.json",
        f"{split}_efp_chunks": efp_chunk_dirs(dataset, split),
    }


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
    return {
        "chunks": efp_chunk_dirs(wildcards.dataset, wildcards.split),
        "reference": next(iter(efp_image_files(wildcards).values())),
    }


def deduplicate_efps_inputs(wildcards):
    """The train split's EFP table."""
    return efp_table_files(wildcards.dataset, "train")


def single_efp_auc_inputs(wildcards):
    """The split's EFP table, the kept names, labels and weights."""
    dataset, split = wildcards.dataset, wildcards.split
    return {
        **efp_table_files(dataset, split),
        "kept": f"results/{dataset}/efp/kept.txt",
        "y": f"results/{dataset}/feather/{split}/y.feather",
        "weight": f"results/{dataset}/feather/{split}/weight.feather",
    }


def efp_gallery_size(wildcards):
    """How many of the best single-EFP AUCs the gallery draws."""
    return int(efp_config(wildcards.dataset).get("gallery_size", EFPSettings.gallery_size))


def efp_targets():
    """EFP tables of every split, duplicates, single-EFP AUCs and the gallery."""
    targets = []
    for dataset in efp_datasets():
        targets += expand("results/{dataset}/efp/{split}/index.json", dataset=dataset, split=SPLITS)
        targets += [
            f"results/{dataset}/efp/duplicates.csv",
            f"results/{dataset}/efp/kept.txt",
            f"results/{dataset}/efp/single_auc_valid.csv",
            f"results/{dataset}/efp/single_auc_test.csv",
            f"results/{dataset}/efp/gallery",
        ]
    return targets
