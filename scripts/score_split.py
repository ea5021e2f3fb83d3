"""Rules predict_model and score_split: scores of a trained network (columns y, score, weight).

predict_model scores the test split (the final numbers); score_split any split named by its
{split} wildcard (the guided search draws its pairs on valid). Same preprocessing (fitted on
train, read from preprocess.json) and prediction code: :func:`leptonid.training.predict_split`.
"""

import logging

snakemake = snakemake  # noqa: F821 (injected by Snakemake's script: directive)
logging.basicConfig(
    filename=snakemake.log[0],
    level=logging.INFO,
    format="%(asctime)s %(levelname)s %(name)s: %(message)s",
)

from leptonid import training  # noqa: E402 (after the log is set up)
from leptonid.io import write_table  # noqa: E402
from leptonid.settings import FeatureSet  # noqa: E402

settings = snakemake.params.settings
scores = training.predict_split(
    model_path=str(snakemake.input.model),
    preprocess_path=str(snakemake.input.preprocess),
    feather_dir=str(settings["feather_dir"]),
    feature_set=FeatureSet.from_config(
        str(settings["feature_set"]), settings["feature_set_config"], settings["network_defaults"]
    ),
    split=str(snakemake.wildcards.get("split", "test")),
    efp_dir=str(settings["efp_dir"]),
    threads=int(snakemake.threads),
)
write_table(scores, snakemake.output[0])
