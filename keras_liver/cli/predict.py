"""``keras-liver predict``: segment a CT volume, or segment / classify a DCE series, with a local model."""

import argparse

from keras_liver.cli.arguments import add_window_options
from keras_liver.cli.results import write_lesions, write_result


def add_parser(sub) -> None:
    """Register ``predict``."""
    p = sub.add_parser("predict", help="segment a CT volume (NIfTI or DICOM) or classify a DCE series")
    p.add_argument("--model", required=True, help="a .keras model (e.g. RUN/model.keras)")
    p.add_argument("--input", required=True, help="NIfTI file or DICOM folder")
    p.add_argument("--output", required=True, help="NIfTI mask (CT, DCE segmenter) or JSON (DCE classifier)")
    add_window_options(p)
    p.add_argument("--tta", action=argparse.BooleanOptionalAction, default=None,
                   help="flip test-time augmentation (default: off; a DCE pipeline: as chosen in its plan)")
    p.add_argument("--crop-to-liver", action="store_true", help="crop to an automatic liver ROI first")
    p.add_argument("--instances", default=None,
                   help="DCE pipeline: also write the lesion-id map here (NIfTI; ids as in the lesions JSON)")
    p.set_defaults(run=run)


def run(args) -> int:
    from keras_liver import tasks
    from keras_liver.errors import ConfigError
    from keras_liver.inference import cascade_predict, predict_series, predict_volume
    from keras_liver.io import load_volume
    from keras_liver.models import CTCascade, DCEPipeline, load_model

    model = load_model(args.model)
    task = tasks.task_of(model)
    image = load_volume(args.input)
    if args.instances and not isinstance(model, DCEPipeline):
        raise ConfigError("--instances: only a DCE pipeline writes a lesion-id map")
    if isinstance(model, DCEPipeline):
        from keras_liver.inference import pipeline_predict

        if not image.is_series:
            raise ConfigError(f"--input {args.input}: the DCE pipeline takes a 4D DCE series, got shape {image.shape}")
        if args.spacing or args.patch:
            raise ConfigError("--spacing/--patch: a pipeline runs each stage by its own plan; they are not overridden")
        options = {} if args.tta is None else {"flip_tta": args.tta}
        labels, instance, lesions = pipeline_predict(model, image, **options)
        return write_lesions(labels, instance, lesions, output=args.output, source=args.input, model=args.model,
                             class_names=model.class_names, instances=args.instances)
    if isinstance(model, CTCascade):
        if image.is_series:
            raise ConfigError(f"--input {args.input}: the CT cascade takes a 3D CT volume, got a 4D series")
        if args.spacing or args.patch:
            raise ConfigError("--spacing/--patch: a cascade runs each stage by its own plan; they are not overridden")
        result = cascade_predict(model, image, **({} if args.tta is None else {"flip_tta": args.tta}))
    elif task.modality == "DCE":
        if not image.is_series:
            raise ConfigError(f"--input {args.input}: this {task.name} model takes a 4D DCE series, got shape "
                              f"{image.shape}")
        result = predict_series(model, image)
    else:
        if image.is_series:
            raise ConfigError(f"--input {args.input}: this {task.name} model takes a 3D CT volume, got a 4D series")
        result = predict_volume(model, image, patch_size=args.patch,
                                target_spacing=tuple(args.spacing) if args.spacing else None, flip_tta=bool(args.tta),
                                overlap=args.overlap, crop_to_liver=args.crop_to_liver)
    return write_result(result, output=args.output, source=args.input, model=args.model,
                        class_names=getattr(model, "class_names", None))
