"""The published layout of the muon data (docs/reference.md section 2, "Published data").

Every top-level key of a published file is a group holding the datasets ``train``, ``valid``
and ``test``; :data:`MUONS` maps each *unpacked* key to the published groups it comes from,
signal then background:

========  ===============================  ======================  ====================
key       published group(s)               per-event shape (file)  written as
========  ===============================  ======================  ====================
images    images_signal, images_bg         (32, 32) or (32, 32, 1) (32, 32, 1)
iso       iso_signal, iso_bg               (n_cones,)              as published
weight    weights_signal, weights_bg       ()                      float64
pt        pt_signal, pt_bg (optional)      () or (1,)              (1,)
y         none: 1 for signal, 0 for bg     -                       int8
========  ===============================  ======================  ====================

Muon files store signal and background separately: each unpacked muon key is the signal rows
followed by the background rows, shuffled by :func:`hepml.io.layouts.shuffle_permutation`
(seeded from the config seed and the split name, so it is the same permutation for every key
of a split).
"""

from __future__ import annotations

from hepml.geometry import MUON
from hepml.io.layouts import BEAM, IMAGE_BOUNDS, Bound, KeyLayout, PublishedLayout

MUONS = PublishedLayout(
    kind="muons",
    classes=("signal", "background"),
    keys={
        "images": KeyLayout(
            groups=("images_signal", "images_bg"),
            shapes=(MUON.shape, (*MUON.shape, 1)),
            out_shape=(*MUON.shape, 1),
            image=True,
            bounds=IMAGE_BOUNDS,
        ),
        "iso": KeyLayout(
            groups=("iso_signal", "iso_bg"),
            shapes=((None,),),
            bounds=(Bound("isolation", low=0.0),),  # cone ET sums (over the muon pT)
        ),
        "weight": KeyLayout(
            groups=("weights_signal", "weights_bg"),
            shapes=((),),
            dtype="float64",
            # pT reweighting: 0 where the signal has no events at that pT, never negative
            bounds=(Bound("weight", low=0.0),),
        ),
        "pt": KeyLayout(
            groups=("pt_signal", "pt_bg"),
            shapes=((), (1,)),
            out_shape=(1,),
            bounds=(Bound("muon pT", low=0.0, high=BEAM, positive=True),),
        ),
        # docs/reference.md 2: signal and background are stored apart; the workflow builds labels.
        "y": KeyLayout(constants=(1, 0), dtype="int8", label=True),
    },
    shuffle=True,
)
