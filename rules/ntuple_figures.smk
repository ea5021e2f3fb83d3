# The TMVA-style figures and tables of the ntuple analyses (kind tabular, source ntuples;
# docs/ntuples.md "Figures"), from the per-sample tables and the applied tables of
# rules/ntuples.smk. Choices on the validation split (the cut), numbers on the test split;
# MC weights of a split x 1 / its fraction (ntuples.split) estimate the full luminosity.
#   plot_ntuple_inputs        plots/ntuple_{variables,correlation}.png (MC, train split)
#   plot_ntuple_overtraining  plots/overtraining/{name}.png, summary/overtraining/{name}.csv
#   ntuple_significance       plots/significance/{name}.png, summary/significance/{name}.csv
#   ntuple_ranking            plots/ranking/{name}.png, summary/ranking/{name}.csv (valid)
#   plot_ntuple_data_mc       plots/data_mc/{name}/{column}_{before,after}.png (test + data)
#   ntuple_data_mc_yields     summary/data_mc_{name}.{csv,md}
#   summarise_ntuple_figures  summary/{overtraining,significance}.{csv,md}
# (all under results/{dataset}/)


include: "ntuple_figures_functions.smk"


rule plot_ntuple_inputs:
    input:
        unpack(ntuple_inputs_tables),
    output:
        variables=report(
            "results/{dataset}/plots/ntuple_variables.png",
            caption="../report/ntuple_variables.rst",
            category="Ntuples",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "input variables"},
        ),
        correlation=report(
            "results/{dataset}/plots/ntuple_correlation.png",
            caption="../report/ntuple_correlation.rst",
            category="Ntuples",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "correlation matrices"},
        ),
    log:
        "logs/{dataset}/plot_ntuple_inputs.log",
    benchmark:
        "results/benchmarks/{dataset}/plot_ntuple_inputs.tsv"
    wildcard_constraints:
        dataset=name_pattern(NTUPLE_FIGURE_DATASETS),
    conda:
        "../envs/plot.yaml"
    params:
        settings=ntuple_inputs_params,
    script:
        "../scripts/plot_ntuple_inputs.py"


rule plot_ntuple_overtraining:
    input:
        unpack(ntuple_applied_input),
    output:
        figure=report(
            "results/{dataset}/plots/overtraining/{name}.png",
            caption="../report/ntuple_overtraining.rst",
            category="Ntuples",
            subcategory="overtraining",
            labels=ntuple_report_labels,
        ),
        table="results/{dataset}/summary/overtraining/{name}.csv",
    log:
        "logs/{dataset}/plot_ntuple_overtraining/{name}.log",
    benchmark:
        "results/benchmarks/{dataset}/plot_ntuple_overtraining/{name}.tsv"
    wildcard_constraints:
        dataset=name_pattern(NTUPLE_FIGURE_DATASETS),
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/plot_ntuple_overtraining.py"


rule ntuple_significance:
    input:
        unpack(ntuple_applied_input),
    output:
        figure=report(
            "results/{dataset}/plots/significance/{name}.png",
            caption="../report/ntuple_significance.rst",
            category="Ntuples",
            subcategory="significance",
            labels=ntuple_report_labels,
        ),
        table="results/{dataset}/summary/significance/{name}.csv",
    log:
        "logs/{dataset}/ntuple_significance/{name}.log",
    benchmark:
        "results/benchmarks/{dataset}/ntuple_significance/{name}.tsv"
    wildcard_constraints:
        dataset=name_pattern(NTUPLE_FIGURE_DATASETS),
    conda:
        "../envs/plot.yaml"
    params:
        settings=ntuple_significance_params,
    script:
        "../scripts/ntuple_significance.py"


