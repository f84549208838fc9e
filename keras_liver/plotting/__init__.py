"""Figures shared by training, evaluation and the command line (matplotlib, Agg backend).

NumPy and matplotlib only (never TensorFlow), so `keras_liver.training` and
`keras_liver.evaluation` can both import it without an import pointing up
the pipeline.
"""

from keras_liver.plotting.charts import (
    confusion_matrix_figure,
    overlay_figure,
    read_history,
    training_curves_figure,
)
from keras_liver.plotting.volumes import (
    dce_preview_figure,
    display_window,
    overlay_rgb,
    pick_slice,
    preview_figure,
    radiological,
    save_figure,
)

__all__ = ["confusion_matrix_figure", "dce_preview_figure", "display_window", "overlay_figure", "overlay_rgb",
           "pick_slice", "preview_figure", "radiological", "read_history", "save_figure", "training_curves_figure"]
