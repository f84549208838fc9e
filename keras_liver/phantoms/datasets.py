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
from keras_liver.phantoms.dce import LESION_CLASSES, dce_case

logger = logging.getLogger(__name__)


def _prepare(out_dir, n_cases):
    if int(n_cases) < 1:
        raise ConfigError(f"n_cases={n_cases}: need at least one case")
    out = pathlib.Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    stale = remove_stale_temporaries(out, ("volume-", "segmentation-", "dce-", "cases.", "dce_cases."))
    if stale:
        logger.info("removed %d temporary files a killed run left in %s", len(stale), out)
    return out


def write_ct_dataset(out_dir, n_cases: int, seed: int = 0, shape=(48, 128, 128), progress: bool = False,
                     **options) -> list[pathlib.Path]:
    """Write ``volume-N.nii.gz`` / ``segmentation-N.nii.gz`` pairs (LiTS layout).

    Case ``N`` uses seed ``seed + N``; each file is written in the
    orientation its case drew (RAS, LPS, LAS, ...), so readers are
    exercised. ``cases.json`` records every case's drawn parameters.

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
        paths.append(write_nifti(case.image, out / f"volume-{n}.nii.gz"))
        infos[f"volume-{n}"] = case.info
    write_text_atomic(out / "cases.json", json.dumps(infos, indent=1))
    logger.info("wrote %d CT phantom cases to %s", n_cases, out)
    return paths


def write_dce_dataset(out_dir, n_cases: int, seed: int = 0, balanced: bool = False, shape=(16, 64, 64),
                      progress: bool = False, **options) -> list[pathlib.Path]:
    """Write ``dce-N.nii.gz`` (4D), ``dce-N.json``, ``dce-seg-N.nii.gz`` and ``cases.csv``.

    Args:
        out_dir: Output folder (created).
        n_cases: Number of cases.
        seed: Seed of case 0 (case N uses ``seed + N``).
        balanced: Cycle through the lesion classes instead of drawing them.
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
        sidecar = {"frame_times_s": case.image.meta["frame_times_s"], "lesion_class": case.lesion_class,
                   "classes": list(LESION_CLASSES), "parameters": case.info}
        write_text_atomic(out / f"dce-{n}.json", json.dumps(sidecar, indent=1))
        write_nifti(case.label, out / f"dce-seg-{n}.nii.gz")
        path = write_nifti(case.image, out / f"dce-{n}.nii.gz")  # the series last: it appears complete
        paths.append(path)
        lesion = case.info["lesion"]
        rows.append({"case": n, "lesion_class": case.lesion_class, "seed": seed + n,
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
