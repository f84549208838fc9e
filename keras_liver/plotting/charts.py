"""Charts (matplotlib, Agg backend): training curves, confusion matrices, truth/prediction overlays."""

import csv
import pathlib

import numpy as np

from keras_liver.plotting.volumes import overlay_rgb, pick_slice, save_figure


def _plt():
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    return plt


def read_history(path) -> dict:
    """A Keras ``CSVLogger`` file as ``{column: [values]}``; columns with no values (``NA``) are left out."""
    with open(path, newline="") as fh:
        rows = list(csv.DictReader(fh))
    out = {key: [float(r[key]) for r in rows if r.get(key) not in (None, "", "NA")] for key in (rows[0] if rows else {})}
    return {key: values for key, values in out.items() if values}


def training_curves_figure(history, path, title: str = "") -> pathlib.Path:
    """Loss and accuracy-type curves per epoch, training and validation (the paper's figs. 2 and 3).

    Args:
        history: ``{metric: [values]}`` (for example `read_history`) or a ``history.csv`` path.
        path: PNG to write.
        title: Figure title.
    """
    if not isinstance(history, dict):
        history = read_history(history)
    plt = _plt()
    scores = [k for k in ("accuracy", "macro_f1", "dice_1", "dice_2") if k in history]
    fig, axes = plt.subplots(1, 2, figsize=(11, 3.8))
    epochs = history.get("epoch", list(range(len(history.get("loss", [])))))
    epochs = [int(e) + 1 for e in epochs]
    for key, style in (("loss", "-"), ("val_loss", "--")):
        if key in history:
            axes[0].plot(epochs[:len(history[key])], history[key], style, label=key)
    for key in scores:
        axes[1].plot(epochs[:len(history[key])], history[key], "-", label=key)
        if f"val_{key}" in history:
            axes[1].plot(epochs[:len(history[f"val_{key}"])], history[f"val_{key}"], "--", label=f"val_{key}")
    axes[0].set_title("loss")
    axes[1].set_title("accuracy / Dice")
    for ax in axes:
        ax.set_xlabel("epoch")
        ax.legend(fontsize=7)
        ax.grid(alpha=0.3)
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)


def confusion_matrix_figure(matrix, class_names, path, title: str = "") -> pathlib.Path:
    """A confusion matrix (rows: truth, columns: prediction) with counts."""
    plt = _plt()
    matrix = np.asarray(matrix)
    fig, ax = plt.subplots(figsize=(1.1 * len(class_names) + 2, 1.0 * len(class_names) + 1.5))
    ax.imshow(matrix, cmap="Blues")
    for (i, j), v in np.ndenumerate(matrix):
        ax.text(j, i, str(int(v)), ha="center", va="center",
                color="white" if v > matrix.max() / 2 else "black", fontsize=9)
    ax.set_xticks(range(len(class_names)), class_names, rotation=30, ha="right", fontsize=8)
    ax.set_yticks(range(len(class_names)), class_names, fontsize=8)
    ax.set_xlabel("predicted")
    ax.set_ylabel("true")
    ax.set_title(title, fontsize=9)
    return save_figure(fig, path)


def overlay_slice(truth, prediction) -> int:
    """The slice an overlay shows: the most tumour (label 2) of the truth (else of the prediction), else the most label."""
    for label in (truth, prediction):
        if label is not None and np.any(label.array == 2):
            return pick_slice(label.replace((label.array == 2).astype(np.uint8)), label.shape[0])
    reference = truth if truth is not None else prediction
    return pick_slice(reference, reference.shape[0])


def overlay_figure(image, prediction, truth, path, title: str = "") -> pathlib.Path:
    """Truth and prediction overlaid on one slice (`overlay_slice`: the most tumour, else the most label)."""
    plt = _plt()
    z = overlay_slice(truth, prediction)
    panels = [("truth", truth), ("prediction", prediction)] if truth is not None else [("prediction", prediction)]
    fig, axes = plt.subplots(1, len(panels), figsize=(4 * len(panels), 4), squeeze=False)
    for ax, (name, label) in zip(axes[0], panels):
        ax.imshow(overlay_rgb(image, label, z), aspect=image.spacing[1] / image.spacing[2])
        ax.set_title(f"{name}, z={z}", fontsize=9)
        ax.axis("off")
    fig.suptitle(title, fontsize=9)
    return save_figure(fig, path)
