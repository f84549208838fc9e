"""The task contract: what each kind of keras-liver model takes, returns and is trained with.

A *task* says everything the rest of the package needs to know about a
model without looking at its class: the named inputs and their ranks (the
gRPC contract in TF Serving), the keys of the Keras model's dict output and
of the exported signature, the label names, the default loss and monitored
metric, and whether the train/validation split is stratified. Trainer,
multi-worker loop, export, serving clients, dev server and command line
dispatch on `Task`; this module is the only place that looks at input or
output names to tell tasks apart (`task_of`).

TensorFlow-free, so every layer of the package may import it.

Example:
    >>> from keras_liver import tasks
    >>> tasks.get("ct_segmentation").inputs
    ('image',)
    >>> tasks.task_of(model).name          # a FusedUNet
    'ct_segmentation'
    >>> tasks.task_of(client.metadata()).kind
    'classification'
"""

import dataclasses

from keras_liver.errors import ConfigError


@dataclasses.dataclass(frozen=True)
class Task:
    """One task's contract.

    Attributes:
        name: Config and metadata name (``"ct_segmentation"`` ...).
        kind: ``"segmentation"`` (a label map per voxel) or ``"classification"`` (one class per input).
        modality: What a model reads: ``"CT"`` (a 3D volume in HU) or ``"DCE"`` (a 4D MR series).
        inputs: Accepted main input names, first is the usual one (a model has exactly one of them).
        input_ranks: ``{input: ranks}`` without the batch axis (``image``: 3 for 2D, 4 for 3D).
        optional_inputs: Further inputs a model of this task may take (``hog``).
        model_outputs: Keys every Keras model of this task returns.
        serving_outputs: Keys of the exported ``serving_default`` signature.
        target_keys: Keys of the training targets given to ``fit``.
        label_names: Names of the label values (segmentation); ``None``: the model's class names.
        data: Layout of the training data: ``"ct_folder"`` (LiTS) or ``"dce_folder"``.
        losses: Loss names (`keras_liver.losses.get`) a training config may choose; the first is the default.
        metric_names: Metrics logged in training (``val_`` prefixed for validation).
        default_monitor: Metric for the best checkpoint and early stopping.
        stratified_split: Split cases stratified by class.
        expects: What a client sends per main input (metadata text).
    """

    name: str
    kind: str
    modality: str
    inputs: tuple
    input_ranks: dict
    optional_inputs: tuple
    model_outputs: tuple
    serving_outputs: tuple
    target_keys: tuple
    label_names: tuple | None
    data: str
    losses: tuple
    metric_names: tuple
    default_monitor: str
    stratified_split: bool
    expects: dict

    @property
    def is_segmentation(self) -> bool:
        return self.kind == "segmentation"

    @property
    def default_loss(self) -> str:
        return self.losses[0]

    def ordered_inputs(self, names) -> list:
        """``names`` in the order the window channels are stacked: the main input, then the optional ones."""
        main = self.main_input(names)
        extra = [n for n in self.optional_inputs if n in names]
        unknown = sorted(set(names) - {main, *extra})
        if unknown:
            raise ConfigError(f"task {self.name}: inputs {unknown} are not part of its contract")
        return [main, *extra]

    def check_monitor(self, monitor: str) -> None:
        """`ConfigError` unless ``monitor`` is ``loss`` or a logged metric, optionally ``val_``-prefixed."""
        allowed = [f"{p}{m}" for p in ("val_", "") for m in ("loss", *self.metric_names)]
        if monitor not in allowed:
            raise ConfigError(f"monitor: for task {self.name} one of {allowed}, got {monitor!r}")

    def main_input(self, names) -> str:
        """The one of ``names`` that is this task's main input (`ConfigError` if none)."""
        found = [n for n in self.inputs if n in names]
        if len(found) != 1:
            raise ConfigError(f"task {self.name}: a model takes one of the inputs {list(self.inputs)}, "
                              f"got {sorted(names)}")
        return found[0]


_SEGMENTATION_LOSSES = ("dice_ce", "dice", "focal", "tversky", "cross_entropy")
_SEGMENTATION_METRICS = ("dice_1", "dice_2", "precision_2", "recall_2")

