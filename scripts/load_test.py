"""Load test: N concurrent gRPC clients x M Predict requests against a model server.

Usage:
    python scripts/load_test.py [--clients 8] [--requests 25] [--batch 4] [--patch 128,128]
    python scripts/load_test.py --target HOST:8500 --model liver_seg   # an existing server

Without ``--target`` the script exports a FusedUNet (2D, depth 3, 16 filters,
deep supervision, random weights: speed does not depend on them) to a
temporary folder and starts ``keras-liver serve`` on it as a separate
process, so client and server do not share one Python interpreter. Each
client thread owns a `PredictClient` and sends ``--requests`` requests of
``--batch`` windows of raw HU (the shape `segment_volume` sends). Prints
requests/s, windows/s, p50/p95/p99 latency and the error count, and
exits 1 if any request failed. When it starts its own server it first
times the same SavedModel called in-process, the compute bound that the
server's throughput can be compared with.
"""

import argparse
import os
import platform
import sys
import tempfile
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

import numpy as np  # noqa: E402

from keras_liver.serving import DevServerProcess  # noqa: E402
from keras_liver.serving.load_testing import load_test  # noqa: E402


def _export(base: str, patch) -> str:
    from keras_liver.export import export_saved_model
    from keras_liver.models import FusedUNet

    model = FusedUNet(input_shape=(None, None, 1), depth=3, filters=16, deep_supervision=True, intensity="liver")
    export_saved_model(model, base, "liver_seg", 1, patch_size=(1, *patch))
    return "liver_seg"


def direct_rate(path: str, payload: dict, requests: int) -> float:
    """Requests/s of the same SavedModel called in-process (no gRPC): the compute bound."""
    import tensorflow as tf

    fn = tf.saved_model.load(path).signatures["serving_default"]
    feed = {k: tf.constant(v) for k, v in payload.items()}
    fn(**feed)
    start = time.perf_counter()
    for _ in range(requests):
        fn(**feed)["probabilities"].numpy()
    return requests / (time.perf_counter() - start)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--target", default=None, help="HOST:PORT of a running server (default: start one)")
    parser.add_argument("--model", default=None, help="servable name (with --target)")
    parser.add_argument("--clients", type=int, nargs="+", default=[1, 8])
    parser.add_argument("--requests", type=int, default=25, help="requests per client")
    parser.add_argument("--batch", type=int, default=4, help="windows per request")
    parser.add_argument("--patch", default="128,128", help="window Y,X")
    args = parser.parse_args(argv)
    patch = tuple(int(v) for v in args.patch.split(","))
    payload = {"image": np.random.default_rng(0).uniform(-200, 300, (args.batch, *patch, 1)).astype(np.float32)}
    proc = None
    with tempfile.TemporaryDirectory() as base:
        if args.target:
            target, name = args.target, args.model or "liver_seg"
        else:
            name = _export(base, patch)
            rate = direct_rate(os.path.join(base, name, "1"), payload, args.requests)
            print(f"in-process SavedModel call, no server: {rate:.2f} requests/s ({rate * args.batch:.1f} windows/s)")
            proc = DevServerProcess("--model-base-path", os.path.join(base, name), "--model-name", name,
                                    "--rest-port", "-1").start()
            target = proc.target
        try:
            print(f"machine: {platform.machine()}, {os.cpu_count()} CPUs; target {target}, model {name}; "
                  f"{args.batch} windows of {patch} per request")
            print("| clients | requests | errors | requests/s | windows/s | p50 ms | p95 ms | p99 ms |")
            print("|---|---|---|---|---|---|---|---|")
            failed = 0
            for n in args.clients:
                r = load_test(target, name, payload, clients=n, requests=args.requests)
                failed += r["errors"]
                print(f"| {n} | {r['requests']} | {r['errors']} | {r['requests_per_s']:.2f} | "
                      f"{r['requests_per_s'] * args.batch:.1f} | {r['p50_ms']:.0f} | {r['p95_ms']:.0f} | {r['p99_ms']:.0f} |",
                      flush=True)
                if r["errors"]:
                    print(f"first error: {r['first_error']}")
        finally:
            if proc is not None:
                proc.stop()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
