"""Benchmark: keras_liver.io readers against nibabel and pydicom alone.

Usage:
    python scripts/bench_io.py [--slices 200] [--repeats 3]

Writes a 512 x 512 x N int16 .nii.gz (smooth anatomy-like field plus noise,
so it compresses like a CT) into a temporary folder, then times, best of
``--repeats``:
  * nibabel ``nib.load(p).get_fdata(dtype=np.float32)``;
  * ``keras_liver.io.load_volume(p)`` (int16 kept, LPS reorientation, CRC check);
  * ``keras_liver.io.load_volume(p, dtype=np.float32)``;
and, when ../shared/data/real is present, the 20-slice real DICOM series:
  * pydicom alone: ``dcmread`` + ``pixel_array`` for every file;
  * ``keras_liver.io.load_volume(folder)``.
"""

import argparse
import pathlib
import platform
import sys
import tempfile

import nibabel as nib
import numpy as np
from benchutil import best_of
import pydicom
from scipy import ndimage

from keras_liver.io import load_volume

REAL = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real"


def make_ct(path, n_slices, seed=0):
    rng = np.random.default_rng(seed)
    field = ndimage.zoom(rng.normal(size=(n_slices // 8 + 1, 64, 64)), 8, order=1)[:n_slices, :512, :512]
    ct = (field * 300 + rng.normal(0, 15, size=field.shape)).astype(np.int16)
    nib.save(nib.Nifti1Image(ct.T, np.diag([0.7, 0.7, 1.5, 1.0])), str(path))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--slices", type=int, default=200)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args(argv)
    print(f"machine: {platform.processor() or platform.machine()}, python {sys.version.split()[0]}")
    with tempfile.TemporaryDirectory() as tmp:
        path = pathlib.Path(tmp) / "ct.nii.gz"
        make_ct(path, args.slices)
        size_mb = path.stat().st_size / 1e6
        t_nib = best_of(lambda: nib.load(str(path)).get_fdata(dtype=np.float32), args.repeats)
        t_ours = best_of(lambda: load_volume(path), args.repeats)
        t_ours32 = best_of(lambda: load_volume(path, dtype=np.float32), args.repeats)
    print(f"\nNIfTI 512x512x{args.slices} int16 .nii.gz ({size_mb:.0f} MB on disk)")
    print("| reader | seconds | ratio to nibabel |")
    print("|---|---|---|")
    print(f"| nibabel get_fdata(float32) | {t_nib:.3f} | 1.00 |")
    print(f"| keras_liver load_volume (int16) | {t_ours:.3f} | {t_ours / t_nib:.2f} |")
    print(f"| keras_liver load_volume(dtype=float32) | {t_ours32:.3f} | {t_ours32 / t_nib:.2f} |")

    folder = REAL / "totalsegmentator" / "example_ct_dicom"
    if not folder.is_dir():
        print(f"\n(skipping DICOM: {folder} not found)")
        return 0
    files = sorted(p for p in folder.iterdir() if p.is_file())

    def pydicom_alone():
        return [pydicom.dcmread(str(f)).pixel_array for f in files]

    t_pyd = best_of(pydicom_alone, args.repeats)
    t_dcm = best_of(lambda: load_volume(folder), args.repeats)
    print(f"\nDICOM series, {len(files)} files of 512x512 (real, {folder.name})")
    print("| reader | seconds | ratio to pydicom |")
    print("|---|---|---|")
    print(f"| pydicom dcmread + pixel_array | {t_pyd:.3f} | 1.00 |")
    print(f"| keras_liver load_volume | {t_dcm:.3f} | {t_dcm / t_pyd:.2f} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
