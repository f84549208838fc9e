"""Volume figures (matplotlib, Agg backend): slice previews with label overlays, DCE frames and curves."""

import os
import pathlib

import numpy as np

from keras_liver.errors import GeometryError, MissingPathError
from keras_liver.io.atomic import temp_beside
from keras_liver.io.volume import Volume

LABEL_COLOURS = {1: (0.1, 0.8, 0.2), 2: (0.95, 0.15, 0.1), 3: (0.2, 0.4, 1.0), 4: (1.0, 0.8, 0.0), 5: (0.1, 0.8, 0.2)}
CT_WINDOW = (-160.0, 240.0)  # liver window: level 40, width 400 HU


def display_window(volume: Volume) -> tuple[float, float]:
    """A grey-level window: the liver window for CT, 1/99 percentiles otherwise."""
    modality = str(volume.meta.get("modality", "")).upper()
    array = volume.array
    if modality == "CT" or (np.issubdtype(array.dtype, np.signedinteger) and array.min() < -500):
        return CT_WINDOW
    lo, hi = np.percentile(array, (1, 99))
    return float(lo), float(max(hi, lo + 1e-6))


def radiological(slice_2d: np.ndarray, orientation: str) -> np.ndarray:
    """An axial slice flipped to the display convention: patient's right on the image's left, anterior up."""
    out = slice_2d
    if orientation[0] == "R":
        out = out[:, ::-1]
    if orientation[1] == "A":
        out = out[::-1, :]
    return out


def overlay_rgb(image: Volume, label: Volume | None, z: int, window=None, alpha: float = 0.45) -> np.ndarray:
    """One axial slice as an RGB array with labels blended in colour."""
    lo, hi = window or display_window(image)
    grey = np.clip((image.array[z].astype(np.float32) - lo) / (hi - lo), 0, 1)
    rgb = np.repeat(grey[..., None], 3, axis=-1)
    if label is not None:
        lab = label.array[z]
        for value in np.unique(lab):
            if value == 0:
                continue
            colour = np.array(LABEL_COLOURS.get(int(value), (1.0, 0.0, 1.0)))
            sel = lab == value
            rgb[sel] = (1 - alpha) * rgb[sel] + alpha * colour
    return radiological(rgb, image.orientation)


def pick_slice(label: Volume | None, shape_z: int) -> int:
    """The slice with the most labelled voxels, or the middle one."""
    if label is None or not np.any(label.array):
        return shape_z // 2
    return int(np.argmax((label.array > 0).reshape(label.array.shape[0], -1).sum(axis=1)))


def save_figure(fig, path) -> pathlib.Path:
    """Save a matplotlib figure atomically and close it."""
    import matplotlib.pyplot as plt

    path = pathlib.Path(path)
    if not path.parent.is_dir():
        raise MissingPathError(f"{path.parent}: output folder does not exist")
    fd, tmp = temp_beside(path, suffix=path.suffix or ".png")
    os.close(fd)
    try:
        fig.savefig(tmp, dpi=100, bbox_inches="tight")
        os.replace(tmp, path)
    finally:
        plt.close(fig)
        pathlib.Path(tmp).unlink(missing_ok=True)
    return path


def preview_figure(image: Volume, label: Volume | None, path, n_slices: int = 1, title: str | None = None):
    """Write a PNG of axial slices (radiological convention) with label overlay.

    Args:
        image: 3D image.
        label: Label map on the same grid, or ``None``.
        path: The PNG to write.
        n_slices: 1 for the slice with the most label, more for a montage
            spread over the labelled extent.
        title: Figure title (defaults to the source file name).

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if image.array.ndim != 3:
        raise GeometryError(f"preview needs a 3D image; got shape {image.shape}")
    if label is not None and label.shape != image.shape:
        raise GeometryError(f"preview: label shape {label.shape} != image shape {image.shape}")
    nz = image.shape[0]
    if n_slices <= 1:
        slices = [pick_slice(label, nz)]
    else:
        zs = np.flatnonzero(label.array.reshape(nz, -1).any(axis=1)) if label is not None else []
        lo, hi = (zs[0], zs[-1]) if len(zs) else (0, nz - 1)
        slices = sorted(set(np.linspace(lo, hi, n_slices).round().astype(int).tolist()))
    cols = min(len(slices), 4)
    rows = int(np.ceil(len(slices) / cols))
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 3.2 * rows), squeeze=False)
    dy, dx = image.spacing[1], image.spacing[2]
    for ax in axes.ravel():
        ax.axis("off")
    for ax, z in zip(axes.ravel(), slices):
        ax.imshow(overlay_rgb(image, label, z), aspect=dy / dx, interpolation="nearest")
        ax.set_title(f"z={z}", fontsize=8)
    fig.suptitle(title or pathlib.Path(str(image.meta.get("source", ""))).name, fontsize=9)
    return save_figure(fig, path)


def dce_preview_figure(cases, path):
    """Frames through each lesion class and the mean time-intensity curves.

    Args:
        cases: `PhantomCase` objects from `dce_case` (one or more per class).
        path: The PNG to write.

    Returns:
        The path written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    by_class: dict = {}
    for case in cases:
        by_class.setdefault(case.lesion_class, []).append(case)
    classes = sorted(by_class)
    n_frames = max(c.image.shape[0] for c in cases)
    fig, axes = plt.subplots(len(classes), n_frames + 1, figsize=(1.6 * (n_frames + 1) + 1.5, 1.7 * len(classes)),
                             squeeze=False)
    for row, name in enumerate(classes):
        case = by_class[name][0]
        series, label = case.image.array, case.label.array
        z = pick_slice(case.label.replace((label == 2).astype(np.uint8)), label.shape[0])
        lo, hi = np.percentile(series, (1, 99.5))
        for f in range(n_frames):
            ax = axes[row, f]
            ax.axis("off")
            if f < series.shape[0]:
                ax.imshow(radiological(series[f, z], case.image.orientation), cmap="gray", vmin=lo, vmax=hi)
                if row == 0:
                    ax.set_title(f"{case.image.meta['frame_times_s'][f]:.0f} s", fontsize=7)
        axes[row, 0].text(-0.1, 0.5, name, transform=axes[row, 0].transAxes, ha="right", va="center", fontsize=8)
        ax = axes[row, -1]
        for c in by_class[name]:
            t = np.asarray(c.image.meta["frame_times_s"])
            lesion = c.image.array[:, c.label.array == 2].mean(axis=1)
            liver = c.image.array[:, c.label.array == 1].mean(axis=1)
            ax.plot(t, lesion, color="tab:red", lw=1)
            ax.plot(t, liver, color="tab:green", lw=1)
        ax.set_xlabel("s", fontsize=6)
        ax.tick_params(labelsize=6)
        if row == 0:
            ax.set_title("lesion (red) vs liver (green)", fontsize=7)
    return save_figure(fig, path)
