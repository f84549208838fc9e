"""``keras-liver preview``: a PNG of axial slices with the label overlay."""

import logging

logger = logging.getLogger(__name__)


def add_parser(sub) -> None:
    """Register ``preview``."""
    p = sub.add_parser("preview", help="PNG of axial slices with the label overlay")
    p.add_argument("image")
    p.add_argument("--label", default=None)
    p.add_argument("--out", required=True, help="PNG to write")
    p.add_argument("--slices", type=int, default=1, help="number of slices (montage when > 1)")
    p.set_defaults(run=run)


def run(args) -> int:
    from keras_liver.io import load_volume
    from keras_liver.io.lits_case import load_case
    from keras_liver.plotting import preview_figure

    if args.label:
        image, label = load_case(args.image, args.label, allowed_labels=range(256))
    else:
        image, label = load_volume(args.image), None
    path = preview_figure(image, label, args.out, n_slices=args.slices)
    logger.info("wrote %s", path)
    return 0
