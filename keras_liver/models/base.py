"""`LiverModel`: the base of keras-liver's Keras models (task, input-shape checks, config round trip)."""

import inspect
import json

import keras

from keras_liver import tasks
from keras_liver.errors import ConfigError


class LiverModel(keras.Model):
    """A functional Keras model whose constructor arguments are its config.

    Subclasses build their graph in ``__init__``, call ``super().__init__``
    with named inputs and dict outputs, then `_remember` every constructor
    argument (normalised). `get_config` returns exactly those arguments plus
    ``name`` and ``trainable``, and `from_config` calls the constructor with
    them, so a ``.keras`` file rebuilds the same graph and an attribute changed
    after construction (``model.class_names = [...]``) is saved too. The
    model's `plan` (spacing, window, labels) is saved in the config beside them.

    Class attributes:
        task: Name of the model's task in `keras_liver.tasks` (what it takes and returns).
        main_input: The task input this model reads (default: the task's first).
        config_keys: The constructor arguments, in order, that `get_config` returns.
    """

    task: str = ""
    main_input: str = ""
    config_keys: tuple = ()

    @classmethod
    def input_name(cls) -> str:
        """The main input's name (``image``, ``sequence`` or ``curves``)."""
        return cls.main_input or tasks.get(cls.task).inputs[0]

    @classmethod
    def training_outputs(cls, model_args: dict) -> tuple:
        """The output keys a training pipeline gives targets for, for these constructor arguments."""
        return tasks.get(cls.task).target_keys

    @classmethod
    def check_args(cls, model_args: dict, source: str = "model_args") -> None:
        """`ConfigError` naming any key of ``model_args`` that the constructor does not take."""
        allowed = [p for p in inspect.signature(cls.__init__).parameters if p not in ("self", "kwargs")]
        unknown = sorted(set(model_args) - set(allowed))
        if unknown:
            raise ConfigError(f"{source}: {cls.__name__} takes no {unknown}; allowed: {allowed}")

    @staticmethod
    def coerce_input_shape(input_shape, ranks, layout: str) -> tuple:
        """``input_shape`` as a tuple of ints and ``None`` (`ConfigError` unless its length is in ``ranks``)."""
        try:
            shape = tuple(None if s is None else int(s) for s in input_shape)
        except (TypeError, ValueError):
            shape = None
        if shape is None or len(shape) not in tuple(ranks):
            raise ConfigError(f"input_shape: {layout}, got {input_shape}")
        return shape

    def _remember(self, **values) -> None:
        """Keep the normalised constructor arguments (``input_shape`` as ``input_shape_``)."""
        missing = sorted(set(self.config_keys) - set(values))
        if missing:
            raise AssertionError(f"{type(self).__name__}: config keys {missing} not recorded")  # a bug, not input
        for key, value in values.items():
            setattr(self, "input_shape_" if key == "input_shape" else key, value)

    @property
    def plan(self):
        """The model's `keras_liver.plans.Plan` (saved inside the ``.keras`` file), or ``None``."""
        from keras_liver.plans import Plan

        text = getattr(self, "_plan_json", None)
        return None if not text else Plan.from_json(text, f"model {self.name}")

    @plan.setter
    def plan(self, value) -> None:
        from keras_liver.plans import Plan

        if value is not None and not isinstance(value, Plan):
            value = Plan.from_dict(value, f"model {self.name}")
        if value is not None and value.task != self.task:
            raise ConfigError(f"plan: is for task {value.task}, but {self.name} is a {self.task} model")
        self._plan_json = None if value is None else value.to_json()  # a str: Keras does not track it

    def get_config(self):
        config = {}
        for key in self.config_keys:
            value = getattr(self, "input_shape_" if key == "input_shape" else key)
            config[key] = list(value) if isinstance(value, tuple) else value
        config.update(name=self.name, trainable=self.trainable)
        if getattr(self, "_plan_json", None):
            config["plan"] = json.loads(self._plan_json)
        return config

    @classmethod
    def from_config(cls, config):
        config = dict(config)
        plan = config.pop("plan", None)
        model = cls(**config)
        if plan is not None:
            model.plan = plan
        return model