# Loads the model (through hepml.steps.ntuples.score_frame): the network environment.
rule ntuple_ranking:
    input:
        unpack(ntuple_ranking_inputs),
    output:
        table="results/{dataset}/summary/ranking/{name}.csv",
        figure=report(
            "results/{dataset}/plots/ranking/{name}.png",
            caption="../report/ntuple_ranking.rst",
            category="Ntuples",
            subcategory="variable ranking",
            labels=ntuple_report_labels,
        ),
    log:
        "logs/{dataset}/ntuple_ranking/{name}.log",
    benchmark:
        "results/benchmarks/{dataset}/ntuple_ranking/{name}.tsv"
    wildcard_constraints:
        dataset=name_pattern(NTUPLE_FIGURE_DATASETS),
    conda:
        NETWORK_ENV
    params:
        settings=ntuple_ranking_params,
    script:
        "../scripts/ntuple_ranking.py"


rule plot_ntuple_data_mc:
    input:
        unpack(ntuple_cut_inputs),
    output:
        before=report(
            "results/{dataset}/plots/data_mc/{name}/{column}_before.png",
            caption="../report/ntuple_data_mc.rst",
            category="Ntuples",
            subcategory="data and simulation",
            labels=ntuple_data_mc_labels,
        ),
        after=report(
            "results/{dataset}/plots/data_mc/{name}/{column}_after.png",
            caption="../report/ntuple_data_mc.rst",
            category="Ntuples",
            subcategory="data and simulation after the cut",
            labels=ntuple_data_mc_labels,
        ),
    log:
        "logs/{dataset}/plot_ntuple_data_mc/{name}/{column}.log",
    benchmark:
        "results/benchmarks/{dataset}/plot_ntuple_data_mc/{name}/{column}.tsv"
    wildcard_constraints:
        dataset=name_pattern(NTUPLE_FIGURE_DATASETS),
        column="[A-Za-z0-9_]+",
    conda:
        "../envs/plot.yaml"
    params:
        settings=ntuple_fraction_params,
    script:
        "../scripts/plot_ntuple_data_mc.py"


rule ntuple_data_mc_yields:
    input:
        unpack(ntuple_cut_inputs),
    output:
        table=report(
            "results/{dataset}/summary/data_mc_{name}.csv",
            caption="../report/ntuple_tables.rst",
            category="Ntuples",
            subcategory="tables",
            labels=ntuple_report_labels,
        ),
        markdown="results/{dataset}/summary/data_mc_{name}.md",
    log:
        "logs/{dataset}/ntuple_data_mc_yields/{name}.log",
    benchmark:
        "results/benchmarks/{dataset}/ntuple_data_mc_yields/{name}.tsv"
    wildcard_constraints:
        dataset=name_pattern(NTUPLE_FIGURE_DATASETS),
    conda:
        "../envs/plot.yaml"
    params:
        settings=ntuple_fraction_params,
    script:
        "../scripts/ntuple_data_mc_yields.py"


rule summarise_ntuple_figures:
    input:
        unpack(ntuple_summary_inputs),
    output:
        overtraining=report(
            "results/{dataset}/summary/overtraining.csv",
            caption="../report/ntuple_tables.rst",
            category="Ntuples",
            subcategory="tables",
            labels={"dataset": "{dataset}", "figure": "overtraining (KS p-values)"},
        ),
        overtraining_markdown="results/{dataset}/summary/overtraining.md",
        significance=report(
            "results/{dataset}/summary/significance.csv",
            caption="../report/ntuple_tables.rst",
            category="Ntuples",
            subcategory="tables",
            labels={"dataset": "{dataset}", "figure": "significance at the chosen cut"},
        ),
        significance_markdown="results/{dataset}/summary/significance.md",
    log:
        "logs/{dataset}/summarise_ntuple_figures.log",
    benchmark:
        "results/benchmarks/{dataset}/summarise_ntuple_figures.tsv"
    wildcard_constraints:
        dataset=name_pattern(NTUPLE_FIGURE_DATASETS),
    conda:
        "../envs/plot.yaml"
    params:
        settings=ntuple_summary_params,
    script:
        "../scripts/summarise_ntuple_figures.py"


register_targets(ntuple_figure_targets)
