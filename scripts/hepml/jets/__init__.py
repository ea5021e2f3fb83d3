"""Boosted hadronic top jets against QCD jets: the community top-tagging benchmark.

The third analysis of the project follows the top-tagging comparison of Kasieczka, Plehn et
al., "The Machine Learning landscape of top taggers", arXiv:1902.09914 (sec. 2): 14 TeV
collisions, anti-kT R = 0.8 jets with 550 < pT < 650 GeV and |eta| < 2, up to 200 constituents
per jet, top jets matched to a parton-level top and its three decay quarks within
Delta R = 0.8.  Frames and units throughout: the detector frame, z along the beam, energies
and momenta in GeV, angles in radians, eta the pseudorapidity.

Modules:

* :mod:`~hepml.jets.preprocess`: constituents to (pT, eta, phi), jet four-momenta, the
  40 x 40 jet images of the CNN taggers and the (pT fraction, delta eta, delta phi) inputs
  of particle-flow and energy-flow networks;
* :mod:`~hepml.jets.substructure`: jet mass, N-subjettiness ratios tau_21 and tau_32 with
  exclusive-kT axes, constituent multiplicity;
* :mod:`~hepml.sources.pythia.jets`: the ``generate`` data source of this kind, Pythia 8 ttbar
  and QCD dijets through the project's calorimeter model, clustered with FastJet.

The benchmark's published files (pandas HDF5, key ``table``) are read in row blocks and
written by :mod:`hepml.io.jets`, in the I/O layer: no module of this package touches files.

FastJet (``fastjet``) is imported inside the functions that need it, so that importing this
package stays light.
"""
