"""DCE models' samples/s: forward and training step, with and without XLA (issue 20 item 3).

    python scripts/bench_dce_throughput.py [--repeats 5] [--batch 8] [--out runs/bench_dce_throughput.json]
        [--models lesion_stage,classifier,liver_stage] [--norm-free] [--conv-widths]

The three models of the shipped ``dce_lesion`` preset (the liver stage and the lesion stage, both
`DCESegmenter`, and the `DCEClassifier`), each at the window or crop size its plan uses, with its
trained weights: forward samples/s (inference mode, best of ``--repeats`` timed calls after a
warm-up) and training-step samples/s (Adam, the task's loss; best of ``--repeats`` timed steps
after two warm-up steps), each with XLA off (the default on a CPU) and on
(``jit_compile=True``), and the largest absolute difference of the XLA forward output from the
plain one: the same weights and the same function, so a difference at float32 rounding level
means equal accuracy. ``--norm-free`` measures instead the forward samples/s of each model next to
the same architecture built without its normalisation layers (``norm=None``, convolutions with a
bias), interleaved: what folding the batch normalisations into the convolutions could gain at most
(speed only; the norm-free copy has untrained weights). ``--conv-widths`` measures one 3 x 3 x 3
convolution (with its ReLU) at 8, 16, 32 and 64 channels in and out, each on as many voxels as
keeps the arithmetic equal to 8 channels on the lesion stage's first level (64, 16, 4 and 1 frames
of 16 x 32 x 32), and reports GFLOP/s: how much of this CPU a layer as narrow as the DCE models' can use.
Prints and writes one JSON record.
"""

import argparse
import json
import os
import pathlib
import platform
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from benchutil import best_of  # noqa: E402

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _inputs(model, batch: int, rng) -> dict:
    out = {}
    for name, t in model.input.items():
        shape = (batch,) + tuple(8 if s is None else int(s) for s in t.shape[1:])  # a free time axis: 8 frames
        out[name] = rng.uniform(0, 1, shape).astype(np.float32)
    return out


def _targets(model, batch: int, rng) -> dict:
    probs = model.output["probabilities"]
    classes = int(probs.shape[-1])
    shape = (batch,) + tuple(int(s) for s in probs.shape[1:-1])
    return rng.integers(0, classes, shape).astype(np.int32)


def measure(name: str, model, batch: int, repeats: int) -> dict:
    rng = np.random.default_rng(0)
    x = _inputs(model, batch, rng)
    y = _targets(model, batch, rng)
    row = {"model": name, "input": {k: list(v.shape) for k, v in x.items()}, "batch": batch}
    reference = None
    for xla in (False, True):
        clone = keras.models.clone_model(model)
        clone.set_weights(model.get_weights())
        forward = tf.function(lambda feed, m=clone: m(feed, training=False)["probabilities"], jit_compile=xla)
        out = forward(x).numpy()
        if reference is None:
            reference = out
        seconds = best_of(lambda: forward(x).numpy(), repeats)
        tag = "xla" if xla else "plain"
        row[f"forward_samples_per_s_{tag}"] = round(batch / seconds, 2)
        if xla:
            row["xla_max_abs_difference"] = float(np.abs(out - reference).max())
        optimizer = keras.optimizers.Adam(1e-4)
        loss_fn = keras.losses.SparseCategoricalCrossentropy()

        def step(feed, target, m=clone, opt=optimizer):
            with tf.GradientTape() as tape:
                loss = loss_fn(target, m(feed, training=True)["probabilities"])
            grads = tape.gradient(loss, m.trainable_variables)
            opt.apply_gradients(zip(grads, m.trainable_variables))
            return loss

        train = tf.function(step, jit_compile=xla)
        for _ in range(2):
            train(x, y).numpy()
        seconds = best_of(lambda: train(x, y).numpy(), repeats)
        row[f"train_samples_per_s_{tag}"] = round(batch / seconds, 2)
    row["forward_speedup_xla"] = round(row["forward_samples_per_s_xla"] / row["forward_samples_per_s_plain"], 2)
    row["train_speedup_xla"] = round(row["train_samples_per_s_xla"] / row["train_samples_per_s_plain"], 2)
    return row


def measure_norm_free(name: str, model, batch: int, repeats: int) -> dict:
    """Forward samples/s of ``model`` and of its architecture without normalisation, interleaved."""
    rng = np.random.default_rng(0)
    x = _inputs(model, batch, rng)
    config = dict(model.get_config())
    if "norm" not in config:
        raise SystemExit(f"--norm-free: {name} has no 'norm' setting")
    bare = type(model).from_config({**config, "norm": None})
    calls = {tag: tf.function(lambda feed, m=m: m(feed, training=False)["probabilities"])
             for tag, m in (("plain", model), ("norm_free", bare))}
    best = {tag: float("inf") for tag in calls}
    for fn in calls.values():
        fn(x).numpy()
    for _ in range(repeats):
        for tag, fn in calls.items():
            start = time.perf_counter()
            fn(x).numpy()
            best[tag] = min(best[tag], time.perf_counter() - start)
    row = {"model": name, "input": {k: list(v.shape) for k, v in x.items()}, "batch": batch, "norm": config["norm"]}
    for tag, seconds in best.items():
        row[f"forward_samples_per_s_{tag}"] = round(batch / seconds, 2)
    row["forward_speedup_norm_free"] = round(best["plain"] / best["norm_free"], 2)
    return row


def measure_conv_widths(repeats: int) -> list:
    """GFLOP/s of a 3 x 3 x 3 Conv3D + ReLU by channel width, at equal arithmetic per call."""
    rows = []
    rng = np.random.default_rng(0)
    base = (64, 16, 32, 32)  # the lesion stage's level 0: 8 frames x batch 8, 16 x 32 x 32
    for width in (8, 16, 32, 64):
        shrink = (width // 8) ** 2  # channels squared: fewer frames keep the FLOPs of the 8-channel layer
        shape = (base[0] // shrink,) + base[1:] + (width,)
        layer = keras.layers.Conv3D(width, 3, padding="same", activation="relu")
        x = tf.constant(rng.uniform(0, 1, shape).astype(np.float32))
        call = tf.function(lambda t, f=layer: f(t))
        call(x).numpy()
        seconds = best_of(lambda: call(x).numpy(), repeats)
        flops = 2.0 * 27 * width * width * np.prod(shape[:4])
        rows.append({"channels": width, "input": list(shape), "seconds": round(seconds, 5),
                     "gflop_per_s": round(flops / seconds / 1e9, 1)})
        print(json.dumps(rows[-1]), flush=True)
    return rows


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--models", default="lesion_stage,classifier,liver_stage")
    parser.add_argument("--out", default="runs/bench_dce_throughput.json")
    parser.add_argument("--conv-widths", action="store_true", help="GFLOP/s of one 3D convolution by channel width")
    parser.add_argument("--norm-free", action="store_true",
                        help="forward only, each model against itself without normalisation layers")
    args = parser.parse_args(argv)
    from keras_liver import presets

    pipeline = None if args.conv_widths else presets.load("dce_lesion")
    record = {"machine": f"{platform.node()} ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs)",
              "date": time.strftime("%Y-%m-%d"), "tensorflow": tf.__version__, "keras": keras.__version__, "rows": []}
    if args.conv_widths:
        record["conv_widths"] = measure_conv_widths(args.repeats)
    for name in ([] if args.conv_widths else args.models.split(",")):
        run = measure_norm_free if args.norm_free else measure
        row = run(name, getattr(pipeline, name), args.batch, args.repeats)
        record["rows"].append(row)
        print(json.dumps(row), flush=True)
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
