"""Stateless random augmentation in TensorFlow: every draw comes from a per-element seed.

All functions take ``seed``, a ``(2,)`` int32 tensor, and derive sub-seeds
with ``tf.random.experimental.stateless_fold_in``, so an element's
augmentation depends only on (pipeline seed, element index), whatever the
parallelism, and never on Python ``random`` (which would run once, at
trace time).
"""

import math

import tensorflow as tf

from keras_liver.phantoms.anatomy import TUMOUR_TISSUES, Tissue

TISSUE_CODES = 32  # look-up table size of the per-tissue remap (codes of `Tissue` and spare)
TISSUE_REMAP = {"p": 0.8, "shift_hu": 40.0, "tumour_delta_hu": 10.0}


def remap_tissues(image, tissue, seed, *, spatial_dims: int = 3, p: float = 0.8, shift_hu: float = 40.0,
                  tumour_delta_hu: float = 10.0):
    """Shift every phantom tissue's intensity by its own random amount (SynthSeg's idea, milder).

    Each tissue code gets a shift drawn from ``[-shift_hu, shift_hu]``; air keeps its value;
    the tumour tissues get the liver's shift plus at most ``tumour_delta_hu``, so a tumour
    keeps most of its contrast against the liver while every other border (liver against
    muscle, spleen, a mass outside the liver) moves. The shift field is averaged over 3
    voxels so the borders stay as blurred as the acquisition made them.

    Args:
        image: ``(*spatial, c)`` float32 patch (every channel is shifted alike).
        tissue: ``(*spatial)`` integer tissue codes of the patch (`Tissue`).
        seed: ``(2,)`` stateless seed.
        spatial_dims: 2 or 3.
        p: Probability of the remap.
        shift_hu: Largest shift.
        tumour_delta_hu: Largest departure of the tumour's shift from the liver's.
    """
    codes = tf.range(TISSUE_CODES)
    shifts = _u(seed, 50, -shift_hu, shift_hu, (TISSUE_CODES,))
    tumour = tf.reduce_any(codes[:, None] == tf.constant([int(t) for t in TUMOUR_TISSUES])[None], axis=1)
    shifts = tf.where(tumour, shifts[int(Tissue.LIVER)] + _u(seed, 51, -tumour_delta_hu, tumour_delta_hu,
                                                              (TISSUE_CODES,)), shifts)
    shifts = tf.where(codes == int(Tissue.AIR), 0.0, shifts)
    field = tf.gather(shifts, tf.clip_by_value(tf.cast(tissue, tf.int32), 0, TISSUE_CODES - 1))[None, ..., None]
    pool = tf.nn.avg_pool3d if spatial_dims == 3 else tf.nn.avg_pool2d
    field = pool(field, 3, 1, "SAME")[0]
    return tf.cond(_u(seed, 52) < p, lambda: image + field, lambda: image)


def _u(seed, salt, low=0.0, high=1.0, shape=()):
    return tf.random.stateless_uniform(shape, tf.random.experimental.stateless_fold_in(seed, salt), low, high)


def _rotation_scale_matrix(angle, scale, height, width):
    """ImageProjectiveTransform parameters rotating by ``angle`` and zooming by ``scale`` about the centre."""
    cos, sin = tf.cos(angle) / scale, tf.sin(angle) / scale
    cy, cx = (tf.cast(height, tf.float32) - 1) / 2, (tf.cast(width, tf.float32) - 1) / 2
    # output (x, y) -> input (x', y'): rotate and scale about the centre
    a0, a1 = cos, -sin
    b0, b1 = sin, cos
    a2 = cx - a0 * cx - a1 * cy
    b2 = cy - b0 * cx - b1 * cy
    return tf.stack([a0, a1, a2, b0, b1, b2, 0.0, 0.0])


def _transform(images, matrix, interpolation, fill):
    """Apply one in-plane transform to ``(n, y, x, c)`` images."""
    n = tf.shape(images)[0]
    return tf.raw_ops.ImageProjectiveTransformV3(
        images=images, transforms=tf.tile(matrix[None], [n, 1]), output_shape=tf.shape(images)[1:3],
        interpolation=interpolation, fill_mode="NEAREST", fill_value=fill)


def _coarser(image, factor, spatial_dims):
    """``image`` shrunk in plane by ``factor`` (area) and enlarged back (bilinear) to its own size."""
    batch = image[None] if spatial_dims == 2 else image  # (n, y, x, c)
    size = tf.shape(batch)[1:3]
    small = tf.maximum(tf.cast(tf.round(tf.cast(size, tf.float32) / factor), tf.int32), 1)
    out = tf.image.resize(tf.image.resize(batch, small, method="area"), size, method="bilinear")
    out = tf.ensure_shape(out, batch.shape)
    return out[0] if spatial_dims == 2 else out


