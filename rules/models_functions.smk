# Input functions and names of the training and evaluation stages (rules/train.smk,
# rules/evaluate.smk). A result name is the feature set for its primary model and
# "{feature_set}-{model}" for the others (docs/architecture.md), e.g. hl and hl-bdt.
# Every rule's params carry exactly what its script reads (so that editing one config block
# reruns only the rules that read it), and its inputs are exactly the files it reads.

from hepml.settings import SEED_OFFSETS, FeatureSet, TrainingSettings

TRAINING_THREADS = int(config["training"].get("threads", TrainingSettings.threads))
# Rules that run networks use the GPU TensorFlow env when the config asks for a GPU
# (config/cluster.yaml sets training.require_gpu), the CPU one otherwise (docs/cluster.md).
NETWORK_ENV = (
    "../envs/train-gpu.yaml" if config["training"].get("require_gpu") else "../envs/train.yaml"
)
# The keys of the training block the network rules read (the BDT reads training.bdt only).
NETWORK_TRAINING_KEYS = (
    "batch_size",
    "epochs",
    "patience",
    "lr_factor",
    "lr_patience",
    "mixed_precision",
    "require_gpu",
    "threads",
)


EFP_LINEAR_NAME = plan.EFP_LINEAR_NAME  # the linear EFP model (rule train_efp_linear)


def feature_set_settings(dataset, feature_set):
    """The FeatureSet (settings dataclass) of one feature set, network defaults applied; a
    guided pass (guided_{scan}_pass{n}, rules/guided.smk) from its scan."""
    if is_guided_feature_set(dataset, feature_set):
        return FeatureSet.from_config(
            feature_set,
            guided_feature_set_config(dataset, feature_set),
            dataset_config(dataset).get("network_defaults"),
        )
    return plan.feature_set(dataset_config(dataset), feature_set)


def has_efp_linear(dataset):
    """Whether the dataset trains the linear EFP model (datasets.<name>.efp.linear)."""
    return plan.has_efp_linear(dataset_config(dataset))


def result_names(dataset):
    """Every trained model of a dataset, in config order: hl, hl-bdt, ..., efp-linear last."""
    return plan.result_names(dataset_config(dataset))


def split_result_name(dataset, name):
    """(feature set, model) of a result name; an unknown name stops the DAG."""
    if is_guided_feature_set(dataset, name):  # guided_{scan}_pass{n}: a DNN (rules/guided.smk)
        return name, "nn"
    return plan.split_result_name(dataset_config(dataset), name)


def tuning_config():
    """The `tuning` block (disabled when absent)."""
    return config.get("tuning") or {"enabled": False}


def tuning_applies(feature_set):
    """Whether train_model uses an optuna search result for this feature set."""
    tuning = tuning_config()
    return bool(tuning.get("enabled")) and feature_set in (tuning.get("feature_sets") or [])


def split_inputs(dataset, feature_set, split):
    """The files one split of a feature set needs, as named inputs: {split: array files (its
    keys, y and weight)} plus, for a set with EFPs, the split's EFP table
    ({split}_efps: index.json, {split}_efp_chunks: its chunk directories)."""
    settings = feature_set_settings(dataset, feature_set)
    keys = list(dict.fromkeys([*settings.inputs, "y", "weight"]))
    inputs = {split: [f"results/{dataset}/feather/{split}/{key}.feather" for key in keys]}
    if settings.efps:
        inputs.update(efp_table_files(dataset, split))
    return inputs


def train_model_inputs(wildcards):
    """train/valid arrays of the feature set, and its tuning result when tuning applies."""
    dataset, feature_set = wildcards.dataset, wildcards.feature_set
    inputs = {
        **split_inputs(dataset, feature_set, "train"),
        **split_inputs(dataset, feature_set, "valid"),
    }
    if tuning_applies(feature_set):
        inputs["tuned"] = f"results/{dataset}/tuning/{feature_set}.yaml"
    inputs.update(guided_feature_set_inputs(dataset, feature_set))
    return inputs


