# Reproduces "Learning to Identify Electrons" (PRD 103, 116028) and "Learning to Isolate
# Muons" (JHEP 10 (2021) 200) end to end, and runs the same stages on boosted top jets (the
# top-tagging benchmark, arXiv:1902.09914; docs/jets.md). This file is the table of contents: the rules
# live in rules/, the logic in scripts/hepml/. See README.md.

import os

from snakemake.utils import min_version

min_version("9.0")


# config/config.yaml is the default. A file given with --configfile replaces it entirely
# (config/paper.yaml, config/tiny.yaml are complete configurations); --config KEY=VALUE
# overrides single keys of whichever file is in use.
if not workflow.config_settings.configfiles:

    configfile: os.path.join(workflow.basedir, "config", "config.yaml")


report: "report/workflow.rst"


include: "rules/common.smk"
include: "rules/data.smk"
include: "rules/generate.smk"
include: "rules/efp.smk"
include: "rules/train.smk"
include: "rules/evaluate.smk"
include: "rules/guided.smk"
include: "rules/muons.smk"
include: "rules/jets.smk"
include: "rules/tabular.smk"
include: "rules/ntuples.smk"
include: "rules/ntuple_figures.smk"


rule all:
    default_target: True
    input:
        all_targets(),
