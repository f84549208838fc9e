"""Forward throughput and achieved GFLOP/s of the models on this machine.

Usage:
    python scripts/bench_models.py [--repeats 3] [--skip-3d]

For each model: parameters, FLOPs per sample (`keras_liver.models.summary`:
convolution, dense and recurrent multiply-adds counted as 2), then the best
of ``--repeats`` timed forward passes of a traced ``tf.function`` (inference
mode, after one warm-up call), as samples/s and achieved GFLOP/s. The
machine's float32 peak is measured in the same run: the best ``tf.matmul``
rate over square matrices of 1024, 2048 and 4096. Last, the DCEClassifier's per-frame 3D encoder is timed
folded into the batch (`FoldTime`) against ``keras.layers.TimeDistributed``.
"""

import argparse
import os
import platform
import sys

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
from benchutil import best_of  # noqa: E402

from keras_liver.layers import FoldTime, UnfoldTime  # noqa: E402
from keras_liver.layers.blocks import encoder_3d  # noqa: E402
from keras_liver.models import DCEClassifier, FusedUNet, summary  # noqa: E402


def matmul_peak(repeats: int) -> float:
    """Best GFLOP/s of ``tf.matmul`` over square sizes 1024, 2048 and 4096 (it varies by size)."""
    best = 0.0
    for n in (1024, 2048, 4096):
        a, b = tf.random.normal((n, n)), tf.random.normal((n, n))
        step = tf.function(tf.autograph.experimental.do_not_convert(lambda a=a, b=b: tf.reduce_sum(tf.matmul(a, b))))
        step()
        best = max(best, 2 * n ** 3 / best_of(lambda: step().numpy(), repeats) / 1e9)
    return best


def forward(model, inputs, repeats: int) -> float:
    call = tf.function(tf.autograph.experimental.do_not_convert(lambda x: model(x, training=False)))
    call(inputs)
    return best_of(lambda: [v.numpy() for v in call(inputs).values()], repeats)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-3d", action="store_true", help="leave out the 3D FusedUNet (the slow one)")
    args = parser.parse_args(argv)
    rng = np.random.default_rng(0)
    peak = matmul_peak(args.repeats)
    print(f"TensorFlow {tf.__version__}, Keras {keras.__version__}, {os.cpu_count()} CPUs, {platform.processor()}")
    print(f"float32 matmul peak (best tf.matmul of 1024^2, 2048^2, 4096^2): {peak:.1f} GFLOP/s\n")
    cases = [("FusedUNet 2D 256x256, depth 4, base 32", lambda: FusedUNet(input_shape=(256, 256, 1)),
              {"image": (256, 256, 1)}, 4)]
    if not args.skip_3d:
        cases.append(("FusedUNet 3D 64x128x128, depth 4, base 32",
                      lambda: FusedUNet(input_shape=(64, 128, 128, 1)), {"image": (64, 128, 128, 1)}, 1))
    cases.append(("DCEClassifier 8x16x64x64 (defaults)", lambda: DCEClassifier(), {"sequence": (8, 16, 64, 64, 1)},
                  4))
    print("| model | params | GFLOP / sample | batch | seconds / batch | samples / s | achieved GFLOP/s | "
          "% of matmul peak |")
    print("|---|---|---|---|---|---|---|---|")
    for name, build, shapes, batch in cases:
        keras.utils.clear_session()
        model = build()
        info = summary(model)
        inputs = {k: tf.constant(rng.normal(size=(batch,) + s).astype("float32")) for k, s in shapes.items()}
        seconds = forward(model, inputs, args.repeats)
        rate = batch / seconds
        achieved = info["gflops_per_sample"] * rate
        print(f"| {name} | {info['params']:,} | {info['gflops_per_sample']:.1f} | {batch} | {seconds:.3f} | "
              f"{rate:.2f} | {achieved:.1f} | {100 * achieved / peak:.0f} |", flush=True)

    frame = keras.Input((16, 64, 64, 1))
    encoder = keras.Model(frame, encoder_3d(frame, (16, 32, 64), "encoder")[-1])
    x = tf.constant(rng.normal(size=(4, 8, 16, 64, 64, 1)).astype("float32"))
    print("\nPer-frame 3D encoder (16, 32, 64 filters) on a batch of 4 series of 8x16x64x64:\n")
    print("| time axis | implementation | seconds / batch | max abs difference |")
    print("|---|---|---|---|")
    for time_size in (8, None):
        sequence = keras.Input((time_size, 16, 64, 64, 1))
        folded = keras.Model(sequence, UnfoldTime()([encoder(FoldTime()(sequence)), sequence]))
        looped = keras.Model(sequence, keras.layers.TimeDistributed(encoder)(sequence))
        reference = np.asarray(looped(x))
        for name, model in (("FoldTime + UnfoldTime", folded), ("keras.layers.TimeDistributed", looped)):
            call = tf.function(tf.autograph.experimental.do_not_convert(lambda v, m=model: m(v, training=False)))
            diff = float(np.abs(np.asarray(call(x)) - reference).max())
            seconds = best_of(lambda: call(x).numpy(), args.repeats)
            print(f"| {'static (8)' if time_size else 'free (None)'} | {name} | {seconds:.3f} | {diff:.1e} |",
                  flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
