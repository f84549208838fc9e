"""DCE models' samples/s: forward and training step, Keras' ConvLSTM against the fused one, XLA off or on (issue 20 item 3).

    python scripts/bench_dce_throughput.py [--repeats 5] [--batch 8] [--xla] [--out runs/bench_dce_throughput.json]

The three models of the shipped ``dce_lesion`` preset (the liver stage and the lesion stage, both
`DCESegmenter`, and the `DCEClassifier`), each at the window or crop size its plan uses, with its
trained weights, built twice from the same file: with Keras' ``ConvLSTM2D``/``ConvLSTM3D`` (``keras``)
and with the package's (``fused``: `keras_liver.layers.ConvLSTM3D`, the input convolution out of the
time loop, one convolution a step). Forward samples/s (inference mode, best of ``--repeats`` timed
calls after a warm-up) and training-step samples/s (Adam, the task's loss; best of ``--repeats``
timed steps after two warm-up steps) for each, and with ``--xla`` also with ``jit_compile=True``; the
largest absolute difference of each variant's forward output from the Keras one: the same weights
and the same function, so a difference at float32 rounding level means equal accuracy. Prints and
writes one JSON record.
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


def keras_layers_pipeline():
    """The ``dce_lesion`` preset built with Keras' own ConvLSTM layers (the models' names patched while it loads)."""
    from keras_liver import presets
    from keras_liver.models import dce_classifier, dce_segmenter

    saved = [(m, n, getattr(m, n)) for m in (dce_classifier, dce_segmenter) for n in ("ConvLSTM2D", "ConvLSTM3D")]
    try:
        for module, name, _ in saved:
            setattr(module, name, getattr(keras.layers, name))
        return presets.load("dce_lesion")
    finally:
        for module, name, layer in saved:
            setattr(module, name, layer)


def measure(name: str, variants: dict, batch: int, repeats: int, xla: bool) -> dict:
    """``variants``: ``{tag: model}``, the first the reference of the output differences."""
    rng = np.random.default_rng(0)
    first = next(iter(variants.values()))
    x = _inputs(first, batch, rng)
    y = _targets(first, batch, rng)
    row = {"model": name, "input": {k: list(v.shape) for k, v in x.items()}, "batch": batch}
    reference = None
    keys = []
    for tag, model in variants.items():
        for jit in (False, True) if xla else (False,):
            key = tag + ("_xla" if jit else "")
            keys.append(key)
            clone = keras.models.clone_model(model) if jit else model
            if jit:
                clone.set_weights(model.get_weights())
            forward = tf.function(lambda feed, m=clone: m(feed, training=False)["probabilities"], jit_compile=jit)
            out = forward(x).numpy()
            if reference is None:
                reference = out
            row[f"forward_samples_per_s_{key}"] = round(batch / best_of(lambda: forward(x).numpy(), repeats), 2)
            row[f"max_abs_difference_{key}"] = float(np.abs(out - reference).max())
            optimizer = keras.optimizers.Adam(1e-4)
            loss_fn = keras.losses.SparseCategoricalCrossentropy()
            weights = [w.numpy() for w in clone.weights]

            def step(feed, target, m=clone, opt=optimizer):
                with tf.GradientTape() as tape:
                    loss = loss_fn(target, m(feed, training=True)["probabilities"])
                grads = tape.gradient(loss, m.trainable_variables)
                opt.apply_gradients(zip(grads, m.trainable_variables))
                return loss

            train = tf.function(step, jit_compile=jit)
            for _ in range(2):
                train(x, y).numpy()
            row[f"train_samples_per_s_{key}"] = round(batch / best_of(lambda: train(x, y).numpy(), repeats), 2)
            for w, value in zip(clone.weights, weights):  # the next variant starts from the trained weights
                w.assign(value)
    for key in keys[1:]:  # against the first variant
        for what in ("forward", "train"):
            row[f"{what}_speedup_{key}"] = round(row[f"{what}_samples_per_s_{key}"]
                                                 / row[f"{what}_samples_per_s_{keys[0]}"], 2)
    return row


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--models", default="lesion_stage,classifier,liver_stage")
    parser.add_argument("--xla", action="store_true", help="also each variant with XLA (jit_compile)")
    parser.add_argument("--out", default="runs/bench_dce_throughput.json")
    args = parser.parse_args(argv)
    from keras_liver import presets

    pipelines = {"keras": keras_layers_pipeline(), "fused": presets.load("dce_lesion")}
    record = {"machine": f"{platform.node()} ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs)",
              "date": time.strftime("%Y-%m-%d"), "tensorflow": tf.__version__, "keras": keras.__version__, "rows": []}
    for name in args.models.split(","):
        row = measure(name, {tag: getattr(p, name) for tag, p in pipelines.items()}, args.batch, args.repeats,
                      args.xla)
        record["rows"].append(row)
        print(json.dumps(row), flush=True)
    out = ROOT / args.out
    out.parent.mkdir(parents=True, exist_ok=True)
    out.write_text(json.dumps(record, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
