"""`ServingModel`: what an exported model takes and returns, and the TF function that computes it."""

import dataclasses

import numpy as np

from keras_liver import tasks
from keras_liver.errors import ConfigError, ExportError


@dataclasses.dataclass
class ServingModel:
    """A Keras model prepared for export, and its serving contract.

    Attributes:
        model: float32 Keras model with named inputs and a ``probabilities`` output.
        task: The model's `keras_liver.tasks.Task`: its kind decides the outputs,
            ``mask`` (segmentation) or ``label`` and ``class_name`` (classification).
        input_shapes: ``{name: shape}`` without the batch axis (``None`` = any size).
        labels: Class names in index order.
        plan: The model's `keras_liver.plans.Plan` (``None`` for a model saved without one).
    """

    model: object
    task: str
    input_shapes: dict
    labels: tuple
    source_class: str = ""
    plan: object = None

    @classmethod
    def from_keras(cls, model, mode: str = "accurate", level=None) -> "ServingModel":
        """Prepare a trained model: float32 copy, deep-supervision heads dropped.

        Args:
            model: FusedUNet, UNet, DCEClassifier, DCESegmenter or any model with
                named inputs and a dict output holding ``probabilities``.
            mode, level: `FusedUNet.inference_model` settings for models with
                deep supervision.
        """
        from keras_liver.export.float32 import float32_copy

        try:
            task = tasks.task_of(model)
        except ConfigError as exc:
            raise ExportError(f"model {model.name}: not a keras-liver task model ({exc})") from None
        source_class = type(model).__name__
        plan = getattr(model, "plan", None)  # read before the copies below, which are plain Keras models
        if level is not None and not hasattr(model, "inference_model"):
            raise ExportError(f"level: only models with deep-supervision heads (FusedUNet) can be pruned; "
                              f"{model.name} is a {source_class}")
        model = float32_copy(model)
        if getattr(model, "deep_supervision", False) or level is not None:
            model = model.inference_model(mode, level)
        shapes = {name: tuple(model.input[name].shape[1:]) for name in task.ordered_inputs(model.input)}
        classes = int(model.output["probabilities"].shape[-1])
        names = getattr(model, "class_names", None)
        if not names:
            default = task.label_names or ()
            names = default if len(default) == classes else [f"class_{k}" for k in range(classes)]
        return cls(model=model, task=task, input_shapes=shapes, labels=tuple(names),
                   source_class=source_class, plan=plan)

    def tensor_specs(self) -> list:
        """``tf.TensorSpec``s, named, float32, with a dynamic batch axis: the signature's inputs."""
        import tensorflow as tf

        return [tf.TensorSpec((None, *shape), tf.float32, name=name) for name, shape in self.input_shapes.items()]

    def serving_fn(self):
        """The function behind ``serving_default``: positional inputs in `input_shapes` order -> dict."""
        import tensorflow as tf

        names = list(self.input_shapes)
        model = self.model

        def serve(*tensors):
            out = model(dict(zip(names, tensors)), training=False)
            probs = tf.cast(out["probabilities"], tf.float32)
            result = {"probabilities": probs}
            if not self.task.is_segmentation:
                result["label"] = tf.cast(tf.argmax(probs, axis=-1), tf.int32)
                result["class_name"] = tf.gather(tf.constant(list(self.labels)), result["label"])
            else:
                result["mask"] = tf.cast(tf.argmax(probs, axis=-1), tf.uint8)
            return result

        return serve

    def plan_json(self, patch_size=None) -> str:
        """The plan the ``plan`` signature returns: the model's, or a legacy one (the scan's own spacing)."""
        from keras_liver.plans import Plan, StagePlan

        if self.plan is not None:
            return self.plan.to_json()
        window = tuple(int(p) for p in (patch_size or ()))
        if not window:  # the main input's own spatial sizes (the last three; 2D models get z = 1)
            window = tuple(s or 64 for s in next(iter(self.input_shapes.values()))[:-1])[-3:]
        window = (1,) * (3 - len(window)) + window
        return Plan(task=self.task.name, stages=(StagePlan("liver_tumour", None, window,
                                                           labels=tuple(self.labels)),), source="legacy").to_json()

    def plan_fn(self, patch_size=None):
        """The function behind the ``plan`` signature: ``plan_format`` (int32 scalar, any value) -> the plan JSON.

        TF Serving refuses a signature without inputs over REST
        (tensorflow/serving#1676), hence the one scalar input.
        """
        import tensorflow as tf

        text = self.plan_json(patch_size)

        def plan(plan_format):
            del plan_format
            return {"plan": tf.constant(text)}

        return plan

    def keras_outputs(self, inputs: dict) -> dict:
        """The same outputs computed by the Keras model (the verification reference)."""
        out = self.model.predict_on_batch(inputs)
        probs = np.asarray(out["probabilities"], np.float32)
        if self.task.is_segmentation:
            return {"probabilities": probs, "mask": probs.argmax(-1).astype(np.uint8)}
        label = probs.argmax(-1).astype(np.int32)
        names = np.array([n.encode() for n in self.labels], dtype=object)
        return {"probabilities": probs, "label": label, "class_name": names[label]}

    def example_inputs(self, batch: int = 1, shapes=None, seed: int = 0) -> dict:
        """Plausible raw inputs (HU for ``image``, MR signal for ``sequence``) for warm-up and checks.

        Args:
            batch: Batch size.
            shapes: ``{name: shape}`` without batch, replacing ``None`` sizes
                (default 64 per 2D axis, 32 x 64 x 64 in 3D, 6 time points x 16 x 32 x 32 for series).
            seed: Random seed.
        """
        rng = np.random.default_rng(seed)
        out = {}
        for name, shape in self.input_shapes.items():
            wanted = tuple((shapes or {}).get(name, ()))
            if wanted:
                if len(wanted) != len(shape) or any(s is not None and s != w for s, w in zip(shape, wanted)):
                    raise ExportError(f"example shape for {name!r}: {wanted} does not fit the input {shape}")
                full = wanted
            else:
                default = {3: (64, 64), 4: (32, 64, 64), 5: (6, 16, 32, 32)}.get(len(shape), (32,) * len(shape))
                full = tuple(d if s is None else s for s, d in zip(shape[:-1], default)) + (shape[-1],)
                full = tuple(32 if s is None else s for s in full)
            main = name == self.task.main_input(self.input_shapes)
            if main and self.task.modality == "CT":
                x = rng.uniform(-150.0, 250.0, (batch, *full))
            elif main and len(full) == 5:  # a DCE series (t, z, y, x, c)
                x = 100.0 + 20.0 * rng.standard_normal((batch, *full))
                x[:, 1:] += np.linspace(0.0, 150.0, full[0] - 1).reshape((1, -1) + (1,) * (len(full) - 1))
            else:
                x = rng.uniform(0.0, 1.0, (batch, *full))
            out[name] = x.astype(np.float32)
        return out
