"""Segmentation and classification losses (`keras.losses.Loss` subclasses, registered).

Conventions shared by every segmentation loss here:

* ``y_true`` holds integer class labels ``(batch, ...)`` or ``(batch, ..., 1)``
  (or one-hot ``(batch, ..., classes)``); ``y_pred`` holds probabilities
  ``(batch, ..., classes)`` (softmax outputs).
* ``reduction_mode="sample"`` computes the overlap per sample and class and
  averages; ``"batch"`` pools the whole batch first (better with small
  patches in which a class is often absent).
* Smoothing: ``dice = (2 I + smooth_nr) / (P + T + smooth_dr)``. **Empty
  prediction against empty truth**: ``I = P = T = 0``, so the Dice is
  ``smooth_nr / smooth_dr``: 1 (loss 0) with the defaults (equal smoothing),
  0 (loss 1) with ``smooth_nr=0``. Tests pin both.
* **Finite gradients everywhere**: at probabilities of exactly 0 and 1 (a
  saturated softmax, which float32 reaches within a few hundred steps) and
  for classes absent from a batch, every loss here has a finite gradient.
  The cross-entropy term never goes through ``power(1 - p, 0)``, whose
  gradient at ``p = 1`` is ``0 * inf = NaN``; denominators are kept above
  zero even without smoothing.
"""

import keras
from keras import ops

from keras_liver.errors import ConfigError

REDUCTIONS = ("sample", "batch")
_TINY = 1e-12  # floor of every denominator and of the focal base, so no gradient divides by zero
NAMES = ("cross_entropy", "dice", "dice_ce", "focal", "tversky")
SCHEMES = ("equal", "deep_first")


def _one_hot(y_true, y_pred):
    """Labels as one-hot float32 like ``y_pred``: labels ``(b, ...)``, ``(b, ..., 1)`` or already one-hot."""
    y_true = ops.convert_to_tensor(y_true)
    num_classes = y_pred.shape[-1]
    if len(y_true.shape) == len(y_pred.shape):
        if y_true.shape[-1] == num_classes and num_classes != 1:
            return ops.cast(y_true, "float32")
        y_true = ops.squeeze(y_true, -1)
    return ops.one_hot(ops.cast(y_true, "int32"), num_classes)


def _overlaps(y_true, y_pred, reduction_mode):
    """Per (sample or batch) and class: intersection, predicted sum, true sum."""
    y_pred = ops.cast(y_pred, "float32")
    truth = ops.cast(_one_hot(y_true, y_pred), "float32")
    axes = tuple(range(1, len(y_pred.shape) - 1)) if reduction_mode == "sample" else tuple(range(len(y_pred.shape) - 1))
    inter = ops.sum(truth * y_pred, axis=axes)
    return inter, ops.sum(y_pred, axis=axes), ops.sum(truth, axis=axes), truth, y_pred


