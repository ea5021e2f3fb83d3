# ROOT ntuples (kind tabular, source ntuples; docs/ntuples.md, issue 21): samples of ROOT
# files with weights, a preselection, variables and spectators, the way TMVA exercises are set
# up (config/ztautau.yaml). Each sample is read once, in steps; the simulation's rows become
# the shared stage's split files, so models, scores and metrics are the shared rules (training
# reweights them: hepml.steps.models.reweighted). This file adds:
#   unpack_ntuple    results/{dataset}/ntuples/{sample}.feather, {sample}.cutflow.csv
#   gather_cutflow   results/{dataset}/summary/cutflow.{csv,md}
#   split_ntuples    results/{dataset}/feather/{split}/{features,y,weight}.feather
#   apply_model      results/{dataset}/applied/{name}.feather (every sample, data included)


rule unpack_ntuple:
    input:
        files=ntuple_sample_files,
    output:
        table="results/{dataset}/ntuples/{sample}.feather",
        cutflow="results/{dataset}/ntuples/{sample}.cutflow.csv",
    log:
        "logs/{dataset}/unpack_ntuple_{sample}.log",
    benchmark:
        "results/benchmarks/{dataset}/unpack_ntuple_{sample}.tsv"
    wildcard_constraints:
        dataset=name_pattern(NTUPLE_DATASETS),
        sample="[A-Za-z0-9_]+",
    conda:
        "../envs/data.yaml"
    params:
        settings=unpack_ntuple_params,
    script:
        "../scripts/unpack_ntuple.py"


rule gather_cutflow:
    input:
        cutflows=ntuple_cutflows,
    output:
        csv="results/{dataset}/summary/cutflow.csv",
        markdown="results/{dataset}/summary/cutflow.md",
    log:
        "logs/{dataset}/gather_cutflow.log",
    benchmark:
        "results/benchmarks/{dataset}/gather_cutflow.tsv"
    wildcard_constraints:
        dataset=name_pattern(NTUPLE_DATASETS),
    conda:
        "../envs/data.yaml"
    script:
        "../scripts/gather_cutflow.py"


rule split_ntuples:
    input:
        tables=ntuple_mc_tables,
    output:
        **unpack_table_outputs(),
    log:
        "logs/{dataset}/split_ntuples.log",
    benchmark:
        "results/benchmarks/{dataset}/split_ntuples.tsv"
    wildcard_constraints:
        dataset=name_pattern(NTUPLE_DATASETS),
    conda:
        "../envs/data.yaml"
    params:
        settings=split_ntuples_params,
    script:
        "../scripts/split_ntuples.py"


rule apply_model:
    input:
        unpack(apply_model_inputs),
    output:
        applied="results/{dataset}/applied/{name}.feather",
    log:
        "logs/{dataset}/apply_model_{name}.log",
    benchmark:
        "results/benchmarks/{dataset}/apply_model_{name}.tsv"
    wildcard_constraints:
        dataset=name_pattern(NTUPLE_DATASETS),
    conda:
        NETWORK_ENV
    threads: TRAINING_THREADS
    params:
        settings=apply_model_params,
    script:
        "../scripts/apply_model.py"


register_targets(ntuple_targets)
