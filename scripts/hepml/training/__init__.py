"""Training: input scaling fitted on train (`preprocess`), the network fit loop with checkpoints
and resume (`fit`), the BDT baseline and its trees as arrays (`bdt`), the optional optuna
search (`tuning`). The rules' files are ``hepml.steps.models``."""