def tune_model_inputs(wildcards):
    """train/valid arrays of the feature set being tuned."""
    dataset, feature_set = wildcards.dataset, wildcards.feature_set
    return {
        **split_inputs(dataset, feature_set, "train"),
        **split_inputs(dataset, feature_set, "valid"),
    }


def train_bdt_inputs(wildcards):
    """train/valid arrays of a flat feature set (the test split is scored by score_model)."""
    dataset, feature_set = wildcards.dataset, wildcards.feature_set
    if "bdt" not in feature_set_settings(dataset, feature_set).models:
        raise ValueError(
            f"{feature_set}-bdt: datasets.{dataset}.feature_sets.{feature_set}.models "
            "does not list bdt"
        )
    return {
        **split_inputs(dataset, feature_set, "train"),
        **split_inputs(dataset, feature_set, "valid"),
    }


def model_dir(dataset, name):
    """results/{dataset}/models/{name}"""
    return f"results/{dataset}/models/{name}"


def score_model_inputs(wildcards):
    """A trained model (network: model.keras + preprocess.json; BDT: trees.npz) and the
    arrays of the split it scores."""
    dataset, name, split = wildcards.dataset, wildcards.name, wildcards.split
    feature_set, model = split_result_name(dataset, name)
    if model == "linear":
        return {**efp_linear_split_inputs(dataset, split), "linear": efp_linear_model(dataset)}
    if model == "bdt":
        inputs = {"trees": f"{model_dir(dataset, name)}/trees.npz"}
    else:
        inputs = {
            "model": f"{model_dir(dataset, name)}/model.keras",
            "preprocess": f"{model_dir(dataset, name)}/preprocess.json",
        }
    inputs.update(split_inputs(dataset, feature_set, split))
    inputs.update(guided_feature_set_inputs(dataset, feature_set))
    return inputs


def feature_set_param(dataset, feature_set):
    """The resolved feature set (inputs, EFPs, models, network with defaults applied)."""
    return feature_set_settings(dataset, feature_set).to_dict()


def train_model_params(wildcards):
    """What train_model reads: the feature set, the network keys of training, its seed and
    where it checkpoints (not an output: a killed job's rerun resumes from it)."""
    dataset, feature_set = wildcards.dataset, wildcards.feature_set
    return canonical(
        {
            "feature_set": feature_set_param(dataset, feature_set),
            "training": {
                key: config["training"][key]
                for key in NETWORK_TRAINING_KEYS
                if key in config["training"]
            },
            "seed": stage_seed(SEED_OFFSETS["training"]),
            "checkpoint_dir": f"results/{dataset}/checkpoints/{feature_set}",
        }
    )


def tune_model_params(wildcards):
    """What tune_model reads: the feature set, the network keys of training, tuning, seed."""
    params = train_model_params(wildcards)
    params.pop("checkpoint_dir")
    params["tuning"] = tuning_config()
    params["seed"] = stage_seed(SEED_OFFSETS["tuning"])
    return canonical(params)


def train_bdt_params(wildcards):
    """What train_bdt reads: the feature set, training.bdt and the BDT seed."""
    return canonical(
        {
            "feature_set": feature_set_param(wildcards.dataset, wildcards.feature_set),
            "bdt": dict(config["training"].get("bdt") or {}),
            "seed": stage_seed(SEED_OFFSETS["bdt"]),
        }
    )


def score_model_params(wildcards):
    """What score_model reads: the feature set and the model kind."""
    feature_set, model = split_result_name(wildcards.dataset, wildcards.name)
    if model == "linear":  # its EFP names are in the model file
        return {"feature_set": {"name": EFP_LINEAR_NAME, "inputs": []}, "model": model}
    return canonical(
        {"feature_set": feature_set_param(wildcards.dataset, feature_set), "model": model}
    )


