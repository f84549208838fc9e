"""``keras-liver evaluate``: LiTS metrics of predicted masks against true ones."""


def add_parser(sub) -> None:
    """Register ``evaluate``."""
    p = sub.add_parser("evaluate", help="LiTS metrics of predicted masks against true ones")
    p.add_argument("--pred", required=True, help="folder of predicted masks")
    p.add_argument("--truth", required=True, help="folder of true masks (e.g. a LiTS folder)")
    p.add_argument("--out", default=None, help="report folder (default PRED/evaluation)")
    p.set_defaults(run=run)


def run(args) -> int:
    from keras_liver.evaluation.evaluate_folder import evaluate_folder

    result = evaluate_folder(args.pred, args.truth, args.out)
    print(f"liver Dice (global) {result['liver_dice']['global']:.4f}, tumour Dice per case "
          f"{result['tumour_dice']['mean_per_case']:.4f} / global {result['tumour_dice']['global']:.4f}, "
          f"lesion recall {result['detection']['recall']:.3f}")
    return 0