def _thicker(image, factor):
    """A ``(z, y, x, c)`` patch shrunk through-plane by ``factor`` (area) and enlarged back (linear): thicker slices."""
    by_row = tf.transpose(image, [1, 0, 2, 3])  # (y, z, x, c): each row a (z, x) image
    size = tf.shape(by_row)[1:3]
    small = tf.stack([tf.maximum(tf.cast(tf.round(tf.cast(size[0], tf.float32) / factor), tf.int32), 1), size[1]])
    out = tf.image.resize(tf.image.resize(by_row, small, method="area"), size, method="bilinear")
    return tf.ensure_shape(tf.transpose(out, [1, 0, 2, 3]), image.shape)


def _thicker_context(image, factor):
    """A 2.5D ``(y, x, slices)`` patch made of thicker slices: `_thicker` along its slice channels."""
    as_volume = tf.transpose(image, [2, 0, 1])[..., None]  # (slices, y, x, 1)
    return tf.transpose(_thicker(as_volume, factor)[..., 0], [1, 2, 0])


def _textured(noise, spatial_dims):
    """White noise smoothed in plane by a 3 x 3 mean and scaled back to unit variance: a reconstruction kernel's grain."""
    batch = noise[None] if spatial_dims == 2 else noise  # (n, y, x, c)
    smooth = tf.nn.avg_pool2d(batch, 3, 1, "SAME") * 3.0  # the mean of 9 unit normals has a standard deviation of 1/3
    return smooth[0] if spatial_dims == 2 else smooth


def _bias_field(shape, seed, spatial_dims, amplitude):
    """A smooth additive field up to ``amplitude``: a random linear ramp per axis and a radial cupping term."""
    axes = [tf.linspace(-1.0, 1.0, shape[a]) for a in range(spatial_dims)]
    grids = tf.meshgrid(*axes, indexing="ij")
    slopes = _u(seed, 60, -1.0, 1.0, (spatial_dims,))
    ramp = tf.add_n([slopes[a] * grids[a] for a in range(spatial_dims)]) / float(spatial_dims)
    radius = tf.add_n([g * g for g in grids[-2:]]) / 2.0  # in plane: the centre of the field of view is darker
    cup = _u(seed, 61, -1.0, 1.0) * (radius - 0.5)
    field = 0.5 * (ramp + cup)  # each part within [-0.5, 0.5]: the field within [-1, 1] times the amplitude
    return (field * amplitude)[..., None]


