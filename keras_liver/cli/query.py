"""``keras-liver query``: segment a CT volume or classify a DCE series through a model server."""

from keras_liver.cli.arguments import add_window_options
from keras_liver.cli.results import write_lesions, write_result


def add_parser(sub) -> None:
    """Register ``query``."""
    p = sub.add_parser("query", help="segment a CT volume or classify a DCE series through a model server")
    p.add_argument("input", help="NIfTI file or DICOM folder")
    p.add_argument("--target", default="localhost:8500", help="gRPC HOST:PORT (REST with --rest: HOST:8501)")
    p.add_argument("--model", required=True, help="servable name")
    p.add_argument("--output", required=True, help="NIfTI mask (segmenters) or JSON (classifiers)")
    p.add_argument("--model-version", type=int, default=None, help="default: the server's latest")
    p.add_argument("--rest", action="store_true", help="use the REST API instead of gRPC")
    add_window_options(p, batch_size=True)
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    p.add_argument("--max-message-mb", type=int, default=256)
    p.add_argument("--instances", default=None, help="DCE pipeline: also write the lesion-id map here (NIfTI)")
    p.set_defaults(run=run)


def _client(args):
    if args.rest:
        from keras_liver.serving import RestPredictClient

        return RestPredictClient(args.target, args.model, timeout=args.timeout, version=args.model_version)
    from keras_liver.serving import PredictClient

    return PredictClient(args.target, args.model, timeout=args.timeout, version=args.model_version,
                         max_message_mb=args.max_message_mb)


def run(args) -> int:
    from keras_liver import tasks
    from keras_liver.io import load_volume

    image = load_volume(args.input)
    with _client(args) as client:
        meta = client.metadata()
        plan = client.plan()
        if plan is not None and len(plan.stages) == 2 and tasks.get(plan.task).modality == "DCE":
            labels, instance, lesions = client.segment_lesions(image)
            names = (plan.fingerprint.get("classifier") or {}).get("class_names")
            return write_lesions(labels, instance, lesions, output=args.output, source=args.input, model=args.model,
                                 version=meta["version"], class_names=names, instances=args.instances)
        if args.instances:
            from keras_liver.errors import ConfigError

            raise ConfigError("--instances: only a served DCE pipeline writes a lesion-id map")
        if tasks.task_of(meta).is_segmentation:
            options = {"overlap": args.overlap, "batch_size": args.batch_size}
            if args.spacing:
                options["target_spacing"] = tuple(args.spacing)
            result, names = client.segment_volume(image, patch_size=args.patch, **options), None
        else:
            result, names = client.classify_series(image), client.class_names()
    return write_result(result, output=args.output, source=args.input, model=args.model, version=meta["version"],
                        class_names=names)
