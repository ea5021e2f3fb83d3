# Training stage: one network per feature set (CNN on images, DNN on flat inputs; a second
# network, shallow, may follow the tabular kind's dnn), boosted trees for flat feature sets
# (bdt, gbdt: LightGBM, saved in its text format, no pickle), the linear (Fisher)
# discriminant on every kept EFP where datasets.<name>.efp.linear is set, the optional optuna
# search, and the training curves. Every rule here reads train and valid only: valid chooses
# (early stopping, tuning), the test split is scored later by score_model.
# Input functions live in rules/train_functions.smk.
# Checkpoints go to results/{dataset}/checkpoints/{feature_set}/, deliberately NOT an output:
# Snakemake would delete it before rerunning a killed job, and the rerun resumes from it
# (bit-identical to an uninterrupted run). It is kept after success: Ctrl-C to Snakemake marks
# a finished job's outputs incomplete, and the rerun writes them from the finished checkpoint.


rule train_model:
    input:
        unpack(train_model_inputs),
    output:
        model="results/{dataset}/models/{feature_set}/model.keras",
        preprocess="results/{dataset}/models/{feature_set}/preprocess.json",
        history="results/{dataset}/models/{feature_set}/history.csv",
        info="results/{dataset}/models/{feature_set}/train_info.json",
    log:
        "logs/{dataset}/train_model/{feature_set}.log",
    benchmark:
        "results/benchmarks/{dataset}/train_model/{feature_set}.tsv"
    conda:
        NETWORK_ENV
    threads: TRAINING_THREADS
    params:
        settings=train_model_params,
    script:
        "../scripts/train_model.py"


# A network listed after the feature set's primary model (models: [dnn, shallow, ...]): the
# same fit loop as train_model (steps.models.train_secondary_network), the model kind in
# its params.
rule train_secondary_network:
    input:
        unpack(train_model_inputs),
    output:
        model="results/{dataset}/models/{feature_set}-{network}/model.keras",
        preprocess="results/{dataset}/models/{feature_set}-{network}/preprocess.json",
        history="results/{dataset}/models/{feature_set}-{network}/history.csv",
        info="results/{dataset}/models/{feature_set}-{network}/train_info.json",
    log:
        "logs/{dataset}/train_model/{feature_set}-{network}.log",
    benchmark:
        "results/benchmarks/{dataset}/train_model/{feature_set}-{network}.tsv"
    wildcard_constraints:
        network="shallow",
    conda:
        NETWORK_ENV
    threads: TRAINING_THREADS
    params:
        settings=secondary_network_params,
    script:
        "../scripts/train_secondary_network.py"


# bdt (training.bdt) and gbdt (training.gbdt): LightGBM, hepml.training.bdt.
rule train_bdt:
    input:
        unpack(train_bdt_inputs),
    output:
        model="results/{dataset}/models/{feature_set}-{tree}/model.txt",
        history="results/{dataset}/models/{feature_set}-{tree}/history.csv",
        info="results/{dataset}/models/{feature_set}-{tree}/train_info.json",
    log:
        "logs/{dataset}/train_bdt/{feature_set}-{tree}.log",
    benchmark:
        "results/benchmarks/{dataset}/train_bdt/{feature_set}-{tree}.tsv"
    wildcard_constraints:
        tree="bdt|gbdt",
    conda:
        "../envs/train.yaml"
    threads: TRAINING_THREADS
    params:
        settings=train_bdt_params,
    script:
        "../scripts/train_bdt.py"


rule train_efp_linear:
    input:
        unpack(train_efp_linear_inputs),
    output:
        linear="results/{dataset}/models/efp-linear/linear.npz",
        history="results/{dataset}/models/efp-linear/history.csv",
        info="results/{dataset}/models/efp-linear/train_info.json",
    log:
        "logs/{dataset}/train_efp_linear.log",
    benchmark:
        "results/benchmarks/{dataset}/train_efp_linear.tsv"
    conda:
        "../envs/train.yaml"
    params:
        settings=train_efp_linear_params,
    script:
        "../scripts/train_efp_linear.py"


rule tune_model:
    input:
        unpack(tune_model_inputs),
    output:
        tuned="results/{dataset}/tuning/{feature_set}.yaml",
        trials="results/{dataset}/tuning/{feature_set}_trials.csv",
    log:
        "logs/{dataset}/tune_model/{feature_set}.log",
    benchmark:
        "results/benchmarks/{dataset}/tune_model/{feature_set}.tsv"
    conda:
        NETWORK_ENV
    threads: TRAINING_THREADS
    params:
        settings=tune_model_params,
    script:
        "../scripts/tune_model.py"


rule plot_history:
    input:
        history="results/{dataset}/models/{name}/history.csv",
    output:
        figure=report(
            "results/{dataset}/models/{name}/history.png",
            caption="../report/train_history.rst",
            category="Training",
            subcategory="{dataset}",
            labels=history_label,
        ),
    log:
        "logs/{dataset}/plot_history/{name}.log",
    benchmark:
        "results/benchmarks/{dataset}/plot_history/{name}.tsv"
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/plot_history.py"


# Final targets: training_targets() in rules/common.smk.
register_targets(training_targets)
