"""``keras-liver <command>``: argparse front end, ``main(argv) -> int``.

User mistakes (any `KerasLiverError`) become one line on stderr and exit
code 2; a traceback is only printed for bugs.
"""

import argparse
import logging
import sys

from keras_liver.errors import ConfigError, KerasLiverError
from keras_liver.version import __version__

logger = logging.getLogger("keras_liver.cli")


def _info(args) -> int:
    from keras_liver.cli.info import run_info

    return run_info(args.paths, series_uid=args.series, as_json=args.json, out=sys.stdout)


def _preview(args) -> int:
    from keras_liver.evaluation.figures import preview_figure
    from keras_liver.io import load_volume
    from keras_liver.io.lits_case import load_case

    if args.label:
        image, label = load_case(args.image, args.label, allowed_labels=range(256))
    else:
        image, label = load_volume(args.image), None
    path = preview_figure(image, label, args.out, n_slices=args.slices)
    logger.info("wrote %s", path)
    return 0


def _shape(text: str) -> tuple:
    try:
        shape = tuple(int(v) for v in text.split(","))
    except ValueError:
        shape = ()
    if len(shape) != 3 or min(shape) < 4:
        raise argparse.ArgumentTypeError(f"--shape {text!r}: give Z,Y,X, each at least 4, e.g. 48,128,128")
    return shape


def _phantoms(args) -> int:
    from keras_liver.evaluation.figures import dce_preview_figure, preview_figure
    from keras_liver.phantoms import LESION_CLASSES, ct_case, dce_case, write_ct_dataset, write_dce_dataset

    if args.cases < 1:
        raise ConfigError(f"--cases {args.cases}: need at least one case")
    if args.modality == "ct":
        shape = args.shape or (48, 128, 128)
        write_ct_dataset(args.out, args.cases, seed=args.seed, shape=shape, progress=True)
        if args.preview:
            case = ct_case(args.seed, shape=shape)
            preview_figure(case.image, case.label, args.preview, n_slices=8, title=f"CT phantom, seed {args.seed}")
    else:
        shape = args.shape or (16, 64, 64)
        write_dce_dataset(args.out, args.cases, seed=args.seed, balanced=args.balanced, shape=shape, progress=True)
        if args.preview:
            cases = []
            for n in range(args.cases):
                klass = LESION_CLASSES[n % len(LESION_CLASSES)] if args.balanced else None
                cases.append(dce_case(args.seed + n, lesion_class=klass, shape=shape))
            dce_preview_figure(cases, args.preview)
    if args.preview:
        logger.info("wrote %s", args.preview)
    return 0


def _figures(args) -> int:
    from keras_liver.evaluation.preprocess_figures import preprocess_figures
    from keras_liver.io import load_volume

    image = load_volume(args.input)
    label = load_volume(args.label) if args.label else None
    if label is not None and label.spatial_shape != image.spatial_shape:
        raise ConfigError(f"--label {args.label}: grid {label.spatial_shape} differs from the image {image.spatial_shape}")
    preprocess_figures(image, args.out, z=args.slice, label=label, frame=args.frame)
    return 0


def _train(args) -> int:
    from keras_liver.training import TrainConfig

    config = TrainConfig.from_file(args.config)
    if args.out_dir:
        config.out_dir = args.out_dir
    if args.multi_worker:
        from keras_liver.training.multi_worker import train_multi_worker

        run = train_multi_worker(config)
    else:
        from keras_liver.training import train

        run = train(config)
    print(run)
    return 0


def _load_keras_model(path):
    from keras_liver.models import load_model

    return load_model(path)