TASKS = {
    "ct_segmentation": Task(
        name="ct_segmentation", kind="segmentation", modality="CT", inputs=("image",),
        input_ranks={"image": (3, 4)},
        optional_inputs=("hog",), model_outputs=("probabilities",), serving_outputs=("probabilities", "mask"),
        target_keys=("probabilities",), label_names=("background", "liver", "tumour"), data="ct_folder",
        losses=_SEGMENTATION_LOSSES, metric_names=_SEGMENTATION_METRICS, default_monitor="val_dice_2",
        stratified_split=False,
        expects={"image": "raw CT intensities in HU", "hog": "keras_liver.features.hog_map of the image"}),
    "dce_classification": Task(
        name="dce_classification", kind="classification", modality="DCE", inputs=("sequence", "curves"),
        input_ranks={"sequence": (5,), "curves": (2,), "masks": (4,)}, optional_inputs=("masks",),
        model_outputs=("probabilities", "label"), serving_outputs=("probabilities", "label", "class_name"),
        target_keys=("probabilities", "label"), label_names=None, data="dce_folder", losses=("cross_entropy",),
        metric_names=("accuracy", "macro_f1", "macro_auc"), default_monitor="val_macro_f1", stratified_split=True,
        expects={"sequence": "raw DCE-MRI signal, (time, z, y, x, 1), frames in acquisition order",
                 "curves": "keras_liver.features.time_intensity_curves of the series",
                 "masks": "the lesion's own voxels and the liver's on the crop's grid, (z, y, x, 2), "
                          "keras_liver.data.lesion_mask_crops"}),
    "dce_segmentation": Task(
        name="dce_segmentation", kind="segmentation", modality="DCE", inputs=("sequence",),
        input_ranks={"sequence": (5,)},
        optional_inputs=(), model_outputs=("probabilities", "mask"), serving_outputs=("probabilities", "mask"),
        target_keys=("probabilities", "mask"), label_names=("background", "liver", "lesion"), data="dce_folder",
        losses=_SEGMENTATION_LOSSES, metric_names=_SEGMENTATION_METRICS, default_monitor="val_dice_2",
        stratified_split=False,
        expects={"sequence": "raw DCE-MRI signal, (time, z, y, x, 1), frames in acquisition order"}),
}

def names() -> tuple:
    """The task names, in definition order."""
    return tuple(TASKS)


def get(name) -> Task:
    """The `Task` called ``name`` (a `Task` is returned as it is).

    Raises:
        ConfigError: Unknown task, naming the known ones.
    """
    if isinstance(name, Task):
        return name
    if name not in TASKS:
        raise ConfigError(f"task: one of {list(TASKS)}, got {name!r}")
    return TASKS[name]


def _names_of(obj) -> tuple:
    """``(input names, output names, input ranks)`` of a Keras model or a signature/metadata dict."""
    if isinstance(obj, dict):
        inputs, outputs = obj.get("inputs") or {}, obj.get("outputs") or {}
        ranks = {}
        for key, info in inputs.items():
            shape = info.get("shape") if isinstance(info, dict) else None
            if shape is not None:
                ranks[key] = len(shape) - 1  # signatures list the batch axis
        return set(inputs), set(outputs), ranks
    model_inputs = getattr(obj, "input", None)
    model_outputs = getattr(obj, "output", None)
    if not isinstance(model_inputs, dict) or not isinstance(model_outputs, dict):
        raise ConfigError(f"model {getattr(obj, 'name', obj)!r}: keras-liver models have named (dict) inputs "
                          "and a dict output")
    ranks = {k: len(v.shape) - 1 for k, v in model_inputs.items()}
    return set(model_inputs), set(model_outputs), ranks


def task_of(obj) -> Task:
    """The task of a Keras model, an exported signature or a ``metadata.json`` document.

    Args:
        obj: A Keras model with dict inputs and outputs (a model that carries
            a ``task`` attribute, as keras-liver's own do, answers with it);
            a client's ``metadata()`` dict or a SignatureDef-like dict
            ``{"inputs": {name: {"shape": [...]}}, "outputs": {...}}``; or an
            export's ``metadata.json`` (its ``task_name`` decides).

    Returns:
        The matching `Task`.

    Raises:
        ConfigError: No task (or more than one) fits the names.
    """
    declared = obj.get("task_name") if isinstance(obj, dict) else getattr(obj, "task", None)
    if isinstance(declared, (str, Task)) and (isinstance(declared, Task) or declared in TASKS):
        return get(declared)
    inputs, outputs, ranks = _names_of(obj)
    fits = []
    for task in TASKS.values():
        main = [n for n in task.inputs if n in inputs]
        if len(main) != 1 or inputs - set(main) - set(task.optional_inputs):
            continue
        if main[0] in ranks and ranks[main[0]] not in task.input_ranks[main[0]]:
            continue
        if not set(task.model_outputs) <= outputs and not set(task.serving_outputs) <= outputs:
            continue
        fits.append(task)
    if len(fits) != 1:
        what = "no task" if not fits else f"tasks {[t.name for t in fits]}"
        raise ConfigError(f"inputs {sorted(inputs)} and outputs {sorted(outputs)} fit {what}; keras-liver tasks: "
                          + "; ".join(f"{t.name} (inputs {list(t.inputs)}, outputs {list(t.model_outputs)})"
                                      for t in TASKS.values()))
    return fits[0]
