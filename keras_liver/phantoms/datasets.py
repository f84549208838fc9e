"""Writing phantom data sets to disk in LiTS and DCE layouts."""

import csv
import io
import json
import logging
import pathlib

from tqdm import tqdm

from keras_liver.errors import ConfigError
from keras_liver.io.atomic import remove_stale_temporaries, write_text_atomic
from keras_liver.io.nifti import write_nifti
from keras_liver.phantoms.ct import ct_case
from keras_liver.phantoms.dce import DEFAULT_SHAPE as DCE_DEFAULT_SHAPE
from keras_liver.phantoms.dce import LESION_CLASSES, dce_case

logger = logging.getLogger(__name__)


def _prepare(out_dir, n_cases):
    if int(n_cases) < 1:
        raise ConfigError(f"n_cases={n_cases}: need at least one case")
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stale = remove_stale_temporaries(out, ("volume-", "segmentation-", "masses-", "tissue-", "dce-", "cases.", "dce_cases."))
    if stale:
        logger.info("removed %d temporary files a killed run left in %s", len(stale), out)
    return out


def write_ct_dataset(out_dir, n_cases: int, seed: int = 0, shape=(48, 128, 128), progress: bool = False,
                     **options) -> list[pathlib.Path]:
    """Write ``volume-N.nii.gz`` / ``segmentation-N.nii.gz`` pairs (LiTS layout).

    Case ``N`` uses seed ``seed + N``; each file is written in the
    orientation its case drew (RAS, LPS, LAS, ...), so readers are
    exercised. ``cases.json`` records every case's drawn parameters. A case
    with a ``variety`` also gets ``masses-N.nii.gz`` (the ids of its masses
    outside the liver, label background in the segmentation) and
    ``tissue-N.nii.gz`` (every voxel's `Tissue` code, for per-tissue intensity
    randomisation in training).

    Args:
        out_dir: Output folder (created).
        n_cases: Number of cases.
        seed: Seed of case 0.
        shape: ``(nz, ny, nx)`` of every case.
        progress: Show a progress bar.
        **options: Passed to `ct_case`.

    Returns:
        The volume paths.
    """
    out = _prepare(out_dir, n_cases)
    paths, infos = [], {}
    for n in tqdm(range(n_cases), desc="CT phantoms", disable=not progress):
        case = ct_case(seed + n, shape=shape, **options)
        write_nifti(case.label, out / f"segmentation-{n}.nii.gz")  # the label first: a volume is never alone
        if case.masses is not None:
            write_nifti(case.masses, out / f"masses-{n}.nii.gz")
            write_nifti(case.tissue, out / f"tissue-{n}.nii.gz")
        paths.append(write_nifti(case.image, out / f"volume-{n}.nii.gz"))
        infos[f"volume-{n}"] = case.info
    write_text_atomic(out / "cases.json", json.dumps(infos, indent=1))
    logger.info("wrote %d CT phantom cases to %s", n_cases, out)
    return paths


def write_dce_dataset(out_dir, n_cases: int, seed: int = 0, balanced: bool = False, shape=DCE_DEFAULT_SHAPE,
                      progress: bool = False, **options) -> list[pathlib.Path]:
    """Write ``dce-N.nii.gz`` (4D), ``dce-N.json``, ``dce-seg-N.nii.gz``, ``dce-lesions-N.nii.gz`` and ``cases.csv``.

    ``dce-seg-N`` holds the labels (0 background, 1 liver, 2 lesion),
    ``dce-lesions-N`` each lesion's id (the ``id`` of its entry in the
    sidecar's ``lesions``, with its ``class``); ``cases.csv`` has one row per
    series with the index lesion's class (``lesion_class``) and ``n_lesions``.

    Args:
        out_dir: Output folder (created).
        n_cases: Number of cases.
        seed: Seed of case 0 (case N uses ``seed + N``).
        balanced: Cycle the index lesion through the lesion classes instead of drawing it.
        shape: Spatial shape of every case.
        progress: Show a progress bar.
        **options: Passed to `dce_case`.

    Returns:
        The series paths.
    """
    out = _prepare(out_dir, n_cases)
    rows, paths = [], []
    for n in tqdm(range(n_cases), desc="DCE phantoms", disable=not progress):
        lesion_class = LESION_CLASSES[n % len(LESION_CLASSES)] if balanced else None
        case = dce_case(seed + n, lesion_class=lesion_class, shape=shape, **options)
        lesions = [{"id": d["id"], "class": d["class"], "diameter_mm": d["diameter_mm"],
                    "centre_mm": d["centre_mm"], "voxels": d["voxels"]} for d in case.info["lesions"]]
        sidecar = {"frame_times_s": case.image.meta["frame_times_s"], "lesion_class": case.lesion_class,
                   "classes": list(LESION_CLASSES), "lesions": lesions, "parameters": case.info}
        write_text_atomic(out / f"dce-{n}.json", json.dumps(sidecar, indent=1))
        write_nifti(case.label, out / f"dce-seg-{n}.nii.gz")
        write_nifti(case.instance, out / f"dce-lesions-{n}.nii.gz")
        path = write_nifti(case.image, out / f"dce-{n}.nii.gz")  # the series last: it appears complete
        paths.append(path)
        lesion = case.info["lesion"]
        rows.append({"case": n, "lesion_class": case.lesion_class, "n_lesions": len(lesions), "seed": seed + n,
                     "n_frames": len(case.image.meta["frame_times_s"]), "snr": case.info["snr"],
                     **{f"liver_{k}": v for k, v in case.info["liver"].items()},
                     **{f"lesion_{k}": v for k, v in lesion.items()}})
    fields = []
    for row in rows:
        fields += [k for k in row if k not in fields]
    buf = io.StringIO()
    writer = csv.DictWriter(buf, fieldnames=fields)
    writer.writeheader()
    writer.writerows(rows)
    write_text_atomic(out / "cases.csv", buf.getvalue())
    logger.info("wrote %d DCE phantom cases to %s", n_cases, out)
    return paths