def _predict(args) -> int:
    import json

    import numpy as np

    from keras_liver.inference import predict_volume
    from keras_liver.io import load_volume, save_volume
    from keras_liver.io.atomic import write_text_atomic

    model = _load_keras_model(args.model)
    image = load_volume(args.input)
    inputs = model.input if isinstance(model.input, dict) else {}
    if "sequence" in inputs:
        if not image.is_series:
            raise ConfigError(f"--input {args.input}: this model takes a 4D DCE series, got shape {image.shape}")
        out = model.predict({"sequence": image.array[None, ..., None].astype("float32")}, verbose=0)
        if "mask" in out:
            mask = image.replace(np.asarray(out["mask"])[0].astype("uint8"), modality="SEG")
            print(save_volume(mask, args.output))
            return 0
        probs = np.asarray(out["probabilities"])[0]
        names = getattr(model, "class_names", None) or [str(i) for i in range(len(probs))]
        result = {"input": str(args.input), "class": names[int(probs.argmax())],
                  "probabilities": {n: float(p) for n, p in zip(names, probs)}}
        write_text_atomic(args.output, json.dumps(result, indent=2) + "\n")
        print(json.dumps(result))
        return 0
    if image.is_series:
        raise ConfigError(f"--input {args.input}: this model takes a 3D CT volume, got a 4D series")
    spacing = tuple(args.spacing) if args.spacing else None
    mask = predict_volume(model, image, patch_size=args.patch, target_spacing=spacing, flip_tta=args.tta,
                          overlap=args.overlap, crop_to_liver=args.crop_to_liver)
    print(save_volume(mask, args.output))
    return 0


def _evaluate(args) -> int:
    from keras_liver.evaluation.evaluate_folder import evaluate_folder

    result = evaluate_folder(args.pred, args.truth, args.out)
    print(f"liver Dice (global) {result['liver_dice']['global']:.4f}, tumour Dice per case "
          f"{result['tumour_dice']['mean_per_case']:.4f} / global {result['tumour_dice']['global']:.4f}, "
          f"lesion recall {result['detection']['recall']:.3f}")
    return 0


def _compare(args) -> int:
    from keras_liver.evaluation.compare import compare_classifiers

    data = compare_classifiers(args.data, args.out, epochs=args.epochs, batch_size=args.batch_size,
                               test_fraction=args.test_fraction, seed=args.seed, verbose=0)
    import pathlib

    print((pathlib.Path(args.out) / "table1.md").read_text())
    return 0 if data else 1


def _export(args) -> int:
    from keras_liver.export import check_signature_listing, export_saved_model, run_summary

    model = _load_keras_model(args.model)
    training = run_summary(args.model)
    run_config = training.get("config", {})
    patch = args.patch
    if patch is None and run_config.get("task") == "ct_segmentation":
        patch = run_config.get("patch_size")  # DCE models have fixed spatial sizes; patch_size means nothing there
    path = export_saved_model(model, args.base, args.name, args.version, overwrite=args.overwrite, mode=args.mode,
                              level=args.level, warmup=not args.no_warmup, patch_size=patch, training=training)
    if not args.skip_cli_check:
        import json

        meta = json.loads((path / "metadata.json").read_text())
        check_signature_listing(path, meta["inputs"], meta["outputs"])
    print(path)
    return 0


def _serve(args) -> int:
    import signal

    from keras_liver.serving import DevServer, ModelRegistry

    if args.model_config_file:
        if args.model_base_path or args.model_name:
            raise ConfigError("--model-config-file replaces --model-base-path/--model-name; give one or the other")
        registry = ModelRegistry.from_config_file(args.model_config_file)
    else:
        if not (args.model_base_path and args.model_name):
            raise ConfigError("give --model-base-path and --model-name, or --model-config-file")
        registry = ModelRegistry([{"name": args.model_name, "base_path": args.model_base_path}])
    server = DevServer(registry, host=args.host, port=args.port, rest_port=None if args.rest_port < 0 else args.rest_port,
                       max_message_mb=args.max_message_mb, poll_seconds=args.poll_seconds)
    server.start()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: server.request_stop())
    rest = f" REST {args.host}:{server.rest_port}" if server.rest_port is not None else ""
    print(f"serving {', '.join(registry.names)} on gRPC {args.host}:{server.port}{rest}"
          " (keras-liver dev server: a stand-in for TF Serving)", flush=True)
    server.wait()
    server.stop()
    return 0


