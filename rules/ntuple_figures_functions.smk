# Constants and input functions of the ntuple figures (rules/ntuple_figures.smk;
# docs/ntuples.md "Figures"): datasets of kind tabular with source ntuples. They read the
# per-sample tables (results/{dataset}/ntuples/{sample}.feather) and the applied tables
# (results/{dataset}/applied/{name}.feather) that rules/ntuples.smk writes.
# Kept apart from the rules: snakemake --lint wants functions and rules in separate files.

NTUPLE_FIGURE_DATASETS = [
    dataset
    for dataset in datasets_of_kind("tabular")
    if dataset_config(dataset).get("source") == "ntuples"
]


def ntuple_figure_block(dataset):
    """The dataset's ntuples block (docs/ntuples.md)."""
    return dataset_config(dataset).get("ntuples") or {}


def ntuple_figure_fractions(dataset):
    """ntuples.split as given (the steps fill in the defaults: valid 0.2, test 0.3)."""
    return dict(ntuple_figure_block(dataset).get("split") or {})


def ntuple_figure_applied(dataset, name):
    """The applied table of one result name: every row of every sample with its score."""
    return f"results/{dataset}/applied/{name}.feather"


def ntuple_significance_table(dataset, name):
    """The one-row table of the cut chosen on valid for one result name."""
    return f"results/{dataset}/summary/significance/{name}.csv"


def ntuple_inputs_tables(wildcards):
    """The per-sample tables of the simulated samples (the input figures draw no data)."""
    samples = ntuple_figure_block(wildcards.dataset).get("samples") or {}
    return {
        "tables": [
            f"results/{wildcards.dataset}/ntuples/{sample}.feather"
            for sample, values in samples.items()
            if values.get("role") != "data"
        ]
    }


def ntuple_inputs_params(wildcards):
    """The variables and spectators, in config order (lists: canonical() keeps their order)."""
    block = ntuple_figure_block(wildcards.dataset)
    return {
        "variables": list(block.get("variables") or {}),
        "spectators": list(block.get("spectators") or {}),
    }


def ntuple_applied_input(wildcards):
    """The applied table of the job's result name."""
    split_result_name(wildcards.dataset, wildcards.name)  # an unknown name stops the DAG
    return {"applied": ntuple_figure_applied(wildcards.dataset, wildcards.name)}


def ntuple_significance_params(wildcards):
    """The split fractions (ntuples.split) and ntuples.significance."""
    block = ntuple_figure_block(wildcards.dataset)
    return canonical(
        {
            "fractions": ntuple_figure_fractions(wildcards.dataset),
            "significance": dict(block.get("significance") or {}),
        }
    )


def ntuple_cut_inputs(wildcards):
    """The applied table and the cut chosen on valid (the data/MC figures and yields)."""
    return {
        **ntuple_applied_input(wildcards),
        "significance": ntuple_significance_table(wildcards.dataset, wildcards.name),
    }


def ntuple_fraction_params(wildcards):
    """The split fractions (the test split's scales the MC to the data's luminosity)."""
    return canonical({"fractions": ntuple_figure_fractions(wildcards.dataset)})


def ntuple_ranking_inputs(wildcards):
    """The applied table (its valid rows) and the trained model's files (BDT: model.txt;
    network: model.keras and preprocess.json), the folder hepml.steps.ntuples.score_frame
    loads."""
    dataset, name = wildcards.dataset, wildcards.name
    _, model = split_result_name(dataset, name)
    if model in TREE_MODELS:
        files = {"model": f"{model_dir(dataset, name)}/model.txt"}
    else:
        files = {
            "model": f"{model_dir(dataset, name)}/model.keras",
            "preprocess": f"{model_dir(dataset, name)}/preprocess.json",
        }
    return {"applied": ntuple_figure_applied(dataset, name), **files}


def ntuple_ranking_params(wildcards):
    """The model's columns (its feature set's), ntuples.ranking and the permutations' seed."""
    feature_set, _ = split_result_name(wildcards.dataset, wildcards.name)
    columns = feature_set_settings(wildcards.dataset, feature_set).columns
    return canonical(
        {
            "columns": list(columns),
            "ranking": dict(ntuple_figure_block(wildcards.dataset).get("ranking") or {}),
            "seed": stage_seed(SEED_OFFSETS["ntuple_ranking"]),
        }
    )


def ntuple_summary_inputs(wildcards):
    """Per result name, in result-name order: its overtraining and significance tables."""
    dataset = wildcards.dataset
    names = result_names(dataset)
    return {
        "overtraining": [f"results/{dataset}/summary/overtraining/{name}.csv" for name in names],
        "significance": [ntuple_significance_table(dataset, name) for name in names],
    }


def ntuple_summary_params(wildcards):
    """The result names (in input order) and what the significance note states."""
    return {
        "names": result_names(wildcards.dataset),
        **ntuple_significance_params(wildcards),
    }


def ntuple_report_labels(wildcards):
    """Report labels of a per-model ntuple figure."""
    feature_set, model = split_result_name(wildcards.dataset, wildcards.name)
    return {"dataset": wildcards.dataset, "feature set": feature_set, "model": model}


def ntuple_data_mc_labels(wildcards):
    """Report labels of a data/MC figure."""
    return {**ntuple_report_labels(wildcards), "variable": wildcards.column}


def ntuple_figure_targets():
    """Per ntuple dataset: the input figures, and per result name the overtraining,
    significance, ranking and data/MC figures, the data/MC yields and the summary tables."""
    paths = []
    for dataset in NTUPLE_FIGURE_DATASETS:
        block = ntuple_figure_block(dataset)
        columns = [*(block.get("variables") or {}), *(block.get("spectators") or {})]
        paths += [
            f"results/{dataset}/plots/ntuple_variables.png",
            f"results/{dataset}/plots/ntuple_correlation.png",
            f"results/{dataset}/summary/overtraining.csv",
            f"results/{dataset}/summary/overtraining.md",
            f"results/{dataset}/summary/significance.csv",
            f"results/{dataset}/summary/significance.md",
        ]
        for name in result_names(dataset):
            paths += [
                f"results/{dataset}/plots/overtraining/{name}.png",
                f"results/{dataset}/plots/significance/{name}.png",
                f"results/{dataset}/plots/ranking/{name}.png",
                f"results/{dataset}/summary/ranking/{name}.csv",
                f"results/{dataset}/summary/data_mc_{name}.csv",
                f"results/{dataset}/summary/data_mc_{name}.md",
            ]
            paths += [
                f"results/{dataset}/plots/data_mc/{name}/{column}_{when}.png"
                for column in columns
                for when in ("before", "after")
            ]
    return paths


def ntuple_results_tables():
    """The ntuple tables of the results document: the cut-flow (rules/ntuples.smk) and the
    tables above (markdown)."""
    tables = [f"results/{dataset}/summary/cutflow.md" for dataset in NTUPLE_FIGURE_DATASETS]
    return tables + [path for path in ntuple_figure_targets() if path.endswith(".md")]
