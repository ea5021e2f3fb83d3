# Input functions of the evaluation stage (rules in rules/evaluate.smk): scoring, metrics,
# summaries, the comparison of datasets of one kind and the results document.
# Kept apart from the rules: snakemake --lint wants functions and rules in separate files.

from hepml.settings import TREE_MODELS


def score_model_inputs(wildcards):
    """A trained model (network: model.keras + preprocess.json; bdt, gbdt: LightGBM's
    model.txt) and the arrays of the split it scores."""
    dataset, name, split = wildcards.dataset, wildcards.name, wildcards.split
    feature_set, model = split_result_name(dataset, name)
    if model == "linear":
        return {**efp_linear_split_inputs(dataset, split), "linear": efp_linear_model(dataset)}
    if model in TREE_MODELS:
        inputs = {"trees": f"{model_dir(dataset, name)}/model.txt"}
    else:
        inputs = {
            "model": f"{model_dir(dataset, name)}/model.keras",
            "preprocess": f"{model_dir(dataset, name)}/preprocess.json",
        }
    inputs.update(split_inputs(dataset, feature_set, split))
    inputs.update(guided_feature_set_inputs(dataset, feature_set))
    return inputs


def score_model_params(wildcards):
    """What score_model reads: the feature set and the model kind."""
    feature_set, model = split_result_name(wildcards.dataset, wildcards.name)
    if model == "linear":  # its EFP names are in the model file
        return {"feature_set": {"name": EFP_LINEAR_NAME, "inputs": []}, "model": model}
    return canonical(
        {"feature_set": feature_set_param(wildcards.dataset, feature_set), "model": model}
    )


def evaluate_model_inputs(wildcards):
    """Test-split scores of one model and its training record."""
    split_result_name(wildcards.dataset, wildcards.name)  # validates the name
    return {
        "scores": f"results/{wildcards.dataset}/scores/{wildcards.name}/test.feather",
        "info": f"{model_dir(wildcards.dataset, wildcards.name)}/train_info.json",
    }


def evaluate_params(wildcards):
    """Evaluation settings, bootstrap seed and the model's identity."""
    feature_set, model = split_result_name(wildcards.dataset, wildcards.name)
    return canonical(
        {
            "evaluation": config["evaluation"],
            "seed": stage_seed(SEED_OFFSETS["bootstrap"]),
            "name": wildcards.name,
            "feature_set": feature_set,
            "model": model,
        }
    )


def dataset_metrics_files(wildcards):
    """Metrics of every model of a dataset, in config order."""
    return [
        f"results/{wildcards.dataset}/metrics/{name}.json"
        for name in result_names(wildcards.dataset)
    ]


def dataset_prediction_files(wildcards):
    """Test scores of every model of a dataset, in config order."""
    return [
        f"results/{wildcards.dataset}/scores/{name}/test.feather"
        for name in result_names(wildcards.dataset)
    ]


def summary_params(wildcards):
    """Paper AUCs shown next to ours, the efficiencies of the rejection columns, the names."""
    return canonical(
        {
            "paper_reference": dataset_config(wildcards.dataset).get("paper_reference") or {},
            "signal_efficiencies": list(config["evaluation"]["signal_efficiencies"]),
            "names": result_names(wildcards.dataset),
        }
    )


def evaluation_targets():
    """Metrics of every model, the AUC table (csv + md) and the ROC overlays per dataset."""
    targets = []
    for dataset in DATASETS:
        targets += [f"results/{dataset}/metrics/{name}.json" for name in result_names(dataset)]
        targets += expand(
            "results/{dataset}/summary/{file}",
            dataset=dataset,
            file=["auc_table.csv", "auc_table.md", "roc.svg", "rejection.svg"],
        )
    return targets


# --- datasets of one kind side by side (rule compare_datasets, rules/evaluate.smk) ---


def comparison_tables(wildcards):
    """The AUC tables of the datasets of one kind, in config order."""
    datasets = datasets_of_kind(wildcards.kind)
    if len(datasets) < 2:
        raise ValueError(
            f"results/compare/{wildcards.kind}/: comparing needs two datasets of kind "
            f"{wildcards.kind!r}; the config has {datasets}"
        )
    return [f"results/{dataset}/summary/auc_table.csv" for dataset in datasets]


def comparison_targets():
    """The comparison table and figure of every kind with two or more datasets."""
    return [
        f"results/compare/{kind}/{file}"
        for kind in plan.compared_kinds(config)
        for file in ("auc_table.csv", "auc_table.md", "auc.png")
    ]


# --- the results document (rule write_results, rules/evaluate.smk) ---
def results_tables(wildcards):
    """Every markdown table of the run: AUC, top-tagging, Higgs-benchmark, guided-scan and
    comparison tables."""
    paths = evaluation_targets() + guided_targets() + comparison_targets() + jets_targets()
    paths += tabular_targets() + ntuple_results_tables()
    return [path for path in paths if path.endswith(".md")]


def results_figures(wildcards):
    """The figures the results document links to."""
    paths = evaluation_targets() + guided_targets() + jets_targets() + tabular_targets()
    paths += ntuple_figure_targets()
    return [path for path in paths if path.endswith((".svg", ".png"))]


def results_params(wildcards):
    """The stamp of the document: the datasets with their kinds and the resolved configuration
    (canonical, so reordering keys or renaming the config file rewrites nothing)."""
    return {
        "datasets": [[name, dataset_kind(name)] for name in DATASETS],
        "config": canonical(config),
    }
