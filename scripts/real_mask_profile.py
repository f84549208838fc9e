"""Where a real scan's liver outline lies, and how a model's liver compares with it (issue 18).

    python scripts/real_mask_profile.py --scan dcmqi_ct_3slice [--model runs/ct_cascade_variety/cascade.keras]
        [--real ../shared/data/real]

For one scan of `keras_liver.evaluation.REAL_SCANS`: the median HU of the label's bands by depth
(signed distance to the outline, per slice, in mm: negative outside), which shows whether the
outline follows the liver's edge or lies outside it; the liver's noise (the robust sigma of a
5 x 5 in-plane high-pass, 8 voxels or more inside the outline); and with ``--model``, the liver
Dice of the model against the label eroded by 0-5 mm and of the model's liver dilated by 1-4 mm
against the label. Prints JSON.
"""

import argparse
import json
import os
import pathlib
import sys

import numpy as np
from scipy import ndimage

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_liver.evaluation import REAL_SCANS  # noqa: E402
from keras_liver.io import load_volume  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _dice(a, b) -> float:
    return round(2.0 * float((a & b).sum()) / float(a.sum() + b.sum()), 4)


def _per_slice_distance(mask, pixel_mm) -> np.ndarray:
    """Distance (mm, in plane) of every voxel to the other side of ``mask``'s outline, slice by slice."""
    return np.stack([ndimage.distance_transform_edt(s, sampling=pixel_mm) for s in mask])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--scan", required=True, choices=[s.name for s in REAL_SCANS])
    parser.add_argument("--model", default=None, help="a CT model or cascade (.keras)")
    parser.add_argument("--real", default=str(ROOT.parent / "shared" / "data" / "real"))
    args = parser.parse_args(argv)
    scan = next(s for s in REAL_SCANS if s.name == args.scan)
    image = load_volume(pathlib.Path(args.real) / scan.image)
    label = load_volume(pathlib.Path(args.real) / scan.label).array
    truth = label > 0 if scan.liver_label is None else label == scan.liver_label
    hu = image.array.astype(np.float32)
    pixel = tuple(float(s) for s in image.spacing[1:])
    signed = np.where(truth, _per_slice_distance(truth, pixel), -_per_slice_distance(~truth, pixel))
    bands = {}
    for low in range(-4, 12, 2):
        band = (signed > low) & (signed <= low + 2)
        if band.any():
            bands[f"{low:+d}..{low + 2:+d} mm"] = float(np.median(hu[band]))
    inner = signed >= 8 * min(pixel)
    high_pass = hu - ndimage.uniform_filter(hu, size=(1, 5, 5))
    values = high_pass[inner]
    out = {"scan": scan.name, "spacing_mm": [round(float(s), 3) for s in image.spacing],
           "median_hu_by_depth_inside_outline": bands,
           "liver_noise_hu": {"robust_high_pass_sigma": round(1.4826 * float(np.median(np.abs(values - np.median(
               values)))), 1), "interior_std": round(float(hu[inner].std()), 1)}}
    if args.model:
        from keras_liver.inference import cascade_predict, predict_volume
        from keras_liver.models import CTCascade, load_model

        model = load_model(args.model, compile=False)
        labels = cascade_predict(model, image) if isinstance(model, CTCascade) else predict_volume(model, image)
        pred = labels.array > 0
        inside = _per_slice_distance(truth, pixel)
        outside = _per_slice_distance(~pred, pixel)
        out["model"] = args.model
        out["dice_against_label_eroded_mm"] = {mm: _dice(pred, inside > mm) for mm in range(6)}
        out["dice_of_prediction_dilated_mm"] = {mm: _dice(truth, outside <= mm) for mm in range(1, 5)}
    print(json.dumps(out, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
