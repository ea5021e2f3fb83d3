# Constants and input functions of the tabular analysis (rules/tabular.smk; docs/tabular.md).
# Kept apart from the rules: snakemake --lint wants functions and rules in separate files.

# Datasets read from one table (source ntuples reads ROOT samples instead: rules/ntuples.smk).
TABULAR_DATASETS = [
    name for name in datasets_of_kind("tabular") if not plan.is_ntuples(dataset_config(name))
]
# The keys unpack_table writes for every split, all at once (hepml.io.tabular.KEYS).
TABULAR_KEYS = list(plan.KIND_KEYS["tabular"])
# The paper's discovery significance (arXiv:1402.4735 Table 3: 100 signal events, 1000 +- 50
# background events); datasets.<name>.significance overrides any key (docs/tabular.md).
SIGNIFICANCE_DEFAULTS = {
    "signal_events": 100.0,
    "background_events": 1000.0,
    "background_uncertainty": 50.0,
    "min_background_selected": 10.0,
}


def table_file(wildcards):
    """The table a tabular dataset is read from (datasets.<name>.file), by its source."""
    dataset = wildcards.dataset
    name = dataset_config(dataset)["file"]
    return source_file(dataset, name, f"datasets.{dataset}.file ({name!r})")


def unpack_table_outputs():
    """unpack_table's outputs: {split}_{key} -> results/{dataset}/feather/{split}/{key}.feather."""
    return {
        f"{split}_{key}": feather_file("{dataset}", split, key)
        for split in SPLITS
        for key in TABULAR_KEYS
    }


def unpack_table_params(wildcards):
    """The table block (how to read and split the file; its columns as [name, ref] pairs in
    config order, the order of features.feather), the split's seed and the config key named
    in messages."""
    dataset = wildcards.dataset
    table = dict(dataset_config(dataset).get("table") or {})
    if table.get("columns"):  # [name, ref] pairs: canonical() would sort a mapping's keys
        table["columns"] = [[name, ref] for name, ref in table["columns"].items()]
    return canonical(
        {
            "table": table,
            "seed": stage_seed(SEED_OFFSETS["table_split"]),
            "where": f"datasets.{dataset}.table",
        }
    )


def table_valid_arrays(wildcards):
    """The valid-split arrays the feature pictures read (valid: the split that chooses)."""
    return {key: feather_file(wildcards.dataset, "valid", key) for key in TABULAR_KEYS}


def significance_settings(dataset):
    """The discovery-significance settings of a dataset (defaults: the paper's)."""
    return {**SIGNIFICANCE_DEFAULTS, **(dataset_config(dataset).get("significance") or {})}


def higgs_benchmark_inputs(wildcards):
    """Per result name: its test metrics and its valid and test scores (the threshold of
    the significance is chosen on valid, measured on test)."""
    dataset = wildcards.dataset
    names = result_names(dataset)
    return {
        "metrics": [f"results/{dataset}/metrics/{name}.json" for name in names],
        "valid": [f"results/{dataset}/scores/{name}/valid.feather" for name in names],
        "test": [f"results/{dataset}/scores/{name}/test.feather" for name in names],
    }


def higgs_benchmark_params(wildcards):
    """The significance settings, the paper's values per result name
    (datasets.<name>.benchmark_reference) and the result names in input order."""
    dataset = wildcards.dataset
    return canonical(
        {
            "names": result_names(dataset),
            "significance": significance_settings(dataset),
            "published": dataset_config(dataset).get("benchmark_reference") or {},
        }
    )


def tabular_targets():
    """Per tabular dataset: the feature distributions and the benchmark table."""
    return [
        path
        for dataset in TABULAR_DATASETS
        for path in (
            f"results/{dataset}/plots/table_features.png",
            f"results/{dataset}/summary/higgs_benchmark.csv",
            f"results/{dataset}/summary/higgs_benchmark.md",
        )
    ]
