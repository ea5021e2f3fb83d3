"""Built-in data from an event generator: Pythia 8 collisions through a parametrised calorimeter.

The ``generate`` data source (docs/generator.md) replaces the hand-written stand-ins of
:mod:`hepml.sources.simulate.electrons` and :mod:`hepml.sources.simulate.muons` by events that
nobody here wrote or tuned: Pythia 8 (``pythia8mc``) makes the collisions, hadronisation, the
underlying event and the decays; :mod:`~hepml.sources.pythia.calorimeter` turns the stable
particles into calorimeter towers the way Delphes' SimpleCalorimeter does with the numbers of
the Delphes ATLAS card; the images, their centring and the HL features come from the same
library functions the toy simulators use, and the files are written in the published layout.

Modules:

* :mod:`~hepml.sources.pythia.pythia`: Pythia set-up (seeded), stable particles as arrays,
  where a muon came from;
* :mod:`~hepml.sources.pythia.calorimeter`: solenoid propagation, energy fractions, towers,
  resolution and thresholds;
* :mod:`~hepml.sources.pythia.pileup`: a minimum-bias library per chunk, overlaid like Delphes'
  PileUpMerger;
* :mod:`~hepml.sources.pythia.electrons`, :mod:`~hepml.sources.pythia.muons`: candidates, images and
  published arrays of one chunk; merging chunks into the published files;
* :mod:`~hepml.sources.pythia.chunks`: the per-chunk HDF5 files.
"""
