"""``keras-liver figures``: the paper's pictures as PNGs (denoising, histogram, HOG)."""

from keras_liver.errors import ConfigError


def add_parser(sub) -> None:
    """Register ``figures``."""
    p = sub.add_parser("figures", help="the paper's pictures as PNGs (preprocess: denoising, histogram, HOG)")
    p.add_argument("kind", choices=["preprocess"])
    p.add_argument("input", help="NIfTI file, DICOM folder or HDF5 case store")
    p.add_argument("--out", required=True, help="existing output folder")
    p.add_argument("--slice", type=int, default=None, help="axial slice (default: most label, else middle)")
    p.add_argument("--label", default=None, help="label map used to pick the slice")
    p.add_argument("--frame", type=int, default=-1, help="frame of a 4D series (default: last)")
    p.set_defaults(run=run)


def run(args) -> int:
    from keras_liver.evaluation.preprocess_figures import preprocess_figures
    from keras_liver.io import load_volume

    image = load_volume(args.input)
    label = load_volume(args.label) if args.label else None
    if label is not None and label.spatial_shape != image.spatial_shape:
        raise ConfigError(f"--label {args.label}: grid {label.spatial_shape} differs from the image "
                          f"{image.spatial_shape}")
    preprocess_figures(image, args.out, z=args.slice, label=label, frame=args.frame)
    return 0
