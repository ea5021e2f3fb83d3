# Evaluation stage: scores of any model on any split (score_model: networks and BDTs; test for
# the metrics, valid for the guided search), metrics per model (AUC with a bootstrap interval,
# background rejection, collapse check) on the test split, the AUC table next to the paper
# numbers, and the ROC overlays. Input functions live in rules/evaluate_functions.smk.


rule score_model:
    input:
        unpack(score_model_inputs),
    output:
        scores="results/{dataset}/scores/{name}/{split}.feather",
    log:
        "logs/{dataset}/score_model/{name}/{split}.log",
    benchmark:
        "results/benchmarks/{dataset}/score_model/{name}/{split}.tsv"
    conda:
        NETWORK_ENV
    threads: TRAINING_THREADS
    params:
        settings=score_model_params,
    script:
        "../scripts/score_model.py"


rule evaluate_model:
    input:
        unpack(evaluate_model_inputs),
    output:
        metrics=report(
            "results/{dataset}/metrics/{name}.json",
            caption="../report/eval_metrics.rst",
            category="ROC",
            subcategory="metrics per model",
            labels=history_label,
        ),
    log:
        "logs/{dataset}/evaluate_model/{name}.log",
    benchmark:
        "results/benchmarks/{dataset}/evaluate_model/{name}.tsv"
    conda:
        "../envs/train.yaml"
    params:
        settings=evaluate_params,
    script:
        "../scripts/evaluate_model.py"


rule summarise_dataset:
    input:
        metrics=dataset_metrics_files,
    output:
        table=report(
            "results/{dataset}/summary/auc_table.csv",
            caption="../report/eval_auc_table.rst",
            category="ROC",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "AUC table"},
        ),
        markdown="results/{dataset}/summary/auc_table.md",
    log:
        "logs/{dataset}/summarise_dataset.log",
    benchmark:
        "results/benchmarks/{dataset}/summarise_dataset.tsv"
    conda:
        "../envs/train.yaml"
    params:
        settings=summary_params,
    script:
        "../scripts/summarise_dataset.py"


rule plot_roc:
    input:
        scores=dataset_prediction_files,
        metrics=dataset_metrics_files,
    output:
        roc=report(
            "results/{dataset}/summary/roc.svg",
            caption="../report/eval_roc.rst",
            category="ROC",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "ROC (TPR vs FPR)"},
        ),
        rejection=report(
            "results/{dataset}/summary/rejection.svg",
            caption="../report/eval_rejection.rst",
            category="ROC",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "background rejection"},
        ),
    log:
        "logs/{dataset}/plot_roc.log",
    benchmark:
        "results/benchmarks/{dataset}/plot_roc.tsv"
    conda:
        "../envs/plot.yaml"
    params:
        settings=summary_params,
    script:
        "../scripts/plot_roc.py"


# Final targets: evaluation_targets() in rules/common.smk.
register_targets(evaluation_targets)


# Two or more datasets of one kind (datasets.<name>.kind): their AUC tables side by side.
rule compare_datasets:
    input:
        tables=comparison_tables,
    output:
        table=report(
            "results/compare/{kind}/auc_table.csv",
            caption="../report/compare_datasets.rst",
            category="Comparison",
            subcategory="{kind}",
            labels={"kind": "{kind}", "figure": "AUC table"},
        ),
        markdown="results/compare/{kind}/auc_table.md",
        figure=report(
            "results/compare/{kind}/auc.png",
            caption="../report/compare_datasets.rst",
            category="Comparison",
            subcategory="{kind}",
            labels={"kind": "{kind}", "figure": "AUC per model"},
        ),
    log:
        "logs/compare/{kind}.log",
    benchmark:
        "results/benchmarks/compare/compare_datasets/{kind}.tsv"
    wildcard_constraints:
        kind="[a-z]+",
    conda:
        "../envs/plot.yaml"
    params:
        datasets=lambda wildcards: datasets_of_kind(wildcards.kind),
    script:
        "../scripts/compare_datasets.py"


register_targets(comparison_targets)


# The run's results document: every table of the run with the code version and configuration
# it came from (README "Outputs"; nothing in it is typed by hand).
rule write_results:
    input:
        tables=results_tables,
        figures=results_figures,
    output:
        document="results/results.md",
    log:
        "logs/write_results.log",
    benchmark:
        "results/benchmarks/write_results.tsv"
    conda:
        "../envs/plot.yaml"
    params:
        settings=results_params,
    script:
        "../scripts/write_results.py"


register_targets(lambda: ["results/results.md"])
