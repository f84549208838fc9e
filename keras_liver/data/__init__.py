"""tf.data pipelines: cached preprocessing, patch sampling with oversampling, stateless augmentation."""

from keras_liver.data.augment import augment_patch
from keras_liver.data.ct_cache import build_ct_cache
from keras_liver.data.dce_cases import baseline_normalize, load_dce_cases, load_lesion_crops
from keras_liver.data.lesion_crop import crop_centred, lesion_crop, lesion_crops, lesion_mask_crops
from keras_liver.data.patch_sampler import PatchSampler
from keras_liver.data.pipelines import augment_series, dce_dataset, load_dce_folder, load_store, patch_dataset

__all__ = ["PatchSampler", "augment_patch", "augment_series", "baseline_normalize", "build_ct_cache", "crop_centred",
           "dce_dataset", "lesion_crop", "lesion_crops", "lesion_mask_crops", "load_dce_cases", "load_lesion_crops", "load_dce_folder", "load_store", "patch_dataset"]
