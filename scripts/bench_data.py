"""Is the tf.data pipeline ever the bottleneck? Patches/s against the model's training rate.

Usage:
    python scripts/bench_data.py [--cases 8] [--batches 30] [--steps 10]

For the 2D recipe of ``configs/ct_fused_unet.yaml`` (128 x 128 slices,
batch 8, FusedUNet depth 3 / 16 filters / deep supervision) and a 3D recipe
(32 x 96 x 96 patches, batch 2, FusedUNet depth 3 / 8 filters): the
pipeline's rate (cached phantoms, oversampling, full augmentation,
batching; ``--batches`` batches after one warm-up batch) and the model's
training rate (``train_on_batch`` on one fixed batch, ``--steps`` steps after
a warm-up step), on the same machine. The issue's requirement: pipeline
patches/s at least 2x training steps/s x batch size.
"""

import argparse
import os
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import keras  # noqa: E402

from keras_liver import data, losses  # noqa: E402
from keras_liver.models import FusedUNet  # noqa: E402
from keras_liver.phantoms import write_ct_dataset  # noqa: E402


def pipeline_rate(sampler, batch, n_batches):
    ds = data.patch_dataset(sampler, batch, seed=0, output_keys=["probabilities", "head_1", "head_2", "head_3"])
    it = iter(ds)
    next(it)
    start = time.perf_counter()
    for _ in range(n_batches):
        next(it)
    return n_batches * batch / (time.perf_counter() - start)


def training_rate(model, sampler, batch, steps):
    weights = losses.deep_supervision_weights(3)
    model.compile(optimizer="adam", loss={k: losses.DiceCELoss() for k in weights}, loss_weights=weights)
    x, y = next(iter(data.patch_dataset(sampler, batch, seed=0, output_keys=list(weights))))
    model.train_on_batch(x, y)
    start = time.perf_counter()
    for _ in range(steps):
        model.train_on_batch(x, y)
    return steps / (time.perf_counter() - start)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--batches", type=int, default=30)
    parser.add_argument("--steps", type=int, default=10)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as tmp:
        write_ct_dataset(f"{tmp}/ct", args.cases, seed=0)
        store = data.build_ct_cache(f"{tmp}/ct", f"{tmp}/cache.h5")
        _, images, labels = data.load_store(store)
    print(f"{os.cpu_count()} CPUs; {args.cases} cached phantom cases of 48x128x128\n")
    print("| recipe | batch | pipeline patches/s | training steps/s | steps/s x batch | ratio |")
    print("|---|---|---|---|---|---|")
    recipes = [("2D 128x128, FusedUNet d3 f16 DS", (128, 128), 8, dict(input_shape=(None, None, 1), filters=16)),
               ("3D 32x96x96, FusedUNet d3 f8 DS", (32, 96, 96), 2, dict(input_shape=(None, None, None, 1),
                                                                         filters=8))]
    for name, patch, batch, model_args in recipes:
        sampler = data.PatchSampler(images, labels, patch, seed=0)
        rate = pipeline_rate(sampler, batch, args.batches)
        keras.utils.clear_session()
        model = FusedUNet(depth=3, deep_supervision=True, intensity="abdomen", **model_args)
        steps = training_rate(model, sampler, batch, args.steps)
        need = steps * batch
        print(f"| {name} | {batch} | {rate:.1f} | {steps:.2f} | {need:.1f} | {rate / need:.1f}x |", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