class _OverlapLoss(keras.losses.Loss):
    def __init__(self, smooth_nr=1e-5, smooth_dr=1e-5, include_background=False, reduction_mode="sample",
                 name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        if reduction_mode not in REDUCTIONS:
            raise ConfigError(f"reduction_mode: one of {REDUCTIONS}, got {reduction_mode!r}")
        self.smooth_nr, self.smooth_dr = float(smooth_nr), float(smooth_dr)
        self.include_background, self.reduction_mode = bool(include_background), reduction_mode

    def _per_sample(self, score, batch):
        score = score if self.include_background else score[..., 1:]
        loss = 1.0 - ops.mean(score, axis=-1)
        return loss if self.reduction_mode == "sample" else ops.broadcast_to(loss, (batch,))

    def get_config(self):
        return {**super().get_config(), "smooth_nr": self.smooth_nr, "smooth_dr": self.smooth_dr,
                "include_background": self.include_background, "reduction_mode": self.reduction_mode}


@keras.saving.register_keras_serializable(package="keras_liver")
class SoftDiceLoss(_OverlapLoss):
    """``1 - mean over classes of the soft Dice``.

    Args:
        smooth_nr: Added to the numerator.
        smooth_dr: Added to the denominator.
        include_background: Count class 0 in the mean.
        reduction_mode: ``"sample"`` or ``"batch"`` (see the module notes).
    """

    def call(self, y_true, y_pred):
        inter, pred, true, _, _ = _overlaps(y_true, y_pred, self.reduction_mode)
        dice = (2.0 * inter + self.smooth_nr) / ops.maximum(pred + true + self.smooth_dr, _TINY)
        return self._per_sample(dice, ops.shape(y_pred)[0])


@keras.saving.register_keras_serializable(package="keras_liver")
class TverskyLoss(_OverlapLoss):
    """``1 - Tversky index``; ``alpha`` weighs false positives, ``beta`` false negatives.

    ``alpha = beta = 0.5`` is the soft Dice; ``beta > alpha`` favours recall
    (Salehi et al., "Tversky loss function for image segmentation", 2017).
    """

    def __init__(self, alpha: float = 0.3, beta: float = 0.7, **kwargs):
        super().__init__(**kwargs)
        self.alpha, self.beta = float(alpha), float(beta)

    def call(self, y_true, y_pred):
        inter, pred, true, _, _ = _overlaps(y_true, y_pred, self.reduction_mode)
        fp, fn = pred - inter, true - inter
        index = (inter + self.smooth_nr) / ops.maximum(inter + self.alpha * fp + self.beta * fn + self.smooth_dr,
                                                       _TINY)
        return self._per_sample(index, ops.shape(y_pred)[0])

    def get_config(self):
        return {**super().get_config(), "alpha": self.alpha, "beta": self.beta}


@keras.saving.register_keras_serializable(package="keras_liver")
class FocalLoss(keras.losses.Loss):
    """Focal cross-entropy ``-alpha_c (1 - p_t)^gamma log p_t``, averaged over voxels (Lin et al., 2017).

    Args:
        gamma: Focusing exponent (0 gives cross-entropy).
        alpha: Optional per-class weights.
        epsilon: Probability floor.
    """

    def __init__(self, gamma: float = 2.0, alpha=None, epsilon: float = 1e-7, name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.gamma, self.epsilon = float(gamma), float(epsilon)
        self.alpha = None if alpha is None else [float(a) for a in alpha]

    def call(self, y_true, y_pred):
        y_pred = ops.clip(ops.cast(y_pred, "float32"), self.epsilon, 1.0)
        truth = ops.cast(_one_hot(y_true, y_pred), "float32")
        p_t = ops.sum(truth * y_pred, axis=-1)
        weight = 1.0 if self.alpha is None else ops.sum(truth * ops.convert_to_tensor(self.alpha), axis=-1)
        loss = -weight * ops.log(p_t)
        if self.gamma:  # (1 - p_t)^gamma with a floored base: d/dp of power(0, gamma) is 0 * inf for gamma < 1
            loss = loss * ops.power(ops.maximum(1.0 - p_t, _TINY), self.gamma)
        return ops.mean(ops.reshape(loss, (ops.shape(loss)[0], -1)), axis=-1)

    def get_config(self):
        return {**super().get_config(), "gamma": self.gamma, "alpha": self.alpha, "epsilon": self.epsilon}


@keras.saving.register_keras_serializable(package="keras_liver")
class DiceCELoss(keras.losses.Loss):
    """``dice_weight * SoftDice + ce_weight * cross-entropy`` (the nnU-Net default pairing).

    Args:
        dice_weight: Weight of the soft Dice loss.
        ce_weight: Weight of the voxel-averaged categorical cross-entropy.
        **dice_kwargs: `SoftDiceLoss` arguments (smoothing, background, reduction mode).
    """

    def __init__(self, dice_weight: float = 1.0, ce_weight: float = 1.0, smooth_nr=1e-5, smooth_dr=1e-5,
                 include_background=False, reduction_mode="sample", name=None, **kwargs):
        super().__init__(name=name, **kwargs)
        self.dice_weight, self.ce_weight = float(dice_weight), float(ce_weight)
        self.dice = SoftDiceLoss(smooth_nr=smooth_nr, smooth_dr=smooth_dr, include_background=include_background,
                                 reduction_mode=reduction_mode)
        self.focal = FocalLoss(gamma=0.0)

    def call(self, y_true, y_pred):
        return self.dice_weight * self.dice.call(y_true, y_pred) + self.ce_weight * self.focal.call(y_true, y_pred)

    def get_config(self):
        config = self.dice.get_config()
        return {**super().get_config(), "dice_weight": self.dice_weight, "ce_weight": self.ce_weight,
                **{k: config[k] for k in ("smooth_nr", "smooth_dr", "include_background", "reduction_mode")}}


def deep_supervision_weights(depth: int, scheme: str = "equal") -> dict:
    """Loss weights for the heads ``head_1`` .. ``head_depth`` of a deeply supervised `FusedUNet`.

    Args:
        depth: Number of heads.
        scheme: ``"equal"`` (UNet++'s average of the head losses) or
            ``"deep_first"`` (weights ``2**j`` normalised, favouring the
            deepest, most accurate head).

    Returns:
        ``{"head_j": weight}`` summing to 1, for ``model.compile(loss_weights=...)``.
    """
    if scheme == "equal":
        raw = [1.0] * depth
    elif scheme == "deep_first":
        raw = [2.0 ** j for j in range(1, depth + 1)]
    else:
        raise ConfigError(f"deep_supervision_scheme: one of {SCHEMES}, got {scheme!r}")
    return {f"head_{j}": w / sum(raw) for j, w in enumerate(raw, start=1)}


def get(name: str, **kwargs) -> keras.losses.Loss:
    """A loss by name (one of `NAMES`) with its constructor arguments; `ConfigError` for a bad name or argument."""
    table = {"cross_entropy": keras.losses.SparseCategoricalCrossentropy, "dice": SoftDiceLoss,
             "dice_ce": DiceCELoss, "focal": FocalLoss, "tversky": TverskyLoss}
    if name not in table:
        raise ConfigError(f"loss: one of {list(NAMES)}, got {name!r}")
    try:
        return table[name](**kwargs)
    except TypeError as exc:
        raise ConfigError(f"loss_args: the {name} loss does not take {sorted(kwargs)} ({exc})") from None