def evaluate_model_inputs(wildcards):
    """Test-split scores of one model and its training record."""
    split_result_name(wildcards.dataset, wildcards.name)  # validates the name
    return {
        "scores": f"results/{wildcards.dataset}/scores/{wildcards.name}/test.feather",
        "info": f"{model_dir(wildcards.dataset, wildcards.name)}/train_info.json",
    }


def evaluate_params(wildcards):
    """Evaluation settings, bootstrap seed and the model's identity."""
    feature_set, model = split_result_name(wildcards.dataset, wildcards.name)
    return canonical(
        {
            "evaluation": config["evaluation"],
            "seed": stage_seed(SEED_OFFSETS["bootstrap"]),
            "name": wildcards.name,
            "feature_set": feature_set,
            "model": model,
        }
    )


def dataset_metrics_files(wildcards):
    """Metrics of every model of a dataset, in config order."""
    return [
        f"results/{wildcards.dataset}/metrics/{name}.json"
        for name in result_names(wildcards.dataset)
    ]


def dataset_prediction_files(wildcards):
    """Test scores of every model of a dataset, in config order."""
    return [
        f"results/{wildcards.dataset}/scores/{name}/test.feather"
        for name in result_names(wildcards.dataset)
    ]


def summary_params(wildcards):
    """Paper AUCs shown next to ours, the efficiencies of the rejection columns, the names."""
    return canonical(
        {
            "paper_reference": dataset_config(wildcards.dataset).get("paper_reference") or {},
            "signal_efficiencies": list(config["evaluation"]["signal_efficiencies"]),
            "names": result_names(wildcards.dataset),
        }
    )


def history_label(wildcards):
    """Report labels of a training-curve figure."""
    feature_set, model = split_result_name(wildcards.dataset, wildcards.name)
    return {"dataset": wildcards.dataset, "feature set": feature_set, "model": model}


def training_targets():
    """Training curves of every model of every dataset (the models come with them); the
    linear EFP model has no epochs, its history.csv lists the shrinkages tried."""
    return [
        f"results/{dataset}/models/{name}/history.png"
        for dataset in DATASETS
        for name in result_names(dataset)
        if name != EFP_LINEAR_NAME
    ]


def efp_linear_model(dataset):
    """The fitted linear EFP model of a dataset."""
    return f"{model_dir(dataset, EFP_LINEAR_NAME)}/linear.npz"


def efp_linear_split_inputs(dataset, split):
    """y and weight of a split and its EFP table (the model reads every kept EFP)."""
    return {
        split: [feather_file(dataset, split, key) for key in ("y", "weight")],
        **efp_table_files(dataset, split),
    }


def train_efp_linear_inputs(wildcards):
    """kept.txt and the train/valid labels, weights and EFP tables."""
    if not has_efp_linear(wildcards.dataset):
        raise ValueError(f"{EFP_LINEAR_NAME}: datasets.{wildcards.dataset}.efp.linear is not set")
    return {
        "kept": f"results/{wildcards.dataset}/efp/kept.txt",
        **efp_linear_split_inputs(wildcards.dataset, "train"),
        **efp_linear_split_inputs(wildcards.dataset, "valid"),
    }


def train_efp_linear_params(wildcards):
    """The efp.linear block (the shrinkages the validation split chooses among)."""
    return canonical({"linear": dict(efp_config(wildcards.dataset)["linear"] or {})})


def evaluation_targets():
    """Metrics of every model, the AUC table (csv + md) and the ROC overlays per dataset."""
    targets = []
    for dataset in DATASETS:
        targets += [f"results/{dataset}/metrics/{name}.json" for name in result_names(dataset)]
        targets += expand(
            "results/{dataset}/summary/{file}",
            dataset=dataset,
            file=["auc_table.csv", "auc_table.md", "roc.svg", "rejection.svg"],
        )
    return targets


