"""Why lesions are missed and where false positives sit: the CT cascade's errors on held-out phantoms, explained.

    python scripts/lesion_errors.py --preds runs/ct_cascade_v2/preds --data data/ct512_heldout10000 [--limit N]
        [--out errors.json]

Each phantom case is regenerated from its seed (``cases.json``; the image is checked to be the
file's), which gives its tissue map. Every predicted tumour component that is a false positive
(under half of its voxels inside true lesions, as `lesion_detection` counts) is described by
its volume, the tissue most of it covers (liver, a hepatic or portal vein, the gallbladder,
outside the liver, or a true lesion it over-segments) and its mean HU; every true lesion by
kind, diameter, contrast to the liver (HU), the case's noise, and the fraction of it predicted.
Prints counts by tissue and the missed lesions, and writes everything as JSON with ``--out``.
"""

import argparse
import collections
import json
import pathlib

import numpy as np
from scipy import ndimage

from keras_liver.io import load_volume
from keras_liver.phantoms import ct_case
from keras_liver.phantoms.anatomy import Tissue

TUMOUR_TISSUES = (Tissue.TUMOUR, Tissue.TUMOUR_CORE, Tissue.TUMOUR_RIM)


def case_errors(info: dict, image, truth, pred) -> dict:
    case = ct_case(int(info["seed"]), tuple(info["shape"]))
    if not np.array_equal(case.image.array, image):
        raise SystemExit(f"seed {info['seed']}: the regenerated phantom differs from the file (other code version?)")
    tissue = case.tissue.array
    spacing = case.image.spacing
    voxel = float(np.prod(spacing))
    structure = ndimage.generate_binary_structure(3, 3)
    t_mask, p_mask = truth == 2, pred == 2
    p_comp, n_p = ndimage.label(p_mask, structure)
    t_comp, n_t = ndimage.label(t_mask, structure)
    false = []
    for k, region in enumerate(ndimage.find_objects(p_comp), start=1):
        comp = p_comp[region] == k
        inside = float(t_mask[region][comp].mean())
        if inside >= 0.5:
            continue
        codes = tissue[region][comp]
        names = collections.Counter(Tissue(int(c)).name.lower() for c in codes)
        where = "tumour (over-segmented)" if inside > 0 else names.most_common(1)[0][0]
        false.append({"mm3": round(float(comp.sum()) * voxel, 1), "where": where, "inside_true": round(inside, 3),
                      "mean_hu": round(float(image[region][comp].mean()), 1),
                      "tissues": dict(names.most_common(3))})
    lesions = []
    liver_hu = info["hu"]["liver"]
    for k, region in enumerate(ndimage.find_objects(t_comp), start=1):
        comp = t_comp[region] == k
        covered = float(p_mask[region][comp].mean())
        diameter = (6.0 * comp.sum() * voxel / np.pi) ** (1 / 3)
        ids = [lesion for lesion in info["lesions"] if lesion.get("hu") is not None]
        centre = np.array(ndimage.center_of_mass(comp)) + [s.start for s in region]
        nearest = min(ids, key=lambda lesion: _distance(lesion, centre, case)) if ids else {}
        kind = nearest.get("kind")
        if "enhancing_rim_hu" in nearest:
            kind = f"{kind}, rim"
        lesions.append({"diameter_mm": round(float(diameter), 1), "kind": kind,
                        "contrast_hu": round(float(nearest.get("hu", liver_hu)) - liver_hu, 1),
                        "noise_hu": info["noise_sigma_hu"], "covered": round(covered, 3),
                        "detected": covered >= 0.5})
    return {"false_positives": false, "lesions": lesions}


def _distance(lesion, centre_voxel, case):
    ras = np.asarray(case.image.affine, np.float64) @ np.r_[centre_voxel[::-1], 1.0]  # voxel (x, y, z) -> RAS mm
    lps = np.array([-ras[0], -ras[1], ras[2]])  # phantom centres are LPS mm
    return float(np.linalg.norm(np.asarray(lesion["centre_mm"]) - lps))


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preds", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    data, preds = pathlib.Path(args.data), pathlib.Path(args.preds)
    table = json.loads((data / "cases.json").read_text())
    out = {}
    for name in sorted(table, key=lambda n: int(n.split("-")[1]))[:args.limit]:
        n = name.split("-")[1]
        pred_path = preds / f"segmentation-{n}.nii.gz"
        if not pred_path.is_file():
            continue
        image = load_volume(data / f"volume-{n}.nii.gz").array
        truth = load_volume(data / f"segmentation-{n}.nii.gz").array
        out[n] = case_errors(table[name], image, truth, load_volume(pred_path).array)
    fps = [f for case in out.values() for f in case["false_positives"]]
    by_where = collections.Counter(f["where"] for f in fps)
    missed = [dict(lesion, case=n) for n, case in out.items() for lesion in case["lesions"] if not lesion["detected"]]
    print(json.dumps({"cases": len(out), "false_positives": len(fps), "false_positives_by_tissue": dict(by_where),
                      "false_positive_mm3_median": float(np.median([f["mm3"] for f in fps])) if fps else None,
                      "missed": missed}, indent=1))
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(out, indent=1) + "\n")


if __name__ == "__main__":
    main()
