"""Keras models (functional subclasses, registered for serialization) and the paper's baselines.

* `FusedUNet`: UNet++ with multi-input fusion, 2D/3D, deep supervision.
* `DCEClassifier`: 3D convolutions per time point + ConvLSTM over time.
* `DCESegmenter`: shared 3D U-Net encoder, ConvLSTM per level, 3D decoder.
* Baselines: `UNet` (plain), `CurveLSTM`, `SinglePhaseCNN`, `HOGSVM`.
* `summary(model)`: parameters and FLOPs per sample; `load_model(path)` opens a saved model,
  `save_model` writes one atomically, `model_class(name)` finds a class by its config name.
* `CTCascade`: two CT models as one (liver at coarse spacing, tumours in its box at fine spacing).
* `DCEPipeline`: DCE liver stage, lesion stage in its box, and a per-lesion classifier, as one.
* `SegmenterEnsemble`: segmentation models of one plan, their probabilities averaged.
* `LiverModel`: their base (task, config round trip).
"""

from keras_liver.models.ct_cascade import CTCascade
from keras_liver.models.curve_lstm import CurveLSTM
from keras_liver.models.dce_classifier import DCEClassifier
from keras_liver.models.dce_pipeline import DCEPipeline
from keras_liver.models.dce_segmenter import DCESegmenter
from keras_liver.models.fused_unet import FusedUNet
from keras_liver.models.hog_svm import HOGSVM
from keras_liver.models.input_shape import with_input_shape
from keras_liver.models.layer_walk import iter_layers
from keras_liver.models.base import LiverModel
from keras_liver.models.loading import load_model, model_class, save_model
from keras_liver.models.flops import summary
from keras_liver.models.segmenter_ensemble import SegmenterEnsemble
from keras_liver.models.single_phase_cnn import SinglePhaseCNN
from keras_liver.models.unet import UNet

__all__ = [
    "CTCascade",
    "CurveLSTM",
    "DCEClassifier",
    "DCEPipeline",
    "DCESegmenter",
    "FusedUNet",
    "HOGSVM",
    "LiverModel",
    "SegmenterEnsemble",
    "SinglePhaseCNN",
    "UNet",
    "iter_layers",
    "load_model",
    "model_class",
    "save_model",
    "summary",
    "with_input_shape",
]
