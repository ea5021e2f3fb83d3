# Energy Flow Polynomials of the calorimeter cells (docs/reference.md "Energy Flow Polynomials";
# library: scripts/hepml/efp/, storage scripts/hepml/io/efp_store.py, rule entry points
# scripts/hepml/steps/efp.py). For every dataset with an `efp` config block:
#   compute_efps      results/{dataset}/efp/{split}/chunk{chunk}/   one event range, column blocks
#   gather_efps       results/{dataset}/efp/{split}/index.json   the split's table: checks the
#                     chunks against the grid and lists them (no copy); canonical column names
#   deduplicate_efps  results/{dataset}/efp/duplicates.csv (audit), kept.txt   identities on train
#   single_efp_auc    results/{dataset}/efp/single_auc_{split}.csv   AUC of each kept EFP alone
#                     (valid: ranks the gallery; test: reported in the guided tables)
#   draw_efps         results/{dataset}/efp/graphs/{efp}.png   the graph of any EFP by name
#   draw_efp_gallery  results/{dataset}/efp/gallery/   graphs of the best single-EFP AUCs (valid)
# Downstream rules use only the kept EFPs. Every step streams column blocks of at most
# efp.storage.block_rows x block_columns values (docs/architecture.md "EFP tables").


rule compute_efps:
    input:
        unpack(compute_efps_inputs),
    output:
        chunk=directory("results/{dataset}/efp/{split}/chunk{chunk}"),
    log:
        "logs/{dataset}/compute_efps/{split}/{chunk}.log",
    benchmark:
        "results/benchmarks/{dataset}/compute_efps/{split}/{chunk}.tsv"
    conda:
        EFP_COMPUTE_ENV
    threads: 1
    resources:
        gpu=compute_efps_gpus,
    params:
        settings=compute_efps_params,
    script:
        "../scripts/compute_efps.py"


rule gather_efps:
    input:
        unpack(gather_efps_inputs),
    output:
        index="results/{dataset}/efp/{split}/index.json",
    log:
        "logs/{dataset}/gather_efps/{split}.log",
    benchmark:
        "results/benchmarks/{dataset}/gather_efps/{split}.tsv"
    conda:
        "../envs/efp.yaml"
    params:
        settings=gather_efps_params,
    script:
        "../scripts/gather_efps.py"


rule deduplicate_efps:
    input:
        unpack(deduplicate_efps_inputs),
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
        settings=deduplicate_efps_params,
        seed=stage_seed(SEED_OFFSETS["efp_dedup"]),
    script:
        "../scripts/deduplicate_efps.py"


rule single_efp_auc:
    input:
        unpack(single_efp_auc_inputs),
    output:
        table=report(
            "results/{dataset}/efp/single_auc_{split}.csv",
            caption="../report/efp_single_auc.rst",
            category="EFPs",
            labels={"dataset": "{dataset}", "table": "AUC of each EFP alone ({split})"},
        ),
    log:
        "logs/{dataset}/single_efp_auc/{split}.log",
    benchmark:
        "results/benchmarks/{dataset}/single_efp_auc/{split}.tsv"
    conda:
        "../envs/efp.yaml"
    params:
        storage=efp_storage_params,
    script:
        "../scripts/single_efp_auc.py"


rule draw_efps:
    output:
        figure="results/{dataset}/efp/graphs/{efp}.png",
    log:
        "logs/{dataset}/draw_efps/{efp}.log",
    benchmark:
        "results/benchmarks/{dataset}/draw_efps/{efp}.tsv"
    wildcard_constraints:
        efp=EFP_NAME_PATTERN,
    conda:
        "../envs/efp.yaml"
    script:
        "../scripts/draw_efps.py"


rule draw_efp_gallery:
    input:
        single_auc="results/{dataset}/efp/single_auc_valid.csv",
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
    benchmark:
        "results/benchmarks/{dataset}/draw_efp_gallery.tsv"
    conda:
        "../envs/efp.yaml"
    params:
        size=efp_gallery_size,
    script:
        "../scripts/draw_efp_gallery.py"


register_targets(efp_targets)
