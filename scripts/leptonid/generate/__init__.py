"""Built-in data from an event generator: Pythia 8 collisions through a parametrised calorimeter.

The ``generate`` data source (docs/generator.md) replaces the hand-written stand-ins of
:mod:`leptonid.data.simulate_electrons` and :mod:`leptonid.data.simulate_muons` by events that
nobody here wrote or tuned: Pythia 8 (``pythia8mc``) makes the collisions, hadronisation, the
underlying event and the decays; :mod:`~leptonid.generate.calorimeter` turns the stable
particles into calorimeter towers the way Delphes' SimpleCalorimeter does with the numbers of
the Delphes ATLAS card; the images, their centring and the HL features come from the same
library functions the toy simulators use, and the files are written in the published layout.

Modules:

* :mod:`~leptonid.generate.pythia`: Pythia set-up (seeded), stable particles as arrays,
  where a muon came from;
* :mod:`~leptonid.generate.calorimeter`: solenoid propagation, energy fractions, towers,
  resolution and thresholds;
* :mod:`~leptonid.generate.pileup`: a minimum-bias library per chunk, overlaid like Delphes'
  PileUpMerger;
* :mod:`~leptonid.generate.electrons`, :mod:`~leptonid.generate.muons`: candidates, images and
  published arrays of one chunk; merging chunks into the published files;
* :mod:`~leptonid.generate.chunks`: the per-chunk HDF5 files.
"""
