"""How close to the truth must a DCE lesion mask be for Dice 0.85 at the phantoms' resolution?

Usage:
    python scripts/bench_dce_seg_ceiling.py --data data/dce_test200

For every series of a DCE phantom folder, the true lesion mask is compared
(Dice) with itself moved by one voxel in y, grown by one voxel in plane and
shrunk by one voxel in plane: three segmentations that are "one voxel off".
If those already score below a target, the target asks for sub-voxel
accuracy on that data, whatever the model.
"""

import argparse
import pathlib
import sys

import numpy as np
from scipy import ndimage

from keras_liver.io import load_volume


def dice(a, b) -> float:
    total = a.sum() + b.sum()
    return float(2 * (a & b).sum() / total) if total else 1.0


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True, help="a `keras-liver phantoms dce` folder")
    args = parser.parse_args(argv)
    files = sorted(pathlib.Path(args.data).glob("dce-seg-*.nii.gz"))
    if not files:
        parser.error(f"--data {args.data}: no dce-seg-*.nii.gz files")
    in_plane = np.zeros((3, 3, 3), bool)
    in_plane[1] = ndimage.generate_binary_structure(2, 1)
    sizes, moved, grown, shrunk, spacing = [], [], [], [], []
    for path in files:
        volume = load_volume(path)
        lesion = volume.array == 2
        sizes.append(int(lesion.sum()))
        spacing.append(volume.spacing)
        moved.append(dice(lesion, np.roll(lesion, 1, axis=1)))
        grown.append(dice(lesion, ndimage.binary_dilation(lesion, in_plane)))
        shrunk.append(dice(lesion, ndimage.binary_erosion(lesion, in_plane)))
    z, y, _ = np.median(np.asarray(spacing), axis=0)
    print(f"{len(files)} series from {args.data}; median spacing {z:.1f} x {y:.1f} x {y:.1f} mm")
    print(f"lesion voxels: median {np.median(sizes):.0f}, 10th percentile {np.percentile(sizes, 10):.0f}, "
          f"90th percentile {np.percentile(sizes, 90):.0f}")
    print(f"mean Dice of the true mask against itself moved one voxel in y: {np.mean(moved):.3f}; grown by one "
          f"voxel in plane: {np.mean(grown):.3f}; shrunk by one voxel in plane: {np.mean(shrunk):.3f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
