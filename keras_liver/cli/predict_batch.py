"""``keras-liver predict-batch``: one model over many scans on Apache Beam, masks and one summary table."""

import json


def add_parser(sub) -> None:
    """Register ``predict-batch``."""
    p = sub.add_parser("predict-batch", help="run a model over many scans (Apache Beam) into masks and a summary "
                                             "table (needs keras-liver[batch])")
    p.add_argument("--model", required=True, help="a preset name or a .keras model (segmentation, CT cascade, "
                                                  "DCE pipeline)")
    p.add_argument("--input", required=True, nargs="+",
                   help="globs, NIfTI/NRRD files, DICOM series folders, or a CSV of paths (column 'path')")
    p.add_argument("--output-dir", required=True, help="masks, <id>.row.json, summary.csv/.parquet, errors.jsonl")
    p.add_argument("--runner", default="DirectRunner",
                   help="Beam runner: DirectRunner (default), PrismRunner, DataflowRunner, FlinkRunner, SparkRunner")
    p.add_argument("--workers", type=int, default=1, help="DirectRunner worker processes (default 1)")
    p.add_argument("--overwrite", action="store_true", help="rerun scans whose outputs are already complete")
    p.add_argument("beam_args", nargs="*", metavar="-- BEAM_OPTION",
                   help="more Beam pipeline options after --, e.g. -- --project=P --region=R --temp_location=gs://B/tmp")
    p.set_defaults(run=run)


def run(args) -> int:
    from keras_liver.batch import run_batch

    summary = run_batch(args.model, args.input, args.output_dir, runner=args.runner, workers=args.workers,
                        pipeline_args=args.beam_args, overwrite=args.overwrite)
    print(json.dumps({k: v for k, v in summary.items() if k != "rows"}))
    return 0
