# The generate source (datasets.<name>.source: generate, docs/generator.md): Pythia 8
# collisions through a parametrised calorimeter (Delphes ATLAS card), one CPU job per chunk,
# merged into data.h5 and unscaled_data.h5 in the published layout under
# resources/<dataset>/generated/, which rule unpack_h5 reads like any other source; kind
# tabular: merged into HIGGS.csv.gz in the UCI layout (docs/generator.md "Higgs benchmark
# events").


rule generate_chunk:
    output:
        chunk="resources/{dataset}/generated/chunks/{chunk}.h5",
    log:
        "logs/{dataset}/generate_chunk/{chunk}.log",
    benchmark:
        "results/benchmarks/{dataset}/generate_chunk/{chunk}.tsv"
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        kind=kind_param,
        n_events=generate_chunk_events,
        seed=stage_seed(SEED_OFFSETS["generate"]),
        settings=generate_settings,
    script:
        "../scripts/generate_chunk.py"


rule merge_generated_chunks:
    input:
        chunks=generated_chunks,
    output:
        data="resources/{dataset}/generated/data.h5",
        unscaled="resources/{dataset}/generated/unscaled_data.h5",
    log:
        "logs/{dataset}/merge_generated_chunks.log",
    benchmark:
        "results/benchmarks/{dataset}/merge_generated_chunks.tsv"
    conda:
        "../envs/data.yaml"
    params:
        kind=kind_param,
        settings=generate_settings,
    script:
        "../scripts/merge_generated_chunks.py"


rule merge_generated_table:
    input:
        chunks=generated_chunks,
    output:
        table="resources/{dataset}/generated/HIGGS.csv.gz",
        scaling="resources/{dataset}/generated/HIGGS.scaling.json",
    log:
        "logs/{dataset}/merge_generated_table.log",
    benchmark:
        "results/benchmarks/{dataset}/merge_generated_table.tsv"
    conda:
        "../envs/data.yaml"
    params:
        seed=stage_seed(SEED_OFFSETS["generate"]),
        test_rows=generate_test_rows,
    script:
        "../scripts/merge_generated_table.py"


# The built-in ntuples (datasets.<name>.ntuples.generate; docs/ntuples.md "Built-in ntuples"):
# the generate_chunk pattern per sample (higgs, ttbar, data), each chunk an HDF5 file, merged
# into one ROOT file per sample in the open-data layout. The pseudo-data's chunks read the MC
# files: their counts are Poisson draws around the yields the MC weights predict.
rule generate_ntuple_chunk:
    input:
        unpack(ntuple_data_inputs),
    output:
        chunk="resources/{dataset}/generated/ntuples/chunks/{sample}/{chunk}.h5",
    log:
        "logs/{dataset}/generate_ntuple_chunk/{sample}/{chunk}.log",
    benchmark:
        "results/benchmarks/{dataset}/generate_ntuple_chunk/{sample}/{chunk}.tsv"
    wildcard_constraints:
        sample="|".join(ntuple_generator.SAMPLES),
    conda:
        "../envs/data.yaml"
    threads: 1
    params:
        seed=stage_seed(SEED_OFFSETS["generate"]),
        settings=ntuple_generate_settings,
        yields=ntuple_yield_specs,
    script:
        "../scripts/generate_ntuple_chunk.py"


rule merge_generated_ntuples:
    input:
        chunks=generated_ntuple_chunks,
    output:
        root="resources/{dataset}/generated/ntuples/{sample}.root",
    log:
        "logs/{dataset}/merge_generated_ntuples/{sample}.log",
    benchmark:
        "results/benchmarks/{dataset}/merge_generated_ntuples/{sample}.tsv"
    wildcard_constraints:
        sample="|".join(ntuple_generator.SAMPLES),
    conda:
        "../envs/data.yaml"
    params:
        seed=stage_seed(SEED_OFFSETS["generate"]),
    script:
        "../scripts/merge_generated_ntuples.py"
