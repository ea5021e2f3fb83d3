# Data stage: where each dataset's published HDF5 file comes from (config
# datasets.<name>.source: simulate, download or path), its unpacking into one Feather file per
# key and split (the only thing later stages read, docs/architecture.md), the HL cross-check
# and the first pictures.


rule simulate_dataset:
    output:
        data="resources/{dataset}/simulated/data.h5",
        unscaled="resources/{dataset}/simulated/unscaled_data.h5",
    log:
        "logs/{dataset}/simulate_dataset.log",
    benchmark:
        "results/benchmarks/{dataset}/simulate_dataset.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        kind=kind_param,
        n_events=simulate_n_events,
        seed=stage_seed(SEED_OFFSETS["simulate"]),
        settings=simulate_settings,
    script:
        "../scripts/simulate_dataset.py"


rule download_dataset:
    output:
        h5="resources/{dataset}/downloaded/{file}",
    log:
        "logs/{dataset}/download_dataset/{file}.log",
    benchmark:
        "results/benchmarks/{dataset}/download_dataset/{file}.tsv"
    wildcard_constraints:
        file=r"[A-Za-z0-9_.-]+",
    conda:
        "../envs/data.yaml"
    params:
        url=download_url,
        sha256=pinned_sha256,
        md5=pinned_md5,
        pin_key=sha256_config_key,
    script:
        "../scripts/download_dataset.py"


# One unpack_h5 job per dataset and split writes every key of the split (one job per key cost
# a process, and a Snakemake job, each). The keys differ per dataset, so the rule is defined
# once per lepton dataset, named unpack_h5_<dataset> (kind jets: unpack_jets, rules/jets.smk).
for _dataset in LEPTON_DATASETS:

    rule:
        name:
            f"unpack_h5_{_dataset}"
        input:
            h5=published_file,
        output:
            **unpack_h5_outputs(_dataset),
        log:
            "logs/{dataset}/unpack_h5/{split}.log",
        benchmark:
            "results/benchmarks/{dataset}/unpack_h5/{split}.tsv"
        wildcard_constraints:
            dataset=name_pattern([_dataset]),
        conda:
            "../envs/data.yaml"
        resources:
            **UNPACK_H5_RESOURCES,
        params:
            settings=unpack_settings,
        script:
            "../scripts/unpack_h5.py"


rule recompute_hl:
    input:
        et=expand("results/{{dataset}}/feather/{split}/et.feather", split=SPLITS),
        ht=expand("results/{{dataset}}/feather/{split}/ht.feather", split=SPLITS),
        ee=expand("results/{{dataset}}/feather/{split}/ee.feather", split=SPLITS),
        hl=expand("results/{{dataset}}/feather/{split}/hl.feather", split=SPLITS),
    output:
        recomputed=expand("results/{{dataset}}/hl_recomputed/{split}.feather", split=SPLITS),
        check="results/{dataset}/data/hl_check.json",
    log:
        "logs/{dataset}/recompute_hl.log",
    benchmark:
        "results/benchmarks/{dataset}/recompute_hl.tsv"
    conda:
        "../envs/data.yaml"
    params:
        splits=SPLITS,
        file=published_file,
    script:
        "../scripts/recompute_hl.py"


rule plot_data:
    input:
        unpack(plot_data_inputs),
    output:
        images=report(
            "results/{dataset}/plots/data_images.png",
            caption="../report/data_images.rst",
            category="Data",
            labels={"dataset": "{dataset}", "figure": "average images"},
        ),
        features=report(
            "results/{dataset}/plots/data_features.png",
            caption="../report/data_features.rst",
            category="Data",
            labels={"dataset": "{dataset}", "figure": "feature distributions"},
        ),
    log:
        "logs/{dataset}/plot_data.log",
    benchmark:
        "results/benchmarks/{dataset}/plot_data.tsv"
    conda:
        "../envs/plot.yaml"
    params:
        settings=plot_data_params,
    script:
        "../scripts/plot_data.py"


register_targets(data_targets)