# --- guided search (rules/guided.smk) ---
# Scans, pass names, the checkpoint walk and the input functions of the guided search
# (docs/guided.md). A guided pass is the feature set guided_{scan}_pass{n}: train_model,
# score_model and evaluate_model serve it through feature_set_settings and split_result_name.

import functools
import json

from hepml.guided.names import (
    parse_pass_feature_set_name,
    pass_feature_set,
    scans_from_config,
)


@functools.cache
def guided_scans(dataset):
    """ScanSettings of every scan of a dataset, by name ({} without a guided block)."""
    return scans_from_config(dataset_config(dataset), config["seed"])


def guided_scan(dataset, scan):
    """One scan's settings; an unknown scan stops the DAG naming the config key."""
    scans = guided_scans(dataset)
    if scan not in scans:
        raise ValueError(
            f"scan {scan!r} is not in datasets.{dataset}.guided.scans (known: {sorted(scans)})"
        )
    return scans[scan]


def guided_pass(dataset, feature_set):
    """(ScanSettings, pass) when feature_set is guided_{scan}_pass{n} of a configured scan."""
    parsed = parse_pass_feature_set_name(feature_set)
    if parsed is None or parsed[0] not in guided_scans(dataset):
        return None
    scan, pass_index = guided_scans(dataset)[parsed[0]], parsed[1]
    if pass_index > scan.max_passes:
        raise ValueError(
            f"{feature_set}: pass {pass_index} is beyond datasets.{dataset}.guided max_passes "
            f"({scan.max_passes}) of scan {scan.name!r}"
        )
    return scan, pass_index


# feature_set_config, split_result_name, train_model_inputs and score_model_inputs (above)
# call is_guided_feature_set and guided_feature_set_inputs.
def is_guided_feature_set(dataset, feature_set):
    """Whether a feature-set name is a pass of one of the dataset's guided scans."""
    return guided_pass(dataset, feature_set) is not None


def pass_dir(dataset, scan, pass_index):
    """results/{dataset}/guided/{scan}/pass{n}"""
    return f"results/{dataset}/guided/{scan}/pass{pass_index}"


def selection_outputs(dataset, scan, pass_index):
    """Outputs of select_next_efp for one pass (raises Snakemake's incomplete-checkpoint
    signal until the checkpoint has run, which makes the caller wait for it)."""
    wildcards = {"dataset": dataset, "scan": scan, "pass": str(pass_index)}
    return checkpoints.select_next_efp.get(**wildcards).output


def read_choice(dataset, scan, pass_index):
    """choice.json of one pass (after its checkpoint has run)."""
    with open(selection_outputs(dataset, scan, pass_index).choice) as handle:
        return json.load(handle)


def guided_feature_set_config(dataset, feature_set):
    """Config block (inputs, efps, models, network) of guided_{scan}_pass{n}.

    Pass 0 comes from the config (the start set's inputs, the scan's network); pass n >= 1
    from the feature_set.json that select_next_efp wrote, so train_model and score_model see
    the EFPs chosen so far.
    """
    scan, pass_index = guided_pass(dataset, feature_set)
    if pass_index == 0:
        start = feature_set_settings(dataset, scan.start)
        values = pass_feature_set(scan, start, 0, []).to_dict()
    else:
        choice = read_choice(dataset, scan.name, pass_index)
        if choice["stop"]:
            raise ValueError(
                f"{feature_set}: scan {scan.name!r} stopped at pass {pass_index} "
                f"({choice['stop_reason']}); this pass trains no model"
            )
        with open(selection_outputs(dataset, scan.name, pass_index).feature_set) as handle:
            values = json.load(handle)
    values.pop("name")
    return values


