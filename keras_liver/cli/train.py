"""``keras-liver train``: one training run from a YAML/JSON config (see ``configs/``)."""


def add_parser(sub) -> None:
    """Register ``train``."""
    p = sub.add_parser("train", help="train a model from a YAML/JSON config (see configs/)")
    p.add_argument("--config", required=True)
    p.add_argument("--out-dir", default=None, help="override the config's out_dir")
    p.add_argument("--multi-worker", action="store_true", help="MultiWorkerMirroredStrategy custom loop (TF_CONFIG)")
    p.set_defaults(run=run)


def run(args) -> int:
    from keras_liver.training import TrainConfig

    config = TrainConfig.from_file(args.config)  # checked in full here, before any data is read
    if args.out_dir:
        config.out_dir = args.out_dir
    if args.multi_worker:
        from keras_liver.training.multi_worker import train_multi_worker

        run_dir = train_multi_worker(config)
    else:
        from keras_liver.training import train

        run_dir = train(config)
    print(run_dir)
    return 0
