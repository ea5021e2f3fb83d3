"""The published layout of the electron data (docs/reference.md section 1, "Published data").

Every top-level key of a published ``data.h5`` / ``unscaled_data.h5`` is a group holding the
datasets ``train``, ``valid`` and ``test`` (read as ``f["et/train"]``); :data:`ELECTRONS` maps
each *unpacked* key (the names downstream rules use, docs/architecture.md) to the published
group it comes from:

========  ===============================  ======================  ====================
key       published group(s)               per-event shape (file)  written as
========  ===============================  ======================  ====================
et, ee    et, ee                           (31, 31, 1)             as published
ht, he    ht, he                           (32, 32, 1)             as published
hl        hl                               (7,)                    as published
mass      mass                             (1,)                    as published
y         y (1 = electron, 0 = jet)        ()                      int8
weight    none: the file has no weights    -                       float64 ones
========  ===============================  ======================  ====================

Electron files keep signal and background in the same arrays, in file order.
"""

from __future__ import annotations

from hepml.geometry import ECAL, HCAL
from hepml.io.layouts import CANDIDATE, IMAGE_BOUNDS, Bound, KeyLayout, PublishedLayout

_ECAL_IMAGE = (*ECAL.shape, 1)
_HCAL_IMAGE = (*HCAL.shape, 1)


# The 7 HL features (docs/reference.md "The 7 high-level features", in file order): ratios of
# non-negative sums, RMS widths inside their windows, isolation sums of ECal energy.
_HL_BOUNDS = (
    Bound("R_had", low=0.0, column=0),
    # an RMS of eta positions inside a 3-cell window is at most half its width, whatever
    # point of a cell its eta stands for (published values reach 0.025, one cell)
    Bound("w_eta2", low=0.0, high=1.5 * ECAL.d_eta, column=1),
    Bound("R_phi", low=0.0, column=2),
    Bound("R_eta", low=0.0, column=3),
    Bound("sigma_eta_eta", low=0.0, high=2.0, column=4),  # RMS distance within +-2 cells
    Bound("iso_03", low=0.0, high=CANDIDATE, column=5),
    Bound("iso_04", low=0.0, high=CANDIDATE, column=6),
)

ELECTRONS = PublishedLayout(
    kind="electrons",
    classes=("all",),
    keys={
        "et": KeyLayout(groups=("et",), shapes=(_ECAL_IMAGE,), image=True, bounds=IMAGE_BOUNDS),
        "ee": KeyLayout(groups=("ee",), shapes=(_ECAL_IMAGE,), image=True, bounds=IMAGE_BOUNDS),
        "ht": KeyLayout(groups=("ht",), shapes=(_HCAL_IMAGE,), image=True, bounds=IMAGE_BOUNDS),
        "he": KeyLayout(groups=("he",), shapes=(_HCAL_IMAGE,), image=True, bounds=IMAGE_BOUNDS),
        "hl": KeyLayout(groups=("hl",), shapes=((7,),), bounds=_HL_BOUNDS),
        "mass": KeyLayout(
            groups=("mass",), shapes=((1,),), bounds=(Bound("mass", low=0.0, high=CANDIDATE),)
        ),
        "y": KeyLayout(groups=("y",), shapes=((),), dtype="int8", label=True),
        # docs/reference.md 1: the published electron data carries no per-event weights.
        "weight": KeyLayout(constants=(1.0,), dtype="float64"),
    },
    shuffle=False,
    scaled_names=("data.h5",),
)
