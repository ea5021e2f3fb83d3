"""One function per rule, named after it: reads the rule's declared inputs (through the I/O
layer: ``hepml.io``, ``hepml.io.efp_store``, ``hepml.io.dataset``), calls the pure domain
code, writes the rule's outputs. One module per rules file: data, efp, models (train.smk and
score_model), evaluate, guided, muons. Nothing below this layer imports it; the map of rules to
functions is docs/architecture.md."""
