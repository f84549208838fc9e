"""Training-step time of the CT cascade's stage-2 FusedUNet on this machine, by precision policy.

Usage:
    python scripts/bench_train_step.py [--policies float32,mixed_bfloat16] [--steps 10] [--batch 8]
        [--patch 160,160] [--channels 5] [--depth 4] [--filters 16]

Builds the stage-2 model of `configs/ct_cascade_tumour.yaml` (2D FusedUNet, deep supervision,
in-graph `abdomen` window), compiles it as `keras_liver.training` does (Adam, Dice+CE over the
batch on every head), and times ``train_on_batch`` on random HU batches: the best and the
median of ``--steps`` steps after three warm-up steps, per policy, in one process. On CPUs
with AVX512-BF16 (oneDNN), ``mixed_bfloat16`` may run the convolutions at bfloat16 speed.
"""

import argparse
import os
import platform
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402
import numpy as np  # noqa: E402

from keras_liver import losses  # noqa: E402
from keras_liver.models import FusedUNet  # noqa: E402


def time_policy(policy, args):
    keras.config.set_dtype_policy(policy)
    keras.utils.set_random_seed(0)
    patch = tuple(int(v) for v in args.patch.split(","))
    model = FusedUNet(input_shape=patch + (args.channels,), depth=args.depth, filters=args.filters,
                      deep_supervision=True, intensity="abdomen")
    heads = [k for k in model.output if k.startswith("head_")]
    model.compile(optimizer=keras.optimizers.Adam(1e-3),
                  loss={k: losses.get("dice_ce", reduction_mode="batch") for k in heads})
    rng = np.random.default_rng(0)
    x = {"image": rng.normal(80, 60, (args.batch,) + patch + (args.channels,)).astype(np.float32)}
    y = rng.integers(0, 3, (args.batch,) + patch).astype(np.uint8)
    targets = {k: y for k in heads}
    for _ in range(3):
        model.train_on_batch(x, targets)
    times = []
    for _ in range(args.steps):
        start = time.perf_counter()
        loss = model.train_on_batch(x, targets)
        times.append(time.perf_counter() - start)
    keras.config.set_dtype_policy("float32")
    return {"policy": policy, "best_s": round(min(times), 3), "median_s": round(float(np.median(times)), 3),
            "finite_loss": bool(np.isfinite(np.asarray(loss, dtype=np.float64)).all())}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--policies", default="float32,mixed_bfloat16")
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--patch", default="160,160")
    parser.add_argument("--channels", type=int, default=5)
    parser.add_argument("--depth", type=int, default=4)
    parser.add_argument("--filters", type=int, default=16)
    args = parser.parse_args()
    print(f"machine: {platform.processor() or platform.machine()}, {os.cpu_count()} cores; "
          f"batch {args.batch} x {args.patch} x {args.channels}")
    for policy in args.policies.split(","):
        print(time_policy(policy, args), flush=True)


if __name__ == "__main__":
    main()
