"""``init_from``: start a training run from a trained model, a preset's stage included (fine-tuning)."""

import logging

from keras_liver.errors import ConfigError

logger = logging.getLogger(__name__)

_STAGE_ATTRIBUTES = {"liver": ("liver_stage",), "tumour": ("tumour_stage", "lesion_stage"),
                     "lesion": ("lesion_stage", "tumour_stage"), "classifier": ("classifier",)}


def init_source(config):
    """The model ``config.init_from`` names, the stage ``init_stage`` picks from a cascade or pipeline."""
    from keras_liver.models import load_model

    model = load_model(config.init_from, compile=False)
    stages = [a for a in ("liver_stage", "tumour_stage", "lesion_stage", "classifier") if hasattr(model, a)]
    if not stages:
        if config.init_stage is not None:
            raise ConfigError(f"init_stage: {config.init_from} is one model ({type(model).__name__}), not a cascade")
        return model
    stage = config.init_stage or ("classifier" if config.task == "dce_classification" else "tumour")
    for attribute in _STAGE_ATTRIBUTES[stage]:
        if hasattr(model, attribute):
            return getattr(model, attribute)
    raise ConfigError(f"init_stage: {config.init_from} ({type(model).__name__}) has no {stage} stage; it has "
                      f"{[s.replace('_stage', '') for s in stages]}")


def adopt_source(config, source) -> None:
    """Take the source's architecture (no ``model_args`` given) and plan spacing (``target_spacing: auto``)."""
    name = type(source).__name__
    if name != config.model:
        raise ConfigError(f"init_from: {config.init_from} gives a {name}, but the config's model is {config.model}")
    if not config.model_args:
        source_config = source.get_config()
        config.model_args = {k: source_config[k] for k in type(source).config_keys
                             if k in source_config and k not in ("input_shape", "class_names")}
        logger.info("init_from %s: its %s arguments %s", config.init_from, name, config.model_args)
    plan = getattr(source, "plan", None)
    if config.target_spacing == "auto" and plan is not None and plan.stage.target_spacing is not None:
        config.target_spacing = [float(s) for s in plan.stage.target_spacing]
        logger.info("init_from %s: its plan's spacing %s mm", config.init_from, config.target_spacing)


def copy_weights(model, source, spec) -> None:
    """``source``'s weights into ``model`` (same architecture), or a `ConfigError` saying what differs."""
    if sorted(model.input) != sorted(source.input):
        raise ConfigError(f"init_from: {spec} takes inputs {sorted(source.input)}, the configured model "
                          f"{sorted(model.input)}; set the same inputs (hog_orientations, context_slices, "
                          f"lesion_masks) as its recipe")
    try:
        model.set_weights(source.get_weights())
    except ValueError as exc:
        raise ConfigError(f"init_from: the weights of {spec} do not fit the configured {type(model).__name__} "
                          f"({exc}); leave model_args out to take its architecture") from None
    logger.info("init_from %s: %d weight arrays loaded", spec, len(source.get_weights()))