def guided_feature_set_inputs(dataset, feature_set):
    """{'guided_feature_set': feature_set.json} for a guided pass n >= 1, else {}.

    train_model and score_model list it as an input so that their params may read it and so
    that a new choice retrains the pass.
    """
    found = guided_pass(dataset, feature_set)
    if found is None or found[1] == 0:
        return {}
    scan, pass_index = found
    return {"guided_feature_set": f"{pass_dir(dataset, scan.name, pass_index)}/feature_set.json"}


def guided_trained_passes(dataset, scan):
    """Passes 0..n that train a model: walks the select_next_efp checkpoints in order and
    stops at the first whose choice is "stop" (or at max_passes)."""
    settings = guided_scan(dataset, scan)
    passes = [0]
    for pass_index in range(1, settings.max_passes + 1):
        if read_choice(dataset, scan, pass_index)["stop"]:
            break
        passes.append(pass_index)
    return passes


def guided_stop_choice(dataset, scan, passes):
    """{'stop': choice.json} of the pass that ended the scan ({} when it ran to max_passes)."""
    last = passes[-1]
    if last >= guided_scan(dataset, scan).max_passes:
        return {}
    return {"stop": f"{pass_dir(dataset, scan, last + 1)}/choice.json"}


# ------------------------------------------------------------------------ input functions
def select_next_efp_inputs(wildcards):
    """Validation scores of the pass n-1 model and of the black box, the validation EFP table,
    the kept EFP names and the previous choice: only the validation split (valid chooses)."""
    dataset, pass_index = wildcards.dataset, int(wildcards["pass"])
    scan = guided_scan(dataset, wildcards.scan)
    if pass_index > scan.max_passes:
        raise ValueError(
            f"pass {pass_index} of scan {scan.name!r} is beyond max_passes {scan.max_passes}"
        )
    previous = scan.feature_set_name(pass_index - 1)
    inputs = {
        "model_scores": f"results/{dataset}/scores/{previous}/valid.feather",
        "black_box_scores": f"results/{dataset}/scores/{scan.black_box}/valid.feather",
        **efp_table_files(dataset, "valid"),
        "kept": f"results/{dataset}/efp/kept.txt",
    }
    if pass_index > 1:
        inputs["previous_choice"] = f"{pass_dir(dataset, scan.name, pass_index - 1)}/choice.json"
    return inputs


def select_next_efp_params(wildcards):
    """The scan's settings, the pass n feature set without its new EFP, the storage block."""
    dataset, pass_index = wildcards.dataset, int(wildcards["pass"])
    scan = guided_scan(dataset, wildcards.scan)
    start = feature_set_settings(dataset, scan.start)
    return canonical(
        {
            "pass": pass_index,
            "candidates": scan.candidates,
            "n_pairs": scan.n_pairs,
            "max_passes": scan.max_passes,
            "seed": scan.seed,
            "feature_set": pass_feature_set(scan, start, pass_index, []).to_dict(),
            "storage": dict(efp_config(dataset).get("storage") or {}),
        }
    )


def summarise_scan_inputs(wildcards):
    """Choices and pair summaries of the passes that added an EFP, metrics of every trained
    pass (0..n), the choice that stopped the scan, the single-EFP AUCs, and the metrics of
    the black box and of the start set."""
    dataset, scan = wildcards.dataset, wildcards.scan
    passes = guided_trained_passes(dataset, scan)
    settings = guided_scan(dataset, scan)
    return {
        "choices": [f"{pass_dir(dataset, scan, n)}/choice.json" for n in passes[1:]],
        "pairs": [f"{pass_dir(dataset, scan, n)}/pairs.json" for n in passes[1:]],
        "metrics": [
            f"results/{dataset}/metrics/{settings.feature_set_name(n)}.json" for n in passes
        ],
        **guided_stop_choice(dataset, scan, passes),
        "single_auc": f"results/{dataset}/efp/single_auc_test.csv",
        "black_box_metrics": f"results/{dataset}/metrics/{settings.black_box}.json",
        "start_metrics": f"results/{dataset}/metrics/{settings.start}.json",
    }


