import matplotlib.image
import numpy as np

from keras_liver.phantoms import ct_case
from keras_liver.plotting import confusion_matrix_figure, overlay_figure, read_history, training_curves_figure


def _not_blank(path):
    png = matplotlib.image.imread(path)
    return png.shape[0] > 100 and png[..., :3].std() > 0.02


def test_curves_from_a_csv_log(tmp_path):
    (tmp_path / "history.csv").write_text("epoch,loss,val_loss,accuracy,val_accuracy\n0,1.5,1.6,0.3,0.25\n"
                                          "1,1.1,1.3,0.5,0.4\n2,0.9,1.0,0.6,0.55\n")
    history = read_history(tmp_path / "history.csv")
    assert history["val_accuracy"] == [0.25, 0.4, 0.55]
    (tmp_path / "no_val.csv").write_text("epoch,loss,val_loss\n0,1.5,NA\n1,1.1,NA\n")  # CSVLogger without validation
    assert read_history(tmp_path / "no_val.csv") == {"epoch": [0.0, 1.0], "loss": [1.5, 1.1]}
    assert _not_blank(training_curves_figure(tmp_path / "history.csv", tmp_path / "curves.png"))


def test_confusion_and_overlay_figures(tmp_path):
    assert _not_blank(confusion_matrix_figure([[3, 1], [0, 4]], ["a", "b"], tmp_path / "cm.png"))
    case = ct_case(1, shape=(9, 48, 48))
    assert _not_blank(overlay_figure(case.image, case.label, case.label, tmp_path / "ov.png"))


def test_the_overlay_shows_the_slice_with_most_tumour_else_most_label():
    from keras_liver.io import Volume
    from keras_liver.plotting.charts import overlay_slice

    label = np.zeros((5, 6, 7), np.uint8)
    label[1, :, :] = 1          # the most liver on slice 1
    label[3, 2:4, 2:4] = 2      # the only tumour on slice 3
    truth = Volume(label)
    assert overlay_slice(truth, None) == 3
    liver_only = Volume(np.where(label == 2, 1, label).astype(np.uint8))
    assert overlay_slice(liver_only, None) == 1
    assert overlay_slice(liver_only, truth) == 3   # no true tumour: the predicted one is shown
    assert overlay_slice(None, liver_only) == 1
