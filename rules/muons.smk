# Muon-analysis extras ("Learning to Isolate Muons", docs/reference.md 2; docs/muons.md). The muon
# data, models, EFPs and guided search run through the shared stages; this file adds the
# radial ET profile around the muon:
#   plot_radial_profile   results/{dataset}/plots/radial_profile.png   (report, Data)
#                         results/{dataset}/data/radial_profile.csv    the numbers plotted
# Its target list lives in rules/muons_functions.smk (included by rules/common.smk).


rule plot_radial_profile:
    input:
        images="results/{dataset}/feather/train/images.feather",
        y="results/{dataset}/feather/train/y.feather",
        weight="results/{dataset}/feather/train/weight.feather",
    output:
        figure=report(
            "results/{dataset}/plots/radial_profile.png",
            caption="../report/muons_radial_profile.rst",
            category="Data",
            labels={"dataset": "{dataset}", "figure": "radial ET profile"},
        ),
        table="results/{dataset}/data/radial_profile.csv",
    log:
        "logs/{dataset}/plot_radial_profile.log",
    benchmark:
        "results/benchmarks/{dataset}/plot_radial_profile.tsv"
    conda:
        "../envs/plot.yaml"
    params:
        split="train",
    script:
        "../scripts/plot_radial_profile.py"


register_targets(muon_targets)