def summarise_scan_params(wildcards):
    """The names of the scan's black box and start set."""
    settings = guided_scan(wildcards.dataset, wildcards.scan)
    return {"black_box": settings.black_box, "start": settings.start}


def plot_guided_inputs(wildcards):
    """Per scan its table and the rankings and choices of its EFP passes; the metrics of the
    black boxes and of the start sets (the reference lines)."""
    dataset = wildcards.dataset
    inputs = {}
    references = []
    for scan, settings in guided_scans(dataset).items():
        passes = guided_trained_passes(dataset, scan)[1:]
        inputs[f"table_{scan}"] = f"results/{dataset}/guided/{scan}/table.csv"
        inputs[f"ranking_{scan}"] = [f"{pass_dir(dataset, scan, n)}/ranking.csv" for n in passes]
        inputs[f"choice_{scan}"] = [f"{pass_dir(dataset, scan, n)}/choice.json" for n in passes]
        references += [settings.black_box, settings.start]
    for name in dict.fromkeys(references):
        inputs[f"metrics_{name}"] = f"results/{dataset}/metrics/{name}.json"
    return inputs


def plot_guided_params(wildcards):
    """Scan names, and which metrics are black boxes and which start sets."""
    scans = guided_scans(wildcards.dataset)
    return {
        "scans": list(scans),
        "black_boxes": list(dict.fromkeys(s.black_box for s in scans.values())),
        "starts": list(dict.fromkeys(s.start for s in scans.values())),
    }


def scan_labels(wildcards):
    """Report labels of a scan's table."""
    return {"dataset": wildcards.dataset, "scan": wildcards.scan, "figure": "table of passes"}


def guided_targets():
    """Per dataset with scans: each scan's table (csv + md) and the three figures."""
    targets = []
    for dataset in DATASETS:
        scans = guided_scans(dataset)
        if not scans:
            continue
        for scan in scans:
            targets += [f"results/{dataset}/guided/{scan}/table.{ext}" for ext in ("csv", "md")]
        targets += [
            f"results/{dataset}/guided/{figure}.png"
            for figure in ("auc_vs_pass", "ado_histograms", "chosen_graphs")
        ]
    return targets


# --- datasets of one kind side by side (rule compare_datasets, rules/evaluate.smk) ---


def comparison_tables(wildcards):
    """The AUC tables of the datasets of one kind, in config order."""
    datasets = datasets_of_kind(wildcards.kind)
    if len(datasets) < 2:
        raise ValueError(
            f"results/compare/{wildcards.kind}/: comparing needs two datasets of kind "
            f"{wildcards.kind!r}; the config has {datasets}"
        )
    return [f"results/{dataset}/summary/auc_table.csv" for dataset in datasets]


def comparison_targets():
    """The comparison table and figure of every kind with two or more datasets."""
    return [
        f"results/compare/{kind}/{file}"
        for kind in plan.compared_kinds(config)
        for file in ("auc_table.csv", "auc_table.md", "auc.png")
    ]


# --- the results document (rule write_results, rules/evaluate.smk) ---
def results_tables(wildcards):
    """Every markdown table of the run: AUC, top-tagging, Higgs-benchmark, guided-scan and
    comparison tables."""
    paths = evaluation_targets() + guided_targets() + comparison_targets() + jets_targets()
    paths += tabular_targets()
    return [path for path in paths if path.endswith(".md")]


def results_figures(wildcards):
    """The figures the results document links to."""
    paths = evaluation_targets() + guided_targets() + jets_targets() + tabular_targets()
    return [path for path in paths if path.endswith((".svg", ".png"))]


def results_params(wildcards):
    """The stamp of the document: the datasets with their kinds and the resolved configuration
    (canonical, so reordering keys or renaming the config file rewrites nothing)."""
    return {
        "datasets": [[name, dataset_kind(name)] for name in DATASETS],
        "config": canonical(config),
    }
