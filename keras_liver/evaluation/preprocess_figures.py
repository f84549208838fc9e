"""The paper's preprocessing pictures (figs. 4 to 6): denoising, histogram, HOG."""

import logging
import pathlib

import numpy as np

from keras_liver.errors import ConfigError, GeometryError, MissingPathError
from keras_liver.plotting import display_window, pick_slice, radiological, save_figure
from keras_liver.io.volume import Volume

logger = logging.getLogger(__name__)


def preprocess_figures(image: Volume, out_dir, *, z: int | None = None, label: Volume | None = None,
                       frame: int = -1, denoise_kwargs=None, pixels_per_cell: int = 16) -> list[pathlib.Path]:
    """Write ``denoise.png``, ``histogram.png`` and ``hog.png`` for one axial slice.

    * ``denoise.png`` (fig. 4): the slice before and after `threshold_denoise`,
      the removed noise, and the pixels kept as signal.
    * ``histogram.png`` (fig. 5): grey-level histograms inside the body
      before and after denoising.
    * ``hog.png`` (fig. 6): scikit-image's HOG rendering of the denoised
      slice and the HOG feature values as a chart.

    Args:
        image: 3D `Volume` (CT in HU or MR), or a 4D series (``frame`` is used).
        out_dir: Existing folder for the PNGs.
        z: Axial slice; default the slice with the most label, or the middle.
        label: Optional label map, only used to pick the slice.
        frame: Frame of a 4D series.
        denoise_kwargs: Arguments for `threshold_denoise`.
        pixels_per_cell: HOG cell size for the chart (16 keeps the vector readable).

    Returns:
        The three paths written.
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    import skimage.feature

    from keras_liver.preprocess import body_mask, threshold_denoise

    out_dir = pathlib.Path(out_dir)
    if not out_dir.is_dir():
        raise MissingPathError(f"{out_dir}: output folder does not exist")
    volume = image
    if image.is_series:
        if not -image.shape[0] <= frame < image.shape[0]:
            raise ConfigError(f"frame {frame}: the series has {image.shape[0]} frames")
        volume = Volume(image.array[frame], image.affine, image.spacing, image.meta)
    nz = volume.shape[0]
    z = pick_slice(label, nz) if z is None else int(z)
    if not 0 <= z < nz:
        raise GeometryError(f"slice {z}: the volume has {nz} axial slices (0..{nz - 1})")
    original = volume.array[z].astype(np.float32)
    denoised, signal = threshold_denoise(original, return_mask=True, **(denoise_kwargs or {}))
    lo, hi = display_window(volume)
    orient = volume.orientation
    aspect = volume.spacing[1] / volume.spacing[2]
    paths = []

    fig, axes = plt.subplots(1, 4, figsize=(13, 3.6))
    panels = [(original, "original", dict(cmap="gray", vmin=lo, vmax=hi)),
              (denoised, "threshold-denoised", dict(cmap="gray", vmin=lo, vmax=hi)),
              (original - denoised, "removed (original - denoised)", dict(cmap="coolwarm")),
              (signal.astype(np.float32), f"kept as signal ({100 * signal.mean():.1f} %)", dict(cmap="gray"))]
    for ax, (array, title, style) in zip(axes, panels):
        shown = ax.imshow(radiological(array, orient), aspect=aspect, interpolation="nearest", **style)
        ax.set_title(title, fontsize=9)
        ax.axis("off")
        if title.startswith("removed"):
            fig.colorbar(shown, ax=ax, fraction=0.046)
    fig.suptitle(f"{_name(image)}, slice z={z}", fontsize=9)
    paths.append(save_figure(fig, out_dir / "denoise.png"))

    is_ct = lo < -100
    body = body_mask(original[None])[0] if is_ct else original > np.percentile(original, 50)
    fig, ax = plt.subplots(figsize=(6.5, 3.8))
    bins = np.linspace(*(np.percentile(original[body], [0.5, 99.5])), 120)
    ax.hist(original[body], bins=bins, histtype="step", label="original", color="0.3")
    ax.hist(denoised[body], bins=bins, histtype="step", label="denoised", color="tab:red")
    ax.set_xlabel("HU" if is_ct else "signal")
    ax.set_ylabel("pixels inside the body")
    ax.set_title(f"grey-level histogram, slice z={z}", fontsize=9)
    ax.legend(fontsize=8)
    paths.append(save_figure(fig, out_dir / "histogram.png"))

    scaled = np.clip((denoised - lo) / (hi - lo), 0, 1)
    ppc = (int(pixels_per_cell),) * 2
    if min(scaled.shape) < 2 * ppc[0]:
        ppc = (max(1, min(scaled.shape) // 2),) * 2
    features, rendering = skimage.feature.hog(scaled, orientations=9, pixels_per_cell=ppc, cells_per_block=(2, 2),
                                              block_norm="L2-Hys", visualize=True)
    fig, axes = plt.subplots(1, 2, figsize=(12, 4), gridspec_kw={"width_ratios": [1, 2]})
    bright = float(np.percentile(rendering[rendering > 0], 99)) if np.any(rendering > 0) else 1.0
    axes[0].imshow(radiological(rendering, orient), cmap="magma", aspect=aspect, vmin=0, vmax=bright)
    axes[0].set_title(f"HOG, {ppc[0]}x{ppc[1]} cells, 9 bins", fontsize=9)
    axes[0].axis("off")
    axes[1].plot(features, lw=0.4, color="tab:blue")
    axes[1].set_xlabel("feature index")
    axes[1].set_ylabel("value (L2-Hys block normalised)")
    axes[1].set_title(f"HOG feature values ({features.size} features)", fontsize=9)
    paths.append(save_figure(fig, out_dir / "hog.png"))
    logger.info("wrote %s", ", ".join(str(p) for p in paths))
    return paths


def _name(image: Volume) -> str:
    return pathlib.Path(str(image.meta.get("source", "image"))).name or "image"
