"""``keras-liver compare``: the paper's Table 1 (SVM, LSTM, CNN and the proposed model) on DCE data."""

import pathlib

from keras_liver.cli.arguments import crop


def add_parser(sub) -> None:
    """Register ``compare``."""
    p = sub.add_parser("compare", help="the paper's Table 1: SVM, LSTM, CNN and the proposed model on DCE data")
    p.add_argument("--data", required=True, help="a `keras-liver phantoms dce` folder")
    p.add_argument("--out", required=True)
    p.add_argument("--epochs", type=int, default=30)
    p.add_argument("--batch-size", type=int, default=8)
    p.add_argument("--test-fraction", type=float, default=0.3)
    p.add_argument("--test-data", default=None, help="a held-out DCE folder to score on (then all of --data trains)")
    p.add_argument("--time-budget-s", type=float, default=None, help="seconds of training per Keras model")
    p.add_argument("--seed", type=int, default=0)
    p.add_argument("--per-lesion", action="store_true",
                   help="every lesion a sample with its own class (as the DCE pipeline classifies), not one per series")
    p.add_argument("--crop", type=crop, default=None, help="lesion crop Z,Y,X (default 8,32,32)")
    p.add_argument("--lesion-masks", action="store_true",
                   help="with --per-lesion: a fifth row, the proposed model also given each lesion's mask")
    p.set_defaults(run=run)


def run(args) -> int:
    from keras_liver.evaluation.compare import compare_classifiers

    data = compare_classifiers(args.data, args.out, test_data=args.test_data, epochs=args.epochs,
                               batch_size=args.batch_size, test_fraction=args.test_fraction, seed=args.seed,
                               time_budget_s=args.time_budget_s, verbose=0, per_lesion=args.per_lesion,
                               lesion_masks=args.lesion_masks,
                               **({"lesion_crop": args.crop} if args.crop else {}))
    print((pathlib.Path(args.out) / "table1.md").read_text())
    return 0 if data else 1
