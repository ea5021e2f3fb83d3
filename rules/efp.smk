# Energy Flow Polynomials of the calorimeter cells (REFERENCE.md "Energy Flow Polynomials";
# library: scripts/leptonid/efp.py). For every dataset with an `efp` config block:
#   compute_efps      results/{dataset}/efp/chunks/{split}/{chunk}.feather   event ranges
#   gather_efps       results/{dataset}/efp/{split}.feather   one float64 column per EFP,
#                     canonical names (et_efp_2_1_0_k_2_b_0.5), rows = events of the split
#   deduplicate_efps  results/{dataset}/efp/duplicates.csv, kept.txt   identities on train
#   single_efp_auc    results/{dataset}/efp/single_auc.csv   AUC of each kept EFP on test
#   draw_efps         results/{dataset}/efp/graphs/{efp}.png   the graph of any EFP by name
#   draw_efp_gallery  results/{dataset}/efp/gallery/   graphs of the best single-EFP AUCs
# Downstream rules use only the kept EFPs.


rule compute_efps:
    input:
        unpack(compute_efps_inputs),
    output:
        chunk=temp("results/{dataset}/efp/chunks/{split}/{chunk}.feather"),
    log:
        "logs/{dataset}/compute_efps/{split}/{chunk}.log",
    benchmark:
        "results/benchmarks/{dataset}/compute_efps/{split}/{chunk}.tsv"
    conda:
        "../envs/efp.yaml"
    threads: 1
    params:
        settings=efp_settings,
    script:
        "../scripts/compute_efps.py"


rule gather_efps:
    input:
        unpack(gather_efps_inputs),
    output:
        table="results/{dataset}/efp/{split}.feather",
    log:
        "logs/{dataset}/gather_efps/{split}.log",
    benchmark:
        "results/benchmarks/{dataset}/gather_efps/{split}.tsv"
    conda:
        "../envs/efp.yaml"
    params:
        settings=efp_settings,
    script:
        "../scripts/gather_efps.py"


rule deduplicate_efps:
    input:
        train="results/{dataset}/efp/train.feather",
    output:
        duplicates=report(
            "results/{dataset}/efp/duplicates.csv",
            caption="../report/efp_duplicates.rst",
            category="EFPs",
            labels={"dataset": "{dataset}", "table": "duplicate EFPs"},
        ),
        kept="results/{dataset}/efp/kept.txt",
    log:
        "logs/{dataset}/deduplicate_efps.log",
    benchmark:
        "results/benchmarks/{dataset}/deduplicate_efps.tsv"
    conda:
        "../envs/efp.yaml"
    params:
        settings=efp_settings,
        seed=stage_seed(SEED_OFFSET_EFP_DEDUP),
    script:
        "../scripts/deduplicate_efps.py"


rule single_efp_auc:
    input:
        test="results/{dataset}/efp/test.feather",
        kept="results/{dataset}/efp/kept.txt",
        y="results/{dataset}/feather/test/y.feather",
        weight="results/{dataset}/feather/test/weight.feather",
    output:
        table=report(
            "results/{dataset}/efp/single_auc.csv",
            caption="../report/efp_single_auc.rst",
            category="EFPs",
            labels={"dataset": "{dataset}", "table": "AUC of each EFP alone"},
        ),
    log:
        "logs/{dataset}/single_efp_auc.log",
    benchmark:
        "results/benchmarks/{dataset}/single_efp_auc.tsv"
    conda:
        "../envs/efp.yaml"
    script:
        "../scripts/single_efp_auc.py"


rule draw_efps:
    output:
        figure="results/{dataset}/efp/graphs/{efp}.png",
    log:
        "logs/{dataset}/draw_efps/{efp}.log",
    wildcard_constraints:
        efp=EFP_NAME_PATTERN,
    conda:
        "../envs/efp.yaml"
    script:
        "../scripts/draw_efps.py"


rule draw_efp_gallery:
    input:
        single_auc="results/{dataset}/efp/single_auc.csv",
    output:
        gallery=report(
            directory("results/{dataset}/efp/gallery"),
            patterns=["rank{rank,[0-9]+}_{efp}.png"],
            caption="../report/efp_gallery.rst",
            category="EFPs",
            labels={"dataset": "{dataset}", "rank": "{rank}", "EFP": "{efp}"},
        ),
    log:
        "logs/{dataset}/draw_efp_gallery.log",
    conda:
        "../envs/efp.yaml"
    params:
        size=efp_gallery_size,
    script:
        "../scripts/draw_efp_gallery.py"


register_targets(efp_targets)
