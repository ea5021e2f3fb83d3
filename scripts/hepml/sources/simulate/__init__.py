"""Where events come from without a download: the seeded toy simulators of electrons/jets
(`simulate_electrons`) and prompt/non-prompt muons (`simulate_muons`), and the particle
deposits they share (`deposits`). They return arrays in the published layout;
``hepml.steps.data`` writes the files (``hepml.io.publish``). The Pythia 8 generator is
``hepml.sources.pythia``."""
