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
