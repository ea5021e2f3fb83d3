# Top tagging (kind jets, docs/jets.md): boosted hadronic top jets against QCD jets, the
# community benchmark arXiv:1902.09914. The benchmark's three files (or generated ones in its
# layout) are unpacked to jet images, constituents and standard features; models, EFPs, the
# guided search and the evaluation are the shared stages. This file adds:
#   unpack_jets            results/{dataset}/feather/{split}/{key}.feather (all keys at once)
#   merge_generated_jets   resources/{dataset}/generated/{train,val,test}.h5 (source generate)
#   plot_jets        results/{dataset}/plots/jet_{images,features}.png (Top tagging)
#   top_tagging_table      results/{dataset}/summary/top_tagging.{csv,md} (Top tagging)


rule unpack_jets:
    input:
        h5=jets_published_file,
    output:
        jet="results/{dataset}/feather/{split}/jet.feather",
        constituents="results/{dataset}/feather/{split}/constituents.feather",
        hl="results/{dataset}/feather/{split}/hl.feather",
        mass="results/{dataset}/feather/{split}/mass.feather",
        y="results/{dataset}/feather/{split}/y.feather",
        weight="results/{dataset}/feather/{split}/weight.feather",
    log:
        "logs/{dataset}/unpack_jets/{split}.log",
    benchmark:
        "results/benchmarks/{dataset}/unpack_jets/{split}.tsv"
    wildcard_constraints:
        dataset=name_pattern(JET_DATASETS),
    conda:
        "../envs/data.yaml"
    params:
        settings=unpack_jets_params,
    script:
        "../scripts/unpack_jets.py"


rule merge_generated_jets:
    input:
        chunks=generated_chunks,
    output:
        train="resources/{dataset}/generated/train.h5",
        valid="resources/{dataset}/generated/val.h5",
        test="resources/{dataset}/generated/test.h5",
    log:
        "logs/{dataset}/merge_generated_jets.log",
    benchmark:
        "results/benchmarks/{dataset}/merge_generated_jets.tsv"
    wildcard_constraints:
        dataset=name_pattern(JET_DATASETS),
    conda:
        "../envs/data.yaml"
    params:
        fractions=JET_SPLIT_FRACTIONS,
    script:
        "../scripts/merge_generated_jets.py"


rule plot_jets:
    input:
        unpack(jet_train_arrays),
    output:
        images=report(
            "results/{dataset}/plots/jet_images.png",
            caption="../report/jets_images.rst",
            category="Top tagging",
            labels={"dataset": "{dataset}", "figure": "average jet images"},
        ),
        features=report(
            "results/{dataset}/plots/jet_features.png",
            caption="../report/jets_features.rst",
            category="Top tagging",
            labels={"dataset": "{dataset}", "figure": "standard features"},
        ),
    log:
        "logs/{dataset}/plot_jets.log",
    benchmark:
        "results/benchmarks/{dataset}/plot_jets.tsv"
    conda:
        "../envs/plot.yaml"
    script:
        "../scripts/plot_jets.py"


rule top_tagging_table:
    input:
        metrics=dataset_metrics_files,
    output:
        table=report(
            "results/{dataset}/summary/top_tagging.csv",
            caption="../report/jets_table.rst",
            category="Top tagging",
            labels={"dataset": "{dataset}", "figure": "AUC and rejection vs the benchmark"},
        ),
        markdown="results/{dataset}/summary/top_tagging.md",
    log:
        "logs/{dataset}/top_tagging_table.log",
    benchmark:
        "results/benchmarks/{dataset}/top_tagging_table.tsv"
    conda:
        "../envs/plot.yaml"
    params:
        settings=top_tagging_params,
    script:
        "../scripts/top_tagging_table.py"


register_targets(jets_targets)
