"""`SegmenterEnsemble`: segmentation models with one plan, their probabilities averaged."""

import keras

from keras_liver import tasks
from keras_liver.errors import ConfigError
from keras_liver.layers.arg_max import ArgMax


@keras.saving.register_keras_serializable(package="keras_liver")
class SegmenterEnsemble(keras.Model):
    """Two or more segmentation models of one task and one plan, run as one model.

    Every member sees the same window; the ensemble's ``probabilities`` are the
    members' probabilities averaged (so still a distribution per voxel) and its
    ``mask`` their arg-max. Models trained with different losses make different
    errors (one misses small lesions another finds, the other's confident false
    positives are where the first is unsure), and the average keeps what they agree
    on: nnU-Net ensembles its cross-validation folds the same way (Isensee et al.,
    Nature Methods 2021). The members must share their plan's stage (spacing,
    window, labels, intensity handling, ROI rule), so the ensemble can stand where
    any one of them stands: as a cascade or pipeline stage, or exported alone.

    Args:
        members: Keras models of one segmentation task with the same inputs and a plan.
        name: Model name.
    """

    def __init__(self, members, name: str = "segmenter_ensemble", **kwargs):
        members = list(members)
        if len(members) < 2:
            raise ConfigError(f"members: an ensemble needs at least two models, got {len(members)}")
        if len({id(m) for m in members}) != len(members):
            raise ConfigError("members: the same model is given twice; give each member once")
        task_names = set()
        for i, model in enumerate(members):
            if not isinstance(model, keras.Model):
                raise ConfigError(f"members[{i}]: needs a Keras model, got {type(model).__name__}")
            task = tasks.task_of(model)
            if task.kind != "segmentation":
                raise ConfigError(f"members[{i}]: {model.name} is a {task.name} model, not a segmentation model")
            task_names.add(task.name)
            if getattr(model, "plan", None) is None:
                raise ConfigError(f"members[{i}]: {model.name} has no plan; an ensemble takes planned models")
        if len(task_names) != 1:
            raise ConfigError(f"members: need one task, got {sorted(task_names)}")
        first = members[0]
        stage = _comparable(first.plan.stage)
        for i, model in enumerate(members[1:], start=1):
            if _comparable(model.plan.stage) != stage:
                raise ConfigError(f"members[{i}]: {model.name}'s plan {_comparable(model.plan.stage)} differs from "
                                  f"{first.name}'s {stage}; members must share spacing, window, labels and ROI")
            if _shapes(model) != _shapes(first):
                raise ConfigError(f"members[{i}]: inputs {_shapes(model)} differ from {first.name}'s {_shapes(first)}")
        for i, model in enumerate(members):
            model.name = f"member_{i}"
        ins = {n: keras.Input(tuple(s), name=n) for n, s in _shapes(first).items()}
        probs = [model(ins)["probabilities"] for model in members]
        mean = keras.layers.Average(name="probabilities", dtype="float32")(probs)
        outputs = {"probabilities": mean, "mask": ArgMax(name="mask")(mean)}
        super().__init__(inputs=ins, outputs=outputs, name=name, **kwargs)
        self.members = members
        self.task = task_names.pop()

    @property
    def plan(self):
        """The members' common plan (the first member's)."""
        return self.members[0].plan

    def get_config(self):
        return {"members": [keras.saving.serialize_keras_object(m) for m in self.members],
                "name": self.name, "trainable": self.trainable}

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        members = [keras.saving.deserialize_keras_object(m) for m in config.pop("members")]
        return cls(members, **config)


def _comparable(stage) -> dict:
    """A stage plan without its name: what members must agree on."""
    data = stage.to_dict()
    data.pop("name", None)
    return data


def _shapes(model) -> dict:
    """``{input name: shape without the batch axis}`` of a model with named inputs."""
    if not isinstance(model.input, dict):
        raise ConfigError(f"{model.name}: needs named (dict) inputs")
    return {n: tuple(t.shape[1:]) for n, t in model.input.items()}
