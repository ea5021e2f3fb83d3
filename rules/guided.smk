# Black-box guided search (docs/reference.md "Black-box guided search", docs/guided.md): for each
# scan of datasets.<dataset>.guided, pass 0 is a small DNN on the start feature set; pass n
# draws signal/background pairs from the VALIDATION split, keeps those that the pass n-1 model
# and the black box (the et_and_ht CNN) order differently, picks the EFP whose ordering of
# those pairs agrees best with the black box, and trains feature set guided_{scan}_pass{n}
# (start inputs + the EFPs chosen so far) with the SAME train_model / score_model /
# evaluate_model rules as every other feature set, so its AUC is measured on TEST.
#
# Dynamic stop: select_next_efp is a checkpoint. Its choice.json says whether the pass adds an
# EFP or stops (pass limit, validation AUC reached the black box's, no disagreeing pair left, no candidate
# left, no candidate ordering the disagreeing pairs like the black box more often than not).
# guided_trained_passes() walks the checkpoints pass by pass and stops at the first
# "stop"; summarise_scan and plot_guided take their inputs from it, so Snakemake trains exactly
# the passes the search asks for. Any pass can be rerun alone, e.g.
#   snakemake --cores 1 --force results/electrons/guided/hl/pass2/choice.json
#
# Paths:
#   results/{dataset}/scores/{feature_set}/{split}.feather    score_model (y, score, weight)
#   results/{dataset}/guided/{scan}/pass{pass}/pairs.json     pairs drawn / disagreeing
#   results/{dataset}/guided/{scan}/pass{pass}/ranking.csv    ADO of every candidate EFP
#   results/{dataset}/guided/{scan}/pass{pass}/choice.json    the chosen EFP or the stop
#   results/{dataset}/guided/{scan}/pass{pass}/feature_set.json  what train_model trains
#   results/{dataset}/guided/{scan}/table.{csv,md}            the paper's table, one row/pass
#   results/{dataset}/guided/{auc_vs_pass,ado_histograms,chosen_graphs}.png
#
# Input functions and the target list live in rules/guided_functions.smk.


# ---------------------------------------------------------------------------------- rules
checkpoint select_next_efp:
    input:
        unpack(select_next_efp_inputs),
    output:
        # feature_set first: Snakemake names output[0] when a job waits for this checkpoint,
        # and train_model/score_model list feature_set.json among their inputs.
        feature_set="results/{dataset}/guided/{scan}/pass{pass,[1-9][0-9]*}/feature_set.json",
        pairs="results/{dataset}/guided/{scan}/pass{pass}/pairs.json",
        ranking="results/{dataset}/guided/{scan}/pass{pass}/ranking.csv",
        choice="results/{dataset}/guided/{scan}/pass{pass}/choice.json",
    log:
        "logs/{dataset}/guided/{scan}/select_next_efp/pass{pass}.log",
    benchmark:
        "results/benchmarks/{dataset}/guided/{scan}/select_next_efp/pass{pass}.tsv"
    wildcard_constraints:
        scan="[A-Za-z0-9_]+",
    conda:
        "../envs/train.yaml"
    params:
        settings=select_next_efp_params,
    script:
        "../scripts/select_next_efp.py"


rule summarise_scan:
    input:
        unpack(summarise_scan_inputs),
    output:
        table=report(
            "results/{dataset}/guided/{scan}/table.csv",
            caption="../report/guided_table.rst",
            category="Guided search",
            subcategory="{dataset}",
            labels=scan_labels,
        ),
        markdown="results/{dataset}/guided/{scan}/table.md",
    log:
        "logs/{dataset}/guided/{scan}/summarise_scan.log",
    benchmark:
        "results/benchmarks/{dataset}/summarise_scan/{scan}.tsv"
    wildcard_constraints:
        scan="[A-Za-z0-9_]+",
    conda:
        "../envs/train.yaml"
    params:
        settings=summarise_scan_params,
    script:
        "../scripts/summarise_scan.py"


rule plot_guided:
    input:
        unpack(plot_guided_inputs),
    output:
        auc=report(
            "results/{dataset}/guided/auc_vs_pass.png",
            caption="../report/guided_auc_vs_pass.rst",
            category="Guided search",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "AUC against pass"},
        ),
        ado=report(
            "results/{dataset}/guided/ado_histograms.png",
            caption="../report/guided_ado_histograms.rst",
            category="Guided search",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "ADO of the candidates"},
        ),
        graphs=report(
            "results/{dataset}/guided/chosen_graphs.png",
            caption="../report/guided_chosen_graphs.rst",
            category="Guided search",
            subcategory="{dataset}",
            labels={"dataset": "{dataset}", "figure": "chosen EFP graphs"},
        ),
    log:
        "logs/{dataset}/guided/plot_guided.log",
    benchmark:
        "results/benchmarks/{dataset}/plot_guided.tsv"
    conda:
        "../envs/plot.yaml"
    params:
        settings=plot_guided_params,
    script:
        "../scripts/plot_guided.py"


register_targets(guided_targets)
