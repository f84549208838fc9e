"""Serving overhead: a gRPC round trip through the dev server against a direct call of the same SavedModel (issue 20 item 4).

    python scripts/bench_serving.py [--rounds 5] [--rows ct_windows,dce_request,ct_cascade,dce_pipeline]
        [--ct-shape 48,256,256] [--out runs/bench_serving.json]

Each row exports a model to a temporary folder, loads the SavedModel in this process (the direct
call) and serves the same folder with ``keras-liver serve`` in its own process (the round trip),
then times both, interleaved, ``--rounds`` times, and keeps the best of each:

| row | model | one timed unit |
|---|---|---|
| ct_windows | FusedUNet 2D, depth 3, 16 filters (random weights) | one Predict of 4 windows of 128 x 128 |
| dce_request | DCESegmenter, default widths (random weights) | one Predict of a 1 x 8 x 32 x 64 x 64 series |
| ct_cascade | the ``ct_liver_tumour`` preset, exported | a whole CT phantom (``--ct-shape``): both stages' windows, request by request |
| dce_pipeline | the ``dce_lesion`` preset, exported | a whole DCE phantom series: both stages and the classifier |

For the two whole-volume rows the direct side runs the same steps (`run_cascade`,
`run_dce_pipeline`) with the SavedModel's signatures called in-process, so the ratio is what the
server and gRPC add. Target: at most 1.2x each. Prints one JSON record and writes ``--out``.
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]
ROWS = ("ct_windows", "dce_request", "ct_cascade", "dce_pipeline")


def _signature_call(fn):
    """``{input: array} -> {output: array}`` of a loaded SavedModel signature."""
    import tensorflow as tf

    def call(feed):
        return {k: v.numpy() for k, v in fn(**{k: tf.constant(v) for k, v in feed.items()}).items()}

    return call


def _export(model, base, name, **kwargs) -> str:
    from keras_liver.export import export_saved_model

    return str(export_saved_model(model, base, name, 1, **kwargs))


def _row_units(row: str, base: str, ct_shape):
    """``(name, export path, direct(), served(client))`` for one row; each callable does one timed unit."""
    import tensorflow as tf

    from keras_liver.inference import dict_predictor, run_cascade, run_dce_pipeline, series_window_predictor
    from keras_liver.inference.sliding_window import ordered_shapes

    rng = np.random.default_rng(0)
    if row == "ct_windows":
        from keras_liver.models import FusedUNet

        model = FusedUNet(input_shape=(None, None, 1), depth=3, filters=16, deep_supervision=True, intensity="liver")
        path = _export(model, base, row, patch_size=(1, 128, 128))
        feed = {"image": rng.uniform(-200, 300, (4, 128, 128, 1)).astype(np.float32)}
        direct = _signature_call(tf.saved_model.load(path).signatures["serving_default"])
        return row, path, lambda: direct(feed), lambda client: client.predict(feed, output_filter=["probabilities"])
    if row == "dce_request":
        from keras_liver.models import DCESegmenter

        model = DCESegmenter(input_shape=(8, 32, 64, 64, 1))
        path = _export(model, base, row)
        feed = {"sequence": rng.uniform(0, 1, (1, 8, 32, 64, 64, 1)).astype(np.float32)}
        direct = _signature_call(tf.saved_model.load(path).signatures["serving_default"])
        return row, path, lambda: direct(feed), lambda client: client.predict(feed, output_filter=["probabilities"])
    from keras_liver import presets
    from keras_liver import tasks

    if row == "ct_cascade":
        from keras_liver.phantoms import ct_case

        cascade = presets.load("ct_liver_tumour")
        path = _export(cascade, base, row)
        sigs = tf.saved_model.load(path).signatures
        task = tasks.task_of(cascade)

        def predictor(model, signature):
            shapes = {n: tuple(t.shape[1:]) for n, t in model.input.items()}
            return dict_predictor(_signature_call(sigs[signature]), ordered_shapes(task, shapes))

        liver, tumour = predictor(cascade.liver_stage, "liver"), predictor(cascade.tumour_stage, "serving_default")
        image = ct_case(10000, shape=ct_shape, variety=True).image
        return (row, path, lambda: run_cascade(liver, tumour, cascade.plan, image),
                lambda client: client.segment_volume(image))
    if row == "dce_pipeline":
        from keras_liver.phantoms import dce_case

        pipeline = presets.load("dce_lesion")
        path = _export(pipeline, base, row)
        sigs = tf.saved_model.load(path).signatures

        def series(signature):
            dims = len(sigs[signature].structured_input_signature[1]["sequence"].shape) - 3
            return series_window_predictor(_signature_call(sigs[signature]), spatial_dims=dims)

        classify = _signature_call(sigs["classify"])
        series_volume = dce_case(10000).image
        return (row, path, lambda: run_dce_pipeline(series("liver"), series("serving_default"),
                                                    lambda feed: classify(feed)["probabilities"], pipeline.plan,
                                                    series_volume),
                lambda client: client.segment_lesions(series_volume))
    raise ValueError(row)


def measure(row: str, rounds: int, ct_shape) -> dict:
    """Best direct and best served seconds of one row's unit, interleaved."""
    from keras_liver.serving import DevServerProcess, PredictClient

    with tempfile.TemporaryDirectory() as base:
        name, path, direct, served = _row_units(row, base, ct_shape)
        server = DevServerProcess("--model-base-path", str(pathlib.Path(path).parent), "--model-name", name,
                                  "--rest-port", "-1").start()
        try:
            with PredictClient(server.target, name, timeout=600.0) as client:
                client.wait_until_available(timeout=120.0)
                direct()
                served(client)  # warm-up: traces, and the server's first load
                times = {"direct": [], "served": []}
                for _ in range(rounds):
                    for side, unit in (("direct", direct), ("served", lambda: served(client))):
                        start = time.perf_counter()
                        unit()
                        times[side].append(time.perf_counter() - start)
        finally:
            server.stop()
    best = {k: min(v) for k, v in times.items()}
    return {"direct_s": round(best["direct"], 4), "served_s": round(best["served"], 4),
            "served_over_direct": round(best["served"] / best["direct"], 3)}


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--rows", default=",".join(ROWS))
    parser.add_argument("--ct-shape", default="48,256,256")
    parser.add_argument("--out", default="runs/bench_serving.json")
    args = parser.parse_args(argv)
    rows = args.rows.split(",")
    unknown = [r for r in rows if r not in ROWS]
    if unknown:
        sys.exit(f"--rows: unknown {unknown}; choose from {list(ROWS)}")
    ct_shape = tuple(int(v) for v in args.ct_shape.split(","))
    record = {"machine": f"{platform.node()} ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs)",
              "date": time.strftime("%Y-%m-%d"), "rounds": args.rounds, "ct_shape": list(ct_shape), "rows": {}}
    for row in rows:
        record["rows"][row] = measure(row, args.rounds, ct_shape)
        print(json.dumps({row: record["rows"][row]}), flush=True)
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
