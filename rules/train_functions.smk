# Constants, names and input functions of the training stage (rules in rules/train.smk);
# the evaluation stage (rules/evaluate_functions.smk) and the guided search
# (rules/guided_functions.smk) reuse its names and split inputs.
# Kept apart from the rules: snakemake --lint wants functions and rules in separate files.
# A result name is the feature set for its primary model and
# "{feature_set}-{model}" for the others (docs/architecture.md), e.g. hl and hl-bdt.
# Every rule's params carry exactly what its script reads (so that editing one config block
# reruns only the rules that read it), and its inputs are exactly the files it reads.

from hepml.settings import SEED_OFFSETS, TREE_MODELS, FeatureSet, TrainingSettings, config_keys

TRAINING_THREADS = int(config["training"].get("threads", TrainingSettings.threads))
# Rules that run networks use the GPU TensorFlow env when the config asks for a GPU
# (config/cluster.yaml sets training.require_gpu), the CPU one otherwise (docs/cluster.md).
NETWORK_ENV = (
    "../envs/train-gpu.yaml" if config["training"].get("require_gpu") else "../envs/train.yaml"
)
# The keys of the training block the network rules read (the BDT reads training.bdt only).
NETWORK_TRAINING_KEYS = config_keys(TrainingSettings, sections=False)


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
    """train/valid arrays of a flat feature set (the test split is scored by score_model);
    {tree} is bdt or gbdt (LightGBM, model.txt)."""
    dataset, feature_set, tree = wildcards.dataset, wildcards.feature_set, wildcards.tree
    if tree not in feature_set_settings(dataset, feature_set).models:
        raise ValueError(
            f"{feature_set}-{tree}: datasets.{dataset}.feature_sets.{feature_set}.models "
            f"does not list {tree}"
        )
    return {
        **split_inputs(dataset, feature_set, "train"),
        **split_inputs(dataset, feature_set, "valid"),
    }


def model_dir(dataset, name):
    """results/{dataset}/models/{name}"""
    return f"results/{dataset}/models/{name}"


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
            **ntuple_weights_param(dataset),
        }
    )


def tune_model_params(wildcards):
    """What tune_model reads: the feature set, the network keys of training, tuning, seed."""
    params = train_model_params(wildcards)
    params.pop("checkpoint_dir")
    params["tuning"] = tuning_config()
    params["seed"] = stage_seed(SEED_OFFSETS["tuning"])
    return canonical(params)


def secondary_network_params(wildcards):
    """What train_model reads for a network that follows the primary one ({feature_set}-
    {network}, e.g. low-shallow): train_model_params, the model, its own checkpoints."""
    params = train_model_params(wildcards)
    name = f"{wildcards.feature_set}-{wildcards.network}"
    params["model"] = wildcards.network
    params["checkpoint_dir"] = f"results/{wildcards.dataset}/checkpoints/{name}"
    return canonical(params)


def train_bdt_params(wildcards):
    """What train_bdt reads: the feature set, the model ({tree}: bdt or gbdt), its
    training.<tree> block and the BDT seed."""
    tree = wildcards.tree
    return canonical(
        {
            "feature_set": feature_set_param(wildcards.dataset, wildcards.feature_set),
            "model": tree,
            tree: dict(config["training"].get(tree) or {}),
            "seed": stage_seed(SEED_OFFSETS["bdt"]),
            **ntuple_weights_param(wildcards.dataset),
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
