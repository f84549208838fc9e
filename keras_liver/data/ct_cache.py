"""Preprocess CT cases once and cache them in an HDF5 case store."""

import hashlib
import json
import logging
import pathlib

import numpy as np

from keras_liver.data.patch_sampler import TISSUE_FACTOR, split_tissue
from keras_liver.errors import ConfigError
from keras_liver.io.case_store import CaseStore
from keras_liver.io.case_store_writer import CaseStoreWriter
from keras_liver.io.lits_case import find_lits_cases

logger = logging.getLogger(__name__)


def _settings_key(cases, target_spacing, crop_margin_mm, denoise=None, roi_source=None, tissue=False) -> str:
    settings = {"cases": [[str(c.image_path), str(c.label_path)] for c in cases],
                "mtimes": [pathlib.Path(c.image_path).stat().st_mtime_ns for c in cases],
                "target_spacing": target_spacing, "crop_margin_mm": crop_margin_mm}
    if denoise is not None:  # absent otherwise, so caches made before the option stay valid
        settings["denoise"] = denoise
    if roi_source is not None:
        settings["roi_source"] = roi_source
    if tissue:
        settings["tissue"] = True
    text = json.dumps(settings)
    return hashlib.sha256(text.encode()).hexdigest()[:16]


def _tissue_path(case):
    """``tissue-N.nii[.gz]`` beside a case's volume, or ``None``."""
    folder = pathlib.Path(case.image_path).parent
    for name in (f"tissue-{case.case_id}.nii.gz", f"tissue-{case.case_id}.nii"):
        if (folder / name).is_file():
            return folder / name
    return None


def build_ct_cache(data_dir, store_path, *, target_spacing=None, crop_margin_mm: float | None = 20.0,
                   case_ids=None, denoise: dict | None = None, roi_masks=None,
                   roi_source: str | None = None, tissue: bool = False) -> pathlib.Path:
    """Preprocess a LiTS folder once into an HDF5 store (reused while nothing changed).

    Each case is loaded (LPS voxel order), cropped to its liver label plus
    ``crop_margin_mm`` (``None``: no crop) and resampled to ``target_spacing``
    with `SpatialPreprocessor`, then (``denoise``) threshold-denoised
    (`threshold_denoise`, as inference does after resampling); the image is
    stored as int16 HU, the label as uint8, and the `SpatialRecord` in the case attributes. A settings hash
    in the store's attributes decides whether the cache is still valid.

    Args:
        data_dir: LiTS folder (``volume-N`` / ``segmentation-N``).
        store_path: The ``.h5`` cache to write or reuse.
        target_spacing: ``(z, y, x)`` mm or ``None``.
        crop_margin_mm: Crop margin around the liver, or ``None``.
        case_ids: Only these case numbers (default all).
        denoise: `threshold_denoise` arguments (``{}``: defaults), or ``None``.
        roi_masks: Optional ``f(case_id, image) -> mask or None``: the mask to crop that case
            at instead of its liver label (for example a stage-1 model's liver); called
            only when the cache is (re)built.
        roi_source: What ``roi_masks`` is (goes into the settings hash, so a new model
            rebuilds the cache).
        tissue: Also cache each case's phantom tissue map (``tissue-N.nii.gz`` beside its
            volume, written by ``keras-liver phantoms ct --variety``) as key ``"tissue"``,
            cropped and resampled (nearest) like the label.

    Returns:
        The store path.
    """
    from keras_liver.preprocess import SpatialPreprocessor

    cases = [c for c in find_lits_cases(data_dir) if case_ids is None or c.case_id in set(case_ids)]
    if not cases:
        raise ConfigError(f"{data_dir}: no LiTS cases selected")
    if any(c.label_path is None for c in cases):
        raise ConfigError(f"{data_dir}: every training case needs a segmentation file")
    store_path = pathlib.Path(store_path)
    if tissue:
        missing = [c for c in cases if _tissue_path(c) is None]
        if missing:
            raise ConfigError(f"{data_dir}: case {missing[0].case_id} has no tissue-{missing[0].case_id}.nii.gz "
                              f"(per-tissue randomisation needs phantoms written with --variety)")
    key = _settings_key(cases, target_spacing, crop_margin_mm, denoise, roi_source, tissue)
    if store_path.exists():
        with CaseStore(store_path) as store:
            if store.attrs(store.case_ids()[0]).get("settings_key") == key and len(store) == len(cases):
                logger.info("reusing cache %s", store_path)
                return store_path
    prep = SpatialPreprocessor(target_spacing, crop_margin_mm=crop_margin_mm or 0.0)
    with CaseStoreWriter(store_path) as writer:
        for case in cases:
            image, label = case.load()
            mask = (label.array > 0) if crop_margin_mm is not None else None
            if mask is not None and roi_masks is not None:
                given = roi_masks(str(case.case_id), image)
                mask = mask if given is None else given
            if tissue:  # carried in the label's high bits through one crop and nearest resampling
                from keras_liver.io import load_volume

                codes = load_volume(_tissue_path(case)).array
                if codes.shape != label.shape:
                    raise ConfigError(f"{_tissue_path(case)}: shape {codes.shape} is not its label's {label.shape}")
                label = label.replace((label.array + TISSUE_FACTOR * codes).astype(np.uint8))
            image, label, record = prep(image, label, crop_mask=mask)
            extra = None
            if tissue:
                plain, codes = split_tissue(label.array)
                label, extra = label.replace(plain.astype(np.uint8)), {"tissue": label.replace(codes.astype(np.uint8))}
            hu = image.array
            if denoise is not None:
                from keras_liver.preprocess import threshold_denoise

                hu = threshold_denoise(hu.astype(np.float32), **denoise)
            hu = np.clip(np.rint(hu), -32768, 32767).astype(np.int16)
            writer.add(str(case.case_id), image.replace(hu), label,
                       attrs={"settings_key": key, "record": record.to_dict(), "source": str(case.image_path)},
                       extra=extra)
    logger.info("cached %d cases in %s", len(cases), store_path)
    return store_path
