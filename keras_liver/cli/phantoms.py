"""``keras-liver phantoms``: synthetic CT (LiTS layout) or 4D DCE-MRI cases with ground truth."""

import logging
import pathlib

from keras_liver.cli.arguments import shape
from keras_liver.errors import ConfigError

logger = logging.getLogger(__name__)


def add_parser(sub) -> None:
    """Register ``phantoms``."""
    p = sub.add_parser("phantoms", help="write synthetic CT (LiTS layout) or 4D DCE-MRI cases")
    p.add_argument("modality", choices=["ct", "dce"])
    p.add_argument("--cases", type=int, required=True)
    p.add_argument("--out", required=True, help="output folder")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--shape", type=shape, default=None, help="Z,Y,X (CT default 48,128,128; DCE 32,128,128)")
    p.add_argument("--phase", default="portal-venous",
                   choices=["portal-venous", "non-contrast", "arterial", "delayed", "mixed"],
                   help="CT: contrast phase (mixed: drawn per case, same anatomy per seed)")
    p.add_argument("--variety", action="store_true",
                   help="CT: wider anatomy and pathology (habitus, arms, table, liver shapes and disease, masses "
                        "outside the liver labelled background, metal); writes masses-N.nii.gz")
    p.add_argument("--variety-extended", action="store_true",
                   help="CT, with --variety: also masses pressed against the liver at its hilum and stomachs "
                        "full of food (issue 18, design 2)")
    p.add_argument("--balanced", action="store_true", help="DCE: cycle through the lesion classes")
    p.add_argument("--preview", default=None, help="PNG: CT montage, or DCE frames and curves per class")
    p.set_defaults(run=run)


def run(args) -> int:
    from keras_liver.phantoms import LESION_CLASSES, ct_case, dce_case, write_ct_dataset, write_dce_dataset
    from keras_liver.phantoms.dce import DEFAULT_SHAPE as DCE_DEFAULT_SHAPE
    from keras_liver.plotting import dce_preview_figure, preview_figure

    if args.cases < 1:
        raise ConfigError(f"--cases {args.cases}: need at least one case")
    if pathlib.Path(args.out).exists() and not pathlib.Path(args.out).is_dir():
        raise ConfigError(f"--out {args.out}: is a file; give a folder for the cases")
    if args.modality == "dce" and args.phase != "portal-venous":
        raise ConfigError(f"--phase {args.phase}: for CT phantoms only (DCE series hold every phase as frames)")
    if args.modality == "dce" and args.variety:
        raise ConfigError("--variety: for CT phantoms only")
    if args.variety_extended and not args.variety:
        raise ConfigError("--variety-extended: needs --variety")
    if args.modality == "ct":
        size = args.shape or (48, 128, 128)
        variety = ("extended" if args.variety_extended else True) if args.variety else None
        write_ct_dataset(args.out, args.cases, seed=args.seed, shape=size, progress=True, phase=args.phase,
                         variety=variety)
        if args.preview:
            case = ct_case(args.seed, shape=size, phase=args.phase, variety=variety)
            preview_figure(case.image, case.label, args.preview, n_slices=8, title=f"CT phantom, seed {args.seed}")
    else:
        size = args.shape or DCE_DEFAULT_SHAPE
        write_dce_dataset(args.out, args.cases, seed=args.seed, balanced=args.balanced, shape=size, progress=True)
        if args.preview:
            cases = []
            for n in range(args.cases):
                klass = LESION_CLASSES[n % len(LESION_CLASSES)] if args.balanced else None
                cases.append(dce_case(args.seed + n, lesion_class=klass, shape=size))
            dce_preview_figure(cases, args.preview)
    if args.preview:
        logger.info("wrote %s", args.preview)
    return 0
