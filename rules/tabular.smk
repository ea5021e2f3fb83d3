# Tables of per-event features (kind tabular, docs/tabular.md), first configured as the Higgs
# benchmark of Baldi, Sadowski & Whiteson, Nature Commun. 5, 4308 (2014), arXiv:1402.4735
# (config/higgs.yaml). The table is unpacked once to the Feather layout; models, scores and
# metrics are the shared stages (a feature set's columns are one flat input). This file adds:
#   unpack_table       results/{dataset}/feather/{split}/{features,y,weight}.feather
#   plot_table         results/{dataset}/plots/table_features.png (Higgs benchmark)
#   higgs_benchmark    results/{dataset}/summary/higgs_benchmark.{csv,md} (Higgs benchmark)


rule unpack_table:
    input:
        table=table_file,
    output:
        **unpack_table_outputs(),
    log:
        "logs/{dataset}/unpack_table.log",
    benchmark:
        "results/benchmarks/{dataset}/unpack_table.tsv"
    wildcard_constraints:
        dataset=name_pattern(TABULAR_DATASETS),
    conda:
        "../envs/data.yaml"
    params:
        settings=unpack_table_params,
    script:
        "../scripts/unpack_table.py"


rule plot_table:
    input:
        unpack(table_valid_arrays),
    output:
        features=report(
            "results/{dataset}/plots/table_features.png",
            caption="../report/tabular_features.rst",
            category="Higgs benchmark",
            labels={"dataset": "{dataset}", "figure": "feature distributions"},
        ),
    log:
        "logs/{dataset}/plot_table.log",
    benchmark:
        "results/benchmarks/{dataset}/plot_table.tsv"
    wildcard_constraints:
        dataset=name_pattern(TABULAR_DATASETS),
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/plot_table.py"


rule higgs_benchmark:
    input:
        unpack(higgs_benchmark_inputs),
    output:
        table=report(
            "results/{dataset}/summary/higgs_benchmark.csv",
            caption="../report/tabular_table.rst",
            category="Higgs benchmark",
            labels={"dataset": "{dataset}", "figure": "AUC and significance vs the paper"},
        ),
        markdown="results/{dataset}/summary/higgs_benchmark.md",
    log:
        "logs/{dataset}/higgs_benchmark.log",
    benchmark:
        "results/benchmarks/{dataset}/higgs_benchmark.tsv"
    wildcard_constraints:
        dataset=name_pattern(TABULAR_DATASETS),
    conda:
        "../envs/plot.yaml"
    params:
        settings=higgs_benchmark_params,
    script:
        "../scripts/higgs_benchmark.py"


register_targets(tabular_targets)
