"""Realistic synthetic CT and 4D DCE-MRI liver phantoms with exact ground truth.

NumPy and SciPy only; deterministic from a seed. See `ct_case` and
`dce_case` for the models and their parameter tables.
"""

from keras_liver.phantoms.anatomy import Tissue
from keras_liver.phantoms.ct import HU_RANGES, ct_case
from keras_liver.phantoms.datasets import write_ct_dataset, write_dce_dataset
from keras_liver.phantoms.dce import LESION_CLASSES, dce_case
from keras_liver.phantoms.kinetics import parker_aif, spgr_signal
from keras_liver.phantoms.phantom_case import PhantomCase
from keras_liver.phantoms.variety import Variety

__all__ = [
    "HU_RANGES",
    "LESION_CLASSES",
    "PhantomCase",
    "Tissue",
    "Variety",
    "ct_case",
    "dce_case",
    "parker_aif",
    "spgr_signal",
    "write_ct_dataset",
    "write_dce_dataset",
]