def _query(args) -> int:
    import json

    from keras_liver.io import load_volume, save_volume
    from keras_liver.io.atomic import write_text_atomic

    if args.rest:
        from keras_liver.serving import RestPredictClient

        client = RestPredictClient(args.target, args.model, timeout=args.timeout, version=args.model_version)
    else:
        from keras_liver.serving import PredictClient

        client = PredictClient(args.target, args.model, timeout=args.timeout, version=args.model_version,
                               max_message_mb=args.max_message_mb)
    image = load_volume(args.input)
    meta = client.metadata()
    if "label" in meta["outputs"]:
        result = client.classify_series(image)
        out = {"input": str(args.input), "model": args.model, "version": meta["version"],
               "label": result["label"], "class": result["class_name"],
               "probabilities": [float(p) for p in result["probabilities"]]}
        write_text_atomic(args.output, json.dumps(out, indent=2) + "\n")
        print(json.dumps(out))
        return 0
    options = {"overlap": args.overlap, "batch_size": args.batch_size}
    if args.spacing:
        options["target_spacing"] = tuple(args.spacing)
    mask = client.segment_volume(image, patch_size=args.patch, **options)
    print(save_volume(mask, args.output))
    return 0


def _window(text: str) -> tuple:
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) not in (2, 3) or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a window as Z,Y,X (2D models: 1,Y,X) in voxels")
    return values


