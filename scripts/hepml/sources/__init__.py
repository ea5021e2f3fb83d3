"""Where events come from: seeded toy simulators (`simulate`) and Pythia 8 generators
(`pythia`: leptons, top jets). Downloads and published files are read by ``hepml.io``."""
