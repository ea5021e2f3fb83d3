# Constants and input functions of the guided search (rules in rules/guided.smk).
# Kept apart from the rules: snakemake --lint wants functions and rules in separate files.
# Scans, pass names, the checkpoint walk and the input functions of the guided search
# (docs/guided.md). A guided pass is the feature set guided_{scan}_pass{n}: train_model,
# score_model and evaluate_model serve it through feature_set_settings and split_result_name.

import functools
import json

from hepml.guided.names import (
    parse_pass_feature_set_name,
    pass_feature_set,
    pass_zero_is_start,
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


def pass_result_name(dataset, scan, pass_index):
    """The result name whose model, scores and metrics stand for one pass: pass 0 is the start
    set's own primary model when the two are the same model (guided.names.pass_zero_is_start:
    no second training of it), else guided_{scan}_pass{n}."""
    settings = guided_scan(dataset, scan)
    if pass_index == 0:
        start = feature_set_settings(dataset, settings.start)
        if pass_zero_is_start(settings, start, start_tuned=tuning_applies(settings.start)):
            return settings.start
    return settings.feature_set_name(pass_index)


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
    previous = pass_result_name(dataset, scan.name, pass_index - 1)
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
            f"results/{dataset}/metrics/{pass_result_name(dataset, scan, n)}.json" for n in passes
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
