"""``keras-liver cascade``: tie stage models into one saved `CTCascade` (CT) or `DCEPipeline` (DCE).

CT: ``--liver`` and ``--tumour``. DCE: ``--liver``, ``--tumour`` (the lesion stage, trained on
liver boxes) and ``--classifier`` (a lesion classifier trained on lesion-centred crops). Several
``--tumour`` models (one plan) make stage 2 a `SegmenterEnsemble` that averages their probabilities.
"""

import pathlib

from keras_liver.errors import ConfigError


def add_parser(sub) -> None:
    """Register ``cascade``."""
    p = sub.add_parser("cascade", help="tie stage 1 (liver, coarse) and stage 2 (tumour in the liver box, fine) "
                                       "into one .keras model")
    p.add_argument("--liver", required=True, help="stage 1: a CT segmentation model (RUN/model.keras)")
    p.add_argument("--tumour", "--lesion", dest="tumour", required=True, nargs="+",
                   help="stage 2: a model trained on liver boxes (crop_margin_mm); several: their average")
    p.add_argument("--classifier", default=None,
                   help="DCE: a lesion classifier (lesion_crop); with DCE stages it makes a DCEPipeline")
    p.add_argument("--out", required=True, help="the cascade, a .keras file")
    p.add_argument("--margin-mm", type=float, default=None,
                   help="margin around the stage-1 liver box (default: stage 2's training margin, else 15)")
    p.add_argument("--postprocess", default=None,
                   help="the inference settings chosen on validation, as JSON or a .json file, e.g. "
                        "'{\"min_lesion_probability\": 0.7, \"lesion_threshold\": 0.3}' (CT; "
                        "scripts/lesion_probability_sweep.py --choose writes one) or "
                        "'{\"lesion_threshold\": 0.3, \"min_shell_labelled\": 0.5, \"flip_tta\": true}' (DCE); "
                        "saved in the plan: the defaults of predict, query and export")
    p.set_defaults(run=run)


def read_postprocess(text):
    """``--postprocess``: a JSON object, inline or in a ``.json`` file; ``None`` stays ``None``."""
    import json

    if text is None:
        return None
    path = pathlib.Path(text)
    source = f"--postprocess {text}"
    try:
        value = json.loads(path.read_text() if path.suffix == ".json" and path.is_file() else text)
    except (OSError, json.JSONDecodeError) as exc:
        raise ConfigError(f"{source}: not a JSON object ({exc})") from None
    if not isinstance(value, dict):
        raise ConfigError(f"{source}: not a JSON object")
    return value


def run(args) -> int:
    from keras_liver import tasks
    from keras_liver.models import CTCascade, DCEPipeline, SegmenterEnsemble, load_model, save_model

    out = pathlib.Path(args.out)
    if out.suffix != ".keras":
        raise ConfigError(f"--out {out}: a cascade is saved as a .keras file")
    if args.margin_mm is not None and args.margin_mm < 0:
        raise ConfigError(f"--margin-mm {args.margin_mm}: must be >= 0")
    liver = load_model(args.liver, compile=False)
    stages = [load_model(path, compile=False) for path in args.tumour]
    named = [("--liver", args.liver, liver)] + [("--tumour", p, m) for p, m in zip(args.tumour, stages)]
    for flag, path, model in named:
        if isinstance(model, (CTCascade, DCEPipeline)):
            raise ConfigError(f"{flag} {path}: is already a cascade")
    tumour = stages[0] if len(stages) == 1 else SegmenterEnsemble(stages, name="tumour_ensemble")
    if tasks.task_of(liver).modality == "DCE":
        if args.classifier is None:
            raise ConfigError("--classifier: a DCE pipeline needs a lesion classifier (task dce_classification)")
        pipeline = DCEPipeline(liver, tumour, load_model(args.classifier, compile=False), margin_mm=args.margin_mm,
                               postprocess=read_postprocess(args.postprocess))
        save_model(pipeline, out)
        print(out)
        return 0
    if args.classifier is not None:
        raise ConfigError("--classifier: only for DCE stages (a DCE pipeline); these are CT models")
    if getattr(tumour, "plan", None) is None or tumour.plan.stage.roi is None:
        import logging

        logging.getLogger(__name__).warning("--tumour %s: its plan records no liver-box training (crop_margin_mm); "
                                            "the cascade crops to the stage-1 liver anyway", args.tumour)
    cascade = CTCascade(liver, tumour, margin_mm=args.margin_mm, postprocess=read_postprocess(args.postprocess))
    save_model(cascade, out)
    print(out)
    return 0
