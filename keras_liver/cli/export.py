"""``keras-liver export``: a versioned SavedModel for TF Serving (warm-up requests, metadata.json)."""

import json
import pathlib

from keras_liver.cli.arguments import window
from keras_liver.errors import ConfigError


def add_parser(sub) -> None:
    """Register ``export``."""
    p = sub.add_parser("export", help="versioned SavedModel for TF Serving (warm-up requests, metadata.json)")
    p.add_argument("--model", required=True, help="a .keras model (RUN/model.keras; the run's config is recorded)")
    p.add_argument("--base", required=True, help="model base folder; writes BASE/NAME/VERSION/")
    p.add_argument("--name", required=True, help="servable name, e.g. liver_seg")
    p.add_argument("--version", type=int, default=None, help="default: one more than the highest present")
    p.add_argument("--overwrite", action="store_true", help="replace an existing version")
    p.add_argument("--mode", choices=["accurate", "fast"], default="accurate", help="deep-supervision heads")
    p.add_argument("--level", type=int, default=None, help="prune a deep-supervised FusedUNet to this level")
    p.add_argument("--patch", type=window, default=None, help="window clients send, Z,Y,X (default: the run's)")
    p.add_argument("--no-warmup", action="store_true", help="skip assets.extra/tf_serving_warmup_requests")
    p.add_argument("--skip-cli-check", action="store_true", help="skip the saved_model_cli signature check")
    p.set_defaults(run=run)


def run(args) -> int:
    from keras_liver import tasks
    from keras_liver.export import check_signature_listing, export_saved_model, run_summary
    from keras_liver.models import load_model

    if pathlib.Path(args.base).exists() and not pathlib.Path(args.base).is_dir():
        raise ConfigError(f"--base {args.base}: is a file; give the folder that holds the model folders")
    model = load_model(args.model)
    training = run_summary(args.model)
    patch = args.patch
    if patch is None and tasks.task_of(model).modality == "CT":
        patch = training.get("config", {}).get("patch_size")  # DCE models have fixed spatial sizes
    path = export_saved_model(model, args.base, args.name, args.version, overwrite=args.overwrite, mode=args.mode,
                              level=args.level, warmup=not args.no_warmup, patch_size=patch, training=training)
    if not args.skip_cli_check:
        meta = json.loads((path / "metadata.json").read_text())
        check_signature_listing(path, meta["inputs"], meta["outputs"])
    print(path)
    return 0
