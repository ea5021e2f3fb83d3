# Constants and input functions of the data stage (rules in rules/data.smk).
# Kept apart from the rules: snakemake --lint wants functions and rules in separate files.


SIMULATED_FILES = ["data.h5", "unscaled_data.h5"]
# The folder under resources/<dataset>/ where each source that writes a dataset's files puts
# them (source path reads them in place).
SOURCE_DIRS = {"simulate": "simulated", "generate": "generated", "download": "downloaded"}
# What plot_data shows per dataset kind (only the keys the dataset's config unpacks).
PLOT_IMAGE_KEYS = {"electrons": ["et", "ht"], "muons": ["images"]}
PLOT_FEATURE_KEYS = {"electrons": ["hl", "mass"], "muons": ["iso", "pt"]}
HL_CHECK_KEYS = ["et", "ht", "ee", "hl"]
# Datasets read from one published HDF5 file by unpack_h5 (kind jets: rules/jets.smk).
LEPTON_DATASETS = [*datasets_of_kind("electrons"), *datasets_of_kind("muons")]
# The cluster request of every unpack_h5_<dataset> rule (named per dataset, so the profile
# cannot name them): the measured peak of unpack_h5 (benchmarks/paper_peaks.json, 187 MB,
# streamed in blocks) through benchmarks/rehearse_paper.py memory_request
# (tests/test_memory_requests.py), and 30 minutes, as the profile asked before.
UNPACK_H5_RESOURCES = {"mem_mb": 1000, "runtime": 30}


def unpacked_key_names(dataset):
    """The keys unpacked for a dataset: its configured keys plus weight."""
    return plan.unpacked_keys(dataset_config(dataset))


def feather_file(dataset, split, key):
    """Path of one unpacked array (docs/architecture.md, "Files on disk")."""
    return f"results/{dataset}/feather/{split}/{key}.feather"


def source_file(dataset, name, holding):
    """Where the published file ``name`` of a dataset is, by datasets.<name>.source: under
    resources/<dataset>/ for the sources that write it, read in place for path (holding: what
    the path directory must hold, for the message when the file is not there)."""
    settings = dataset_config(dataset)
    source = settings["source"]
    if source in SOURCE_DIRS:
        return f"resources/{dataset}/{SOURCE_DIRS[source]}/{name}"
    if not settings.get("path"):
        raise ValueError(
            f"datasets.{dataset}.source is 'path' but datasets.{dataset}.path is not set"
        )
    path = Path(settings["path"]) / name
    if not path.is_file():
        raise FileNotFoundError(
            f"{path} does not exist: datasets.{dataset}.path ({settings['path']!r}) must be a "
            f"directory holding {holding}"
        )
    return str(path)


def published_file(wildcards):
    """The published HDF5 file a lepton dataset is read from (datasets.<name>.file)."""
    dataset = wildcards.dataset
    settings = dataset_config(dataset)
    source, name = settings["source"], settings["file"]
    if source in ("simulate", "generate") and name not in SIMULATED_FILES:
        raise ValueError(
            f"datasets.{dataset}.file is {name!r}, but source {source!r} writes only "
            f"{SIMULATED_FILES}"
        )
    return source_file(dataset, name, f"datasets.{dataset}.file ({name!r})")


def simulate_settings(wildcards):
    """The dataset's `simulate` config block (a dict)."""
    return dict(dataset_config(wildcards.dataset).get("simulate") or {})


def simulate_n_events(wildcards):
    """Number of events the simulator generates (all splits together)."""
    return int(simulate_settings(wildcards)["n_events"])


def download_url(wildcards):
    """URL of a published file: download.base_url + file."""
    download = dataset_config(wildcards.dataset).get("download") or {}
    if not download.get("base_url"):
        raise ValueError(f"datasets.{wildcards.dataset}.download.base_url is not set")
    return download["base_url"] + wildcards.file


def pinned_sha256(wildcards):
    """The pinned sha256 digest of a published file, or None when not pinned yet."""
    download = dataset_config(wildcards.dataset).get("download") or {}
    return (download.get("sha256") or {}).get(wildcards.file)


def pinned_md5(wildcards):
    """The pinned md5 digest of a published file (what Zenodo publishes), or None."""
    download = dataset_config(wildcards.dataset).get("download") or {}
    return (download.get("md5") or {}).get(wildcards.file)


def sha256_config_key(wildcards):
    """Where the digest of a published file is pinned in the config (for messages)."""
    return f"datasets.{wildcards.dataset}.download.sha256['{wildcards.file}']"


def unpack_h5_outputs(dataset):
    """The outputs of one unpack_h5 job of a dataset: key -> its Feather file, for every key
    the dataset unpacks ({split} left a wildcard)."""
    return {key: feather_file("{dataset}", "{split}", key) for key in unpacked_key_names(dataset)}


def unpack_settings(wildcards):
    """Settings of one unpack_h5 job (the keys it writes are its outputs)."""
    return {
        "kind": dataset_kind(wildcards.dataset),
        "keys": list(dataset_config(wildcards.dataset)["keys"]),
        "seed": stage_seed(SEED_OFFSETS["shuffle"]),
        "ecm_gev": plan.collision_energy(dataset_config(wildcards.dataset)),
    }


def plot_keys(dataset, table):
    """The keys of a plot table (by kind) that the dataset unpacks."""
    keys = table.get(dataset_kind(dataset), [])
    return [key for key in keys if key in unpacked_key_names(dataset)]


def plot_data_inputs(wildcards):
    """Train-split arrays plot_data reads: images, flat features, labels and weights."""
    dataset = wildcards.dataset
    keys = [
        *plot_keys(dataset, PLOT_IMAGE_KEYS),
        *plot_keys(dataset, PLOT_FEATURE_KEYS),
        "y",
        "weight",
    ]
    return {key: feather_file(dataset, "train", key) for key in keys}


def plot_data_params(wildcards):
    """Which of plot_data's inputs are images and which are flat features."""
    return {
        "kind": dataset_kind(wildcards.dataset),
        "image_keys": plot_keys(wildcards.dataset, PLOT_IMAGE_KEYS),
        "feature_keys": plot_keys(wildcards.dataset, PLOT_FEATURE_KEYS),
        "file": dataset_config(wildcards.dataset)["file"],
    }


def hl_check_wanted(dataset):
    """recompute_hl runs for electron datasets that unpack et, ht, ee and hl."""
    return dataset_kind(dataset) == "electrons" and all(
        key in unpacked_key_names(dataset) for key in HL_CHECK_KEYS
    )


def data_targets():
    """Every unpacked array, the data plots and (electrons) the HL cross-check."""
    targets = []
    for dataset in DATASETS:
        targets += expand(
            feather_file(dataset, "{split}", "{key}"),
            split=SPLITS,
            key=unpacked_key_names(dataset),
        )
        if dataset not in LEPTON_DATASETS:
            continue  # jets: their pictures are in the Top tagging section (rules/jets.smk)
        targets += expand(
            "results/{dataset}/plots/data_{plot}.png", dataset=dataset, plot=["images", "features"]
        )
        if hl_check_wanted(dataset):
            targets.append(f"results/{dataset}/data/hl_check.json")
    return targets
