"""Test helpers importable from any test module (pytest.ini puts tests/ on the path)."""

import pathlib

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import CTImageStorage, ExplicitVRLittleEndian, generate_uid

REAL = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"
TOTALSEG = REAL / "totalsegmentator"
DCMQI = REAL / "dcmqi"


def write_dicom_series(folder, array, spacing=(2.0, 0.8, 0.7), iop=(1, 0, 0, 0, 1, 0), origin=(-50.0, -40.0, 10.0),
                       slope=1.0, intercept=-1024.0, series_uid=None, positions=None, names=None,
                       thickness=5.0, description="test series"):
    """Write ``array`` (z, y, x) of stored values as a single-frame CT series.

    Slice n lies at ``origin + n * spacing[0] * normal`` unless ``positions``
    gives them. Files are named in reverse order so sorting by name is wrong.
    """
    folder = pathlib.Path(folder)
    folder.mkdir(parents=True, exist_ok=True)
    series_uid = series_uid or generate_uid()
    study_uid = generate_uid()
    iop = np.asarray(iop, dtype=float)
    normal = np.cross(iop[:3], iop[3:])
    n = array.shape[0]
    if positions is None:
        positions = [np.asarray(origin) + k * spacing[0] * normal for k in range(n)]
    paths = []
    for k in range(n):
        meta = FileMetaDataset()
        meta.MediaStorageSOPClassUID = CTImageStorage
        meta.MediaStorageSOPInstanceUID = generate_uid()
        meta.TransferSyntaxUID = ExplicitVRLittleEndian
        ds = Dataset()
        ds.file_meta = meta
        ds.SOPClassUID = CTImageStorage
        ds.SOPInstanceUID = meta.MediaStorageSOPInstanceUID
        ds.StudyInstanceUID = study_uid
        ds.SeriesInstanceUID = series_uid
        ds.SeriesDescription = description
        ds.Modality = "CT"
        ds.InstanceNumber = k + 1
        ds.ImageOrientationPatient = [float(v) for v in iop]
        ds.ImagePositionPatient = [float(v) for v in positions[k]]
        ds.PixelSpacing = [float(spacing[1]), float(spacing[2])]
        ds.SliceThickness = thickness
        ds.Rows, ds.Columns = array.shape[1], array.shape[2]
        ds.SamplesPerPixel = 1
        ds.PhotometricInterpretation = "MONOCHROME2"
        ds.BitsAllocated = 16
        ds.BitsStored = 16
        ds.HighBit = 15
        ds.PixelRepresentation = 1
        ds.RescaleSlope = slope
        ds.RescaleIntercept = intercept
        ds.PixelData = np.ascontiguousarray(array[k].astype(np.int16)).tobytes()
        name = names[k] if names else f"slice{n - k:03d}.dcm"
        path = folder / name
        ds.save_as(path, enforce_file_format=True)
        paths.append(path)
    return paths


def ras_world(affine, index_zyx):
    """World position of (z, y, x) indices under a NIfTI affine (test oracle)."""
    idx = np.asarray(index_zyx, dtype=float)[..., ::-1]
    return idx @ affine[:3, :3].T + affine[:3, 3]


def tiny_ct_config(ct_folder, out_dir, **overrides):
    """A CT training config that runs in seconds on a CPU."""
    config = {"task": "ct_segmentation", "data": str(ct_folder), "out_dir": str(out_dir), "model": "FusedUNet",
              "model_args": {"depth": 1, "filters": 2, "intensity": "abdomen"}, "patch_size": [4, 16, 16],
              "batch_size": 2, "epochs": 2, "steps_per_epoch": 2, "validation_steps": 1, "val_fraction": 0.34,
              "verbose": 0}
    config.update(overrides)
    return config


def load_script(name: str):
    """``scripts/<name>.py`` imported as the module ``name`` (the scripts are not a package)."""
    import importlib.util

    path = pathlib.Path(__file__).resolve().parents[1] / "scripts" / f"{name}.py"
    spec = importlib.util.spec_from_file_location(name, path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module