def _triple(text: str) -> tuple:
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) <= 0:
        raise argparse.ArgumentTypeError(f"{text!r}: give three positive numbers Z,Y,X")
    return values


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = argparse.ArgumentParser(prog="keras-liver", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"keras-liver {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", required=True)

    p = sub.add_parser("info", help="summarise NIfTI files, DICOM folders and HDF5 case stores")
    p.add_argument("paths", nargs="+", help="files or folders")
    p.add_argument("--series", default=None, help="DICOM SeriesInstanceUID when a folder holds several")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    p.set_defaults(func=_info)

    p = sub.add_parser("preview", help="PNG of axial slices with the label overlay")
    p.add_argument("image")
    p.add_argument("--label", default=None)
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--slices", type=int, default=1, help="number of slices (montage when > 1)")
    p.set_defaults(func=_preview)

    p = sub.add_parser("phantoms", help="write synthetic CT (LiTS layout) or 4D DCE-MRI cases")
    p.add_argument("modality", choices=["ct", "dce"])
    p.add_argument("--cases", type=int, required=True)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shape", type=_shape, default=None, help="Z,Y,X (CT default 48,128,128; DCE 16,64,64)")
    p.add_argument("--balanced", action="store_true", help="DCE: cycle through the lesion classes")
    p.add_argument("--preview", default=None, help="PNG: CT montage, or DCE frames and curves per class")
    p.set_defaults(func=_phantoms)

    p = sub.add_parser("figures", help="the paper's pictures as PNGs (preprocess: denoising, histogram, HOG)")
    p.add_argument("kind", choices=["preprocess"])
    p.add_argument("input", help="NIfTI file, DICOM folder or HDF5 case store")
    p.add_argument("--out", required=True, help="existing output folder")
    p.add_argument("--slice", type=int, default=None, help="axial slice (default: most label, else middle)")
    p.add_argument("--label", default=None, help="label map used to pick the slice")
    p.add_argument("--frame", type=int, default=-1, help="frame of a 4D series (default: last)")
    p.set_defaults(func=_figures)

    p = sub.add_parser("train", help="train a model from a YAML/JSON config (see configs/)")
    p.add_argument("--config", required=True)
    p.add_argument("--out-dir", default=None, help="override the config's out_dir")
    p.add_argument("--multi-worker", action="store_true", help="MultiWorkerMirroredStrategy custom loop (TF_CONFIG)")
    p.set_defaults(func=_train)

    p = sub.add_parser("predict", help="segment a CT volume (NIfTI or DICOM) or classify a DCE series")
    p.add_argument("--model", required=True, help="a .keras model (e.g. RUN/model.keras)")
    p.add_argument("--input", required=True, help="NIfTI file or DICOM folder")
    p.add_argument("--output", required=True, help="NIfTI mask (CT, DCE segmenter) or JSON (DCE classifier)")
    p.add_argument("--patch", type=_window, default=None, help="sliding-window size Z,Y,X (2D models: 1,Y,X)")
    p.add_argument("--spacing", type=_triple, default=None, help="resample to Z,Y,X mm first (the training spacing)")
    p.add_argument("--overlap", type=float, default=0.5)
    p.add_argument("--tta", action="store_true", help="flip test-time augmentation")
    p.add_argument("--crop-to-liver", action="store_true", help="crop to an automatic liver ROI first")
    p.set_defaults(func=_predict)

    p = sub.add_parser("evaluate", help="LiTS metrics of predicted masks against true ones")
    p.add_argument("--pred", required=True, help="folder of predicted masks")
    p.add_argument("--truth", required=True, help="folder of true masks (e.g. a LiTS folder)")
    p.add_argument("--out", default=None, help="report folder (default PRED/evaluation)")
    p.set_defaults(func=_evaluate)

    p = sub.add_parser("compare", help="the paper's Table 1: SVM, LSTM, CNN and the proposed model on DCE data")
    p.add_argument("--data", required=True, help="a `keras-liver phantoms dce` folder")
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--test-fraction", type=float, default=0.3)
    p.add_argument("--seed", type=int, default=0)
    p.set_defaults(func=_compare)

    p = sub.add_parser("export", help="versioned SavedModel for TF Serving (warm-up requests, metadata.json)")
    p.add_argument("--model", required=True, help="a .keras model (RUN/model.keras; the run's config is recorded)")
    p.add_argument("--base", required=True, help="model base folder; writes BASE/NAME/VERSION/")
    p.add_argument("--name", required=True, help="servable name, e.g. liver_seg")
    p.add_argument("--version", type=int, default=None, help="default: one more than the highest present")
    p.add_argument("--overwrite", action="store_true", help="replace an existing version")
    p.add_argument("--mode", choices=["accurate", "fast"], default="accurate", help="deep-supervision heads")
    p.add_argument("--level", type=int, default=None, help="prune a deep-supervised FusedUNet to this level")
    p.add_argument("--patch", type=_window, default=None, help="window clients send, Z,Y,X (default: the run's)")
    p.add_argument("--no-warmup", action="store_true", help="skip assets.extra/tf_serving_warmup_requests")
    p.add_argument("--skip-cli-check", action="store_true", help="skip the saved_model_cli signature check")
    p.set_defaults(func=_export)

    p = sub.add_parser("serve", help="dev server with TF Serving's gRPC/REST API (a stand-in; production uses TF "
                                     "Serving)")
    p.add_argument("--model-base-path", default=None, help="folder of numeric version folders")
    p.add_argument("--model-name", default=None)
    p.add_argument("--model-config-file", default=None, help="a TF Serving models.config instead")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback only)")
    p.add_argument("--port", type=int, default=8500, help="gRPC port (0: any free port)")
    p.add_argument("--rest-port", type=int, default=8501, help="REST port (0: any free port; -1: no REST)")
    p.add_argument("--max-message-mb", type=int, default=256, help="gRPC message limit")
    p.add_argument("--poll-seconds", type=float, default=2.0, help="how often to look for new versions")
    p.set_defaults(func=_serve)

    p = sub.add_parser("query", help="segment a CT volume or classify a DCE series through a model server")
    p.add_argument("input", help="NIfTI file or DICOM folder")
    p.add_argument("--target", default="localhost:8500", help="gRPC HOST:PORT (REST with --rest: HOST:8501)")
    p.add_argument("--model", required=True, help="servable name")
    p.add_argument("--output", required=True, help="NIfTI mask (segmenters) or JSON (classifiers)")
    p.add_argument("--model-version", type=int, default=None, help="default: the server's latest")
    p.add_argument("--rest", action="store_true", help="use the REST API instead of gRPC")
    p.add_argument("--patch", type=_window, default=None, help="sliding-window size Z,Y,X (2D models: 1,Y,X)")
    p.add_argument("--spacing", type=_triple, default=None, help="resample to Z,Y,X mm first (the training spacing)")
    p.add_argument("--overlap", type=float, default=0.5)
    p.add_argument("--batch-size", type=int, default=4, help="windows per request")
    p.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    p.add_argument("--max-message-mb", type=int, default=256)
    p.set_defaults(func=_query)
    return parser


def main(argv=None) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name (default ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 2 for bad input or arguments.
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )
    try:
        return int(args.func(args) or 0)
    except KerasLiverError as exc:
        print(f"keras-liver {args.command}: error: {exc}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `keras-liver info ... | head`
        sys.stderr.close()
        return 0


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())
