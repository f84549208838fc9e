"""`SpatialPreprocessor`: crop, resample and pad a case, recording every step."""

import logging

import numpy as np

from keras_liver.errors import GeometryError
from keras_liver.io.volume import Volume
from keras_liver.preprocess import spatial
from keras_liver.preprocess.checks import as_finite_array, check_positive, check_spacing
from keras_liver.preprocess.spatial_record import SpatialRecord

logger = logging.getLogger(__name__)


class SpatialPreprocessor:
    """Crop to a region of interest, resample to a target spacing, pad for the network.

    The steps run in that order (cropping first keeps resampling cheap) and
    are recorded in a `SpatialRecord`, whose ``invert`` puts a prediction
    back onto the original grid.

    Args:
        target_spacing: ``(z, y, x)`` mm, or ``None`` to keep the spacing.
        crop_margin_mm: Margin around the crop mask's bounding box, mm.
        pad_multiple: Pad each spatial axis up to a multiple of this
            (``2 ** depth`` of the U-Net); 1 disables padding.
        image_order: Image interpolation, 1 (linear) or 3 (cubic). Label
            maps always use nearest neighbour.
        pad_value: Image value for padded voxels; ``None`` uses the image
            minimum (air on CT).

    Example:
        >>> prep = SpatialPreprocessor(target_spacing=(2.0, 1.5, 1.5), pad_multiple=16)
        >>> image, label, record = prep(ct.image, ct.label, crop_mask=ct.label.array > 0)
        >>> back = record.invert(label.array)          # Volume on ct.image's grid
    """

    def __init__(self, target_spacing=None, *, crop_margin_mm: float = 10.0, pad_multiple: int = 1,
                 image_order: int = 1, pad_value=None):
        self.target_spacing = None if target_spacing is None else check_spacing(target_spacing, "target_spacing")
        self.crop_margin_mm = float(crop_margin_mm)
        if self.crop_margin_mm < 0:
            raise GeometryError(f"crop_margin_mm: must be >= 0, got {crop_margin_mm}")
        self.pad_multiple = int(check_positive(pad_multiple, "pad_multiple"))
        if image_order not in (1, 3):
            raise GeometryError(f"image_order: 1 (linear) or 3 (cubic), got {image_order}")
        self.image_order = image_order
        self.pad_value = pad_value

    def __call__(self, image: Volume, label: Volume | None = None, *, crop_mask=None):
        """Preprocess one case.

        Args:
            image: 3D `Volume`, or a 4D DCE series (every frame gets the same steps).
            label: Optional label map on the same grid (nearest neighbour).
            crop_mask: Optional boolean ``(z, y, x)`` mask (for example a
                liver ROI or ``label.array > 0``) to crop to, with the margin.

        Returns:
            ``(image, label, record)``: the new `Volume`s (label ``None`` when
            not given) and the `SpatialRecord`.
        """
        if not isinstance(image, Volume):
            raise GeometryError(f"image: expected a keras_liver Volume, got {type(image).__name__}")
        array = as_finite_array(image.array, "image", ndims=(3, 4), dtype=None)
        labels = None
        if label is not None:
            labels = np.asarray(getattr(label, "array", label))
            if labels.shape != image.spatial_shape:
                raise GeometryError(f"label: shape {labels.shape} differs from the image grid {image.spatial_shape}")
        affine, spacing = image.affine, image.spacing
        steps = []

        if crop_mask is not None:
            mask = np.asarray(getattr(crop_mask, "array", crop_mask))
            if mask.shape != image.spatial_shape:
                raise GeometryError(f"crop_mask: shape {mask.shape} differs from the image grid {image.spatial_shape}")
            margin = [int(np.ceil(self.crop_margin_mm / s)) for s in spacing]
            start, stop = spatial.bounding_box(mask, margin)
            steps.append({"op": "crop", "shape_before": list(array.shape[-3:]), "start": list(start),
                          "stop": list(stop), "shape_after": [b - a for a, b in zip(start, stop)]})
            array = spatial.crop(array, start, stop)
            labels = None if labels is None else spatial.crop(labels, start, stop)
            affine = spatial.shift_affine(affine, start)

        if self.target_spacing is not None:
            shape = spatial.resampled_shape(array.shape, spacing, self.target_spacing)
            if shape != tuple(array.shape[-3:]):
                steps.append({"op": "resample", "shape_before": list(array.shape[-3:]), "shape_after": list(shape),
                              "spacing_before": list(spacing), "target_spacing": list(self.target_spacing)})
                affine = spatial.resample_affine(affine, array.shape, shape)
                array = spatial.resize(array, shape, order=self.image_order)
                labels = None if labels is None else spatial.resize(labels, shape, order=0)

        if self.pad_multiple > 1:
            before, after = spatial.pad_widths(array.shape, self.pad_multiple)
            if any(before) or any(after):
                value = float(array.min()) if self.pad_value is None else self.pad_value
                shape_before = list(array.shape[-3:])
                array = spatial.pad(array, before, after, value)
                labels = None if labels is None else spatial.pad(labels, before, after, 0)
                affine = spatial.shift_affine(affine, [-b for b in before])
                steps.append({"op": "pad", "shape_before": shape_before, "before": list(before),
                              "after": list(after), "shape_after": list(array.shape[-3:])})

        record = SpatialRecord(tuple(image.spatial_shape), image.affine, dict(image.meta), tuple(steps))
        meta = {"preprocessed": [s["op"] for s in steps]}
        out_image = Volume(array, affine, None, {**image.meta, **meta})
        out_label = None if labels is None else Volume(labels, affine, None, {**image.meta, **meta})
        logger.debug("spatial preprocessing %s -> %s (%s)", image.spatial_shape, record.output_shape, meta)
        return out_image, out_label, record

    def get_config(self) -> dict:
        """Constructor arguments."""
        return {"target_spacing": self.target_spacing, "crop_margin_mm": self.crop_margin_mm,
                "pad_multiple": self.pad_multiple, "image_order": self.image_order, "pad_value": self.pad_value}