def augment_patch(image, label, seed, *, spatial_dims: int = 3, flip_axes=None, rot90: bool = True,
                  rotate_degrees: float = 15.0, scale_range=(0.85, 1.15), p_affine: float = 0.3,
                  intensity_scale=(0.9, 1.1), intensity_shift=20.0, gamma_range=(0.8, 1.25), p_gamma: float = 0.3,
                  noise_sigma: float = 10.0, p_noise: float = 0.3, hu_channels: int = 1, p_lowres: float = 0.0,
                  lowres_range=(1.5, 3.5), p_thick: float = 0.0, thick_range=(1.5, 3.0), p_texture: float = 0.0,
                  p_bias: float = 0.0, bias_hu: float = 25.0, tissue=None, tissue_remap=None):
    """Augment one ``(z, y, x, c)`` (or ``(y, x, c)``) image patch and its label map ``(z, y, x)``.

    Geometric transforms (flips, 90-degree in-plane rotations, small
    in-plane rotations and scaling) move image and label together (label by
    nearest neighbour); intensity transforms (scale, shift in HU, gamma on
    the patch's own range, Gaussian noise) touch the first ``hu_channels``
    image channels only (the image; 2.5D patches have several), alike.
    Resolution (``p_lowres``): the image is shrunk in plane by a random
    factor (area-averaged, as a coarser acquisition integrates) and
    enlarged back (bilinear, as resampling a coarse scan to the model's
    spacing does), so a model trained at 1 mm also sees 1.5-3.5 mm scans;
    ``p_thick`` does the same through-plane: thicker slices (3D patches,
    or the context slices of a 2.5D patch, its first ``hu_channels >= 3``
    channels, which then stand for the z axis).
    Noise texture (``p_texture``): the Gaussian noise smoothed in plane to
    the grain of a soft reconstruction kernel, at the same standard
    deviation. Bias (``p_bias``): a smooth additive field of at most
    ``bias_hu`` (a linear ramp per axis and an in-plane cupping term, as
    beam hardening leaves in CT). All of these are off by default.
    Tissues (``tissue`` and ``tissue_remap``): `remap_tissues` first, on the
    HU channels, while the tissue map still lies on the image.

    Args:
        image: float32 patch, channels last.
        label: integer label patch without channel axis.
        seed: ``(2,)`` int32 stateless seed.
        spatial_dims: 2 or 3.
        flip_axes: Spatial axes that may be mirrored (default all).
        rot90: Random multiples of 90 degrees in plane (square patches only).
        rotate_degrees: Maximum in-plane rotation.
        scale_range: In-plane zoom range.
        p_affine: Probability of the rotation/zoom.
        intensity_scale: Multiplicative range.
        intensity_shift: Additive range (+-, image units).
        gamma_range: Gamma range, applied with probability ``p_gamma``.
        noise_sigma: Maximum noise standard deviation, with probability ``p_noise``.
        hu_channels: Leading channels that are image intensities (the rest,
            for example a HOG map, is left as it is).
        p_lowres: Probability of the resolution change.
        lowres_range: Range of its in-plane shrink factor.
        p_thick: Probability of the through-plane resolution change (3D, or 2.5D with
            ``hu_channels >= 3``).
        thick_range: Range of its through-plane shrink factor.
        p_texture: Probability that the noise (when drawn) is textured.
        p_bias: Probability of the bias field.
        bias_hu: Its largest value (image units).
        tissue: Optional tissue codes of the patch (the label's shape).
        tissue_remap: `remap_tissues` settings (``{}``: `TISSUE_REMAP`), or ``None``: off.

    Returns:
        ``(image, label)`` with the input shapes and dtypes.
    """
    label_dtype = label.dtype
    if tissue is not None and tissue_remap is not None:
        first, rest = image[..., :hu_channels], image[..., hu_channels:]
        first = remap_tissues(first, tissue, seed, spatial_dims=spatial_dims, **{**TISSUE_REMAP, **tissue_remap})
        image = tf.concat([first, rest], axis=-1)
    label = tf.cast(label, tf.float32)[..., None]
    axes = list(range(spatial_dims)) if flip_axes is None else list(flip_axes)
    for k, axis in enumerate(axes):
        flip = _u(seed, 10 + k) < 0.5
        image = tf.cond(flip, lambda a=axis: tf.reverse(image, [a]), lambda: image)
        label = tf.cond(flip, lambda a=axis: tf.reverse(label, [a]), lambda: label)
    # in-plane ops work on (n, y, x, c) with the depth axis as batch
    as_2d = (lambda t: t[None]) if spatial_dims == 2 else (lambda t: t)
    back = (lambda t: t[0]) if spatial_dims == 2 else (lambda t: t)
    image, label = as_2d(image), as_2d(label)
    if rot90 and image.shape[1] is not None and image.shape[1] == image.shape[2]:
        k = tf.cast(tf.floor(_u(seed, 20, 0.0, 4.0)), tf.int32)
        image, label = tf.image.rot90(image, k), tf.image.rot90(label, k)
    if p_affine > 0:
        angle = _u(seed, 21, -rotate_degrees, rotate_degrees) * (math.pi / 180.0)
        scale = _u(seed, 22, scale_range[0], scale_range[1])
        matrix = _rotation_scale_matrix(angle, scale, tf.shape(image)[1], tf.shape(image)[2])
        do = _u(seed, 23) < p_affine
        image = tf.cond(do, lambda: _transform(image, matrix, "BILINEAR", 0.0), lambda: image)
        label = tf.cond(do, lambda: _transform(label, matrix, "NEAREST", 0.0), lambda: label)
    image, label = back(image), back(label)
    first, rest = image[..., :hu_channels], image[..., hu_channels:]
    if p_lowres > 0:
        first = tf.cond(_u(seed, 40) < p_lowres,
                        lambda: _coarser(first, _u(seed, 41, lowres_range[0], lowres_range[1]), spatial_dims),
                        lambda: first)
    if p_thick > 0 and spatial_dims == 3:
        first = tf.cond(_u(seed, 42) < p_thick, lambda: _thicker(first, _u(seed, 43, thick_range[0], thick_range[1])),
                        lambda: first)
    if p_thick > 0 and spatial_dims == 2 and hu_channels >= 3:  # 2.5D: the context slices are the z axis
        first = tf.cond(_u(seed, 42) < p_thick,
                        lambda: _thicker_context(first, _u(seed, 43, thick_range[0], thick_range[1])),
                        lambda: first)
    if p_bias > 0:
        first = tf.cond(_u(seed, 62) < p_bias,
                        lambda: first + _bias_field(tf.shape(first)[:-1], seed, spatial_dims, bias_hu),
                        lambda: first)
    first = first * _u(seed, 30, intensity_scale[0], intensity_scale[1]) + _u(seed, 31, -intensity_shift,
                                                                                intensity_shift)
    low, high = tf.reduce_min(first), tf.reduce_max(first)
    span = tf.maximum(high - low, 1e-6)
    gamma = _u(seed, 32, gamma_range[0], gamma_range[1])
    first = tf.cond(_u(seed, 33) < p_gamma, lambda: tf.pow((first - low) / span, gamma) * span + low, lambda: first)
    sigma = _u(seed, 34, 0.0, noise_sigma)
    noise = tf.random.stateless_normal(tf.shape(first), tf.random.experimental.stateless_fold_in(seed, 35))
    if p_texture > 0:
        noise = tf.cond(_u(seed, 37) < p_texture, lambda: _textured(noise, spatial_dims), lambda: noise)
    noise = noise * sigma
    first = tf.cond(_u(seed, 36) < p_noise, lambda: first + noise, lambda: first)
    image = tf.concat([first, rest], axis=-1)
    return image, tf.cast(tf.round(label[..., 0]), label_dtype)
