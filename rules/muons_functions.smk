# Constants and the target list of the muon extras (rules/muons.smk; docs/muons.md).

MUON_DATASETS = datasets_of_kind("muons")


def muon_targets():
    """The radial ET profile (figure and table) of every muon dataset."""
    return [
        path
        for dataset in MUON_DATASETS
        for path in (
            f"results/{dataset}/plots/radial_profile.png",
            f"results/{dataset}/data/radial_profile.csv",
        )
    ]
