"""Files <-> `Volume`: NIfTI, NRRD, DICOM series, HDF5 case stores, LiTS folders.

NumPy, nibabel, pydicom and h5py only; this package never imports TensorFlow.
"""

from keras_liver.io.case_store import CaseStore
from keras_liver.io.case_store_writer import CaseStoreWriter
from keras_liver.io.dicom import list_dicom_series, read_dicom_series
from keras_liver.io.lits_case import LiTSCase, as_label_array, find_lits_cases, load_case
from keras_liver.io.loader import load_volume, save_volume
from keras_liver.io.nifti import read_nifti, write_nifti
from keras_liver.io.nrrd import read_nrrd, write_nrrd
from keras_liver.io.orientation import orientation_code, reorient
from keras_liver.io.volume import Volume, spacing_from_affine

__all__ = [
    "CaseStore",
    "CaseStoreWriter",
    "LiTSCase",
    "Volume",
    "as_label_array",
    "find_lits_cases",
    "list_dicom_series",
    "load_case",
    "load_volume",
    "orientation_code",
    "read_dicom_series",
    "read_nifti",
    "read_nrrd",
    "reorient",
    "save_volume",
    "spacing_from_affine",
    "write_nifti",
    "write_nrrd",
]
