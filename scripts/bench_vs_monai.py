"""keras-liver against MONAI on this machine, side by side, interleaved (issue 20).

    make bench-peers            # builds .venv-peers (MONAI + CPU torch, never a package dependency), then runs this
    python scripts/bench_vs_monai.py --peers .venv-peers/bin/python [--rounds 3] [--threads 2]
        [--cascade ct_liver_tumour] [--rows sw_identity,sw3d_identity] [--out bench_peers.json]

Each round runs one worker process per side (this script with ``--worker ours`` in this
interpreter, ``--worker monai`` in ``--peers``), alternating which side goes first; each worker
builds every row's model, warms it up once and times one run of each row. The figure of a row
is the best of the rounds. Both sides get ``--threads`` intra-op threads (TensorFlow's and
torch's). Rows:

| row | keras-liver | MONAI |
|---|---|---|
| unet2d | FusedUNet 2D, depth 4, 32 filters, forward, 4 x 256 x 256 | BasicUNetPlusPlus 2D, features 32..512 |
| unet3d | FusedUNet 3D, depth 4, 16 filters, 1 x 32 x 96 x 96 | BasicUNetPlusPlus 3D, features 16..256 |
| sw_identity | `sliding_window_predict`, 100 x 512 x 512, windows 1 x 128 x 128, overlap 0.5, Gaussian, identity | `sliding_window_inference`, the same |
| sw_unet2d | the same windows with the 2D model (128 x 128 input), 24 x 256 x 256 | the same |
| sw3d_identity | 64 x 256 x 256, windows 32 x 96 x 96, identity | the same |
| sw3d_fresh | the same windows, a predictor returning a copy of its input (a new array, as a model's output is) | the same |
| sw3d_unet3d | the same with the 3D model | the same |
| ct_cascade | the CT cascade (``--cascade``, a file or a preset name) on a 100 x 512 x 512 phantom, whole volume | the same two stages in MONAI's idiom (below) |

Rows that take under a second are timed five times per round (best of them). The identity and
copy rows also report each side's largest ``|output - input|``: a sliding window over an identity
predictor must return its input. (MONAI with one window per batch hands the predictor a view of
its input and weights the prediction in place, so its identity output differs from the input:
the ``sw3d_fresh`` row is that work with a predictor that, like a model, returns a new array.)
The MONAI side of ``ct_cascade`` does the cascade's geometry with MONAI and torch: the phantom
resampled (trilinear) to stage 1's grid, `sliding_window_inference` of a 2D BasicUNetPlusPlus
(features ``f .. 16 f`` for the stage's ``filters`` f; it always has four levels down, so stage 1,
three levels in keras-liver, is deeper there) over windows of stage 1's size, labels back by nearest
neighbour; then stage 2 in the liver box (taken from the phantom's label with the plan's margin,
about what stage 1 finds), resampled to stage 2's grid, its context slices stacked as channels
beside as many other channels as the stage's HOG input has (random: MONAI computes no HOG),
windows of stage 2's size, labels pasted back. It leaves out what keras-liver does besides
(threshold denoising, the HOG map, connected components, the liver gate), so it is the lesser
work of the two.
Prints a markdown table (seconds, ratio MONAI / keras-liver: above 1 means keras-liver is
faster) and writes the JSON to ``--out``. ``--rows`` times only those rows (each side the same).
"""

import argparse
import json
import os
import platform
import subprocess
import sys
import time

ROWS = ("unet2d", "unet3d", "sw_identity", "sw_unet2d", "sw3d_identity", "sw3d_fresh", "sw3d_unet3d", "ct_cascade")
CHECKED = ("sw_identity", "sw3d_identity", "sw3d_fresh")  # rows whose output must equal their input


def _timed(fn) -> float:
    """Seconds of one call after a warm-up (graph building, allocator); under a second: the best of five."""
    fn()
    best = float("inf")
    for _ in range(5):
        start = time.perf_counter()
        fn()
        best = min(best, time.perf_counter() - start)
        if best >= 1.0:
            break
    return best


def _error(output, volume) -> float:
    """Largest ``|output - input|`` of a sliding window over a predictor that returns its input."""
    import numpy as np

    out, vol = np.asarray(output, np.float64), np.asarray(volume, np.float64)
    return float(np.abs(out.reshape(vol.shape) - vol).max())


def _ours(threads: int, cascade: str | None, rows=ROWS) -> dict:
    import numpy as np
    import tensorflow as tf

    tf.config.threading.set_intra_op_parallelism_threads(threads)
    tf.config.threading.set_inter_op_parallelism_threads(threads)
    from keras_liver.inference.sliding_window import model_predictor, sliding_window_predict
    from keras_liver.models import FusedUNet

    rng = np.random.default_rng(0)
    out = {}
    net2d = FusedUNet(input_shape=(None, None, 1), depth=4, filters=32)
    x2d = rng.normal(size=(4, 256, 256, 1)).astype(np.float32)
    if "unet2d" in rows:
        out["unet2d"] = _timed(lambda: net2d.predict_on_batch({"image": x2d}))
    net3d = FusedUNet(input_shape=(32, 96, 96, 1), depth=4, filters=16)
    x3d = rng.normal(size=(1, 32, 96, 96, 1)).astype(np.float32)
    if "unet3d" in rows:
        out["unet3d"] = _timed(lambda: net3d.predict_on_batch({"image": x3d}))
    big = rng.normal(size=(100, 512, 512)).astype(np.float32)
    if "sw_identity" in rows:
        out["sw_identity"] = _timed(lambda: sliding_window_predict(lambda b: b, big, (1, 128, 128), overlap=0.5,
                                                               batch_size=4))
        out["sw_identity_error"] = _error(sliding_window_predict(lambda b: b, big, (1, 128, 128), overlap=0.5,
                                                                 batch_size=4), big)
    predict2d, _, _ = model_predictor(net2d)
    mid = rng.normal(size=(24, 256, 256)).astype(np.float32)
    if "sw_unet2d" in rows:
        out["sw_unet2d"] = _timed(lambda: sliding_window_predict(predict2d, mid, (1, 128, 128), overlap=0.5, batch_size=4))
    vol3d = rng.normal(size=(64, 256, 256)).astype(np.float32)
    for row, fn in (("sw3d_identity", lambda b: b), ("sw3d_fresh", lambda b: b.copy())):
        if row in rows:
            out[row] = _timed(lambda fn=fn: sliding_window_predict(fn, vol3d, (32, 96, 96), overlap=0.5, batch_size=1))
            out[f"{row}_error"] = _error(sliding_window_predict(fn, vol3d, (32, 96, 96), overlap=0.5, batch_size=1),
                                         vol3d)
    predict3d, _, _ = model_predictor(net3d)
    if "sw3d_unet3d" in rows:
        out["sw3d_unet3d"] = _timed(lambda: sliding_window_predict(predict3d, vol3d, (32, 96, 96), overlap=0.5,
                                                               batch_size=1))
    if cascade and "ct_cascade" in rows:
        from keras_liver.inference import cascade_predict
        from keras_liver.models import load_model
        from keras_liver.phantoms import ct_case

        model = load_model(cascade, compile=False)
        image = ct_case(10000, shape=(100, 512, 512)).image
        out["ct_cascade"] = _timed(lambda: cascade_predict(model, image))
    return out


def _cascade_geometry(cascade: str) -> dict:
    """The cascade's work as shapes, for the MONAI side: grids, box, windows, channels, filters."""
    from keras_liver.inference.cascade import liver_box
    from keras_liver.models import load_model
    from keras_liver.phantoms import ct_case
    from keras_liver.preprocess.spatial import resampled_shape

    model = load_model(cascade, compile=False)
    first, second = model.plan.stages
    case = ct_case(10000, shape=(100, 512, 512))
    shape, spacing = case.image.shape, case.image.spacing
    margin = second.roi.get("margin_mm", 15.0)
    margin = [float(margin)] * 3 if isinstance(margin, (int, float)) else list(margin)
    start, stop = liver_box(case.label.array > 0, spacing, margin)
    crop = tuple(int(b - a) for a, b in zip(start, stop))
    stages = []
    for stage, net, grid in ((first, model.liver_stage, resampled_shape(shape, spacing, first.target_spacing)),
                             (second, model.tumour_stage, resampled_shape(crop, spacing, second.target_spacing))):
        stages.append({"grid": list(grid), "patch": list(stage.patch_size), "overlap": stage.overlap,
                       "context": int(stage.context_slices or 0), "filters": int(net.get_config()["filters"]),
                       "channels": int(sum(t.shape[-1] for t in net.input.values()))})
    return {"shape": list(shape), "box": [list(map(int, start)), list(map(int, stop))], "stages": stages}


def _monai_cascade(geometry: dict, as_2d_of):
    """The cascade's two stages as MONAI would run them (see the module docstring); returns a callable."""
    import torch
    import torch.nn.functional as F
    from monai.inferers import sliding_window_inference
    from monai.networks.nets import BasicUNetPlusPlus

    shape, (start, stop) = tuple(geometry["shape"]), geometry["box"]
    nets = [BasicUNetPlusPlus(spatial_dims=2, in_channels=st["channels"], out_channels=3,
                              features=tuple(st["filters"] * m for m in (1, 2, 4, 8, 16, 1))).eval()
            for st in geometry["stages"]]
    image = torch.randn(1, 1, *shape) * 100 + 50
    one, two = geometry["stages"]
    extra = two["channels"] - (2 * two["context"] + 1)  # the HOG channels' place
    others = torch.rand(1, extra, *two["grid"])
    region = (Ellipsis,) + tuple(slice(a, b) for a, b in zip(start, stop))

    def scaled(x):  # the abdomen window to [0, 1]
        return ((x.clamp(-160, 240) + 160) / 400)

    def stage(x, st, net, size):
        probs = sliding_window_inference(x, tuple(st["patch"]), 4, as_2d_of(net), overlap=st["overlap"],
                                         mode="gaussian")
        return F.interpolate(probs.argmax(1, keepdim=True).float(), size=size, mode="nearest")[0, 0].to(torch.uint8)

    def run():
        coarse = scaled(F.interpolate(image, size=tuple(one["grid"]), mode="trilinear"))
        out = stage(coarse, one, nets[0], shape)
        fine = scaled(F.interpolate(image[region], size=tuple(two["grid"]), mode="trilinear"))
        c = two["context"]
        padded = F.pad(fine, (0, 0, 0, 0, c, c), mode="replicate")
        stack = torch.cat([padded[:, :, i:i + fine.shape[2]] for i in range(2 * c + 1)] + [others], 1)
        out[region[1:]] = stage(stack, two, nets[1], tuple(b - a for a, b in zip(start, stop)))
        return out

    return run


def _monai(threads: int, rows=ROWS, geometry=None) -> dict:
    import torch
    from monai.inferers import sliding_window_inference
    from monai.networks.nets import BasicUNetPlusPlus

    torch.set_num_threads(threads)
    torch.manual_seed(0)
    out = {}
    net2d = BasicUNetPlusPlus(spatial_dims=2, in_channels=1, out_channels=3, features=(32, 64, 128, 256, 512, 32)).eval()
    net3d = BasicUNetPlusPlus(spatial_dims=3, in_channels=1, out_channels=3, features=(16, 32, 64, 128, 256, 16)).eval()

    def first(y):
        return y[0] if isinstance(y, (list, tuple)) else y

    def as_2d(x):  # windows (n, 1, 1, y, x) of a 3D volume to the 2D net and back
        return first(net2d(x[:, :, 0]))[:, :, None]

    with torch.inference_mode():
        x2d = torch.randn(4, 1, 256, 256)
        if "unet2d" in rows:
            out["unet2d"] = _timed(lambda: net2d(x2d))
        x3d = torch.randn(1, 1, 32, 96, 96)
        if "unet3d" in rows:
            out["unet3d"] = _timed(lambda: net3d(x3d))
        big = torch.randn(1, 1, 100, 512, 512)
        if "sw_identity" in rows:
            out["sw_identity"] = _timed(lambda: sliding_window_inference(big, (1, 128, 128), 4, lambda b: b, overlap=0.5,
                                                                     mode="gaussian"))
            out["sw_identity_error"] = _error(sliding_window_inference(big.clone(), (1, 128, 128), 4, lambda b: b,
                                                                       overlap=0.5, mode="gaussian"), big)
        mid = torch.randn(1, 1, 24, 256, 256)
        if "sw_unet2d" in rows:
            out["sw_unet2d"] = _timed(lambda: sliding_window_inference(mid, (1, 128, 128), 4, as_2d, overlap=0.5,
                                                                   mode="gaussian"))
        vol3d = torch.randn(1, 1, 64, 256, 256)
        for row, fn in (("sw3d_identity", lambda b: b), ("sw3d_fresh", lambda b: b.clone())):
            if row in rows:  # timed on a copy: the identity row writes into its input (see the module docstring)
                work = vol3d.clone()
                out[row] = _timed(lambda fn=fn: sliding_window_inference(work, (32, 96, 96), 1, fn, overlap=0.5,
                                                                         mode="gaussian"))
                out[f"{row}_error"] = _error(sliding_window_inference(vol3d.clone(), (32, 96, 96), 1, fn, overlap=0.5,
                                                                      mode="gaussian"), vol3d)
        if "sw3d_unet3d" in rows:
            out["sw3d_unet3d"] = _timed(lambda: sliding_window_inference(vol3d, (32, 96, 96), 1,
                                                                     lambda b: first(net3d(b)), overlap=0.5,
                                                                     mode="gaussian"))
        if geometry and "ct_cascade" in rows:
            out["ct_cascade"] = _timed(_monai_cascade(geometry, lambda net: lambda x: first(net(x[:, :, 0]))[:, :, None]))
    return out


def _run_worker(python: str, side: str, args) -> dict:
    command = [python, os.path.abspath(__file__), "--worker", side, "--threads", str(args.threads), "--rows", args.rows]
    if side == "ours" and args.cascade:
        command += ["--cascade", args.cascade]
    if side == "monai" and args.geometry:
        command += ["--geometry", args.geometry]
    env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": "3"}
    done = subprocess.run(command, capture_output=True, text=True, env=env)
    if done.returncode:
        sys.exit(f"{side} worker failed ({done.returncode}): {done.stderr.strip().splitlines()[-1:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--peers", default=".venv-peers/bin/python", help="the Python of the MONAI virtualenv")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--threads", type=int, default=2)
    parser.add_argument("--cascade", default=None, help="a CT cascade .keras for the whole-volume row")
    parser.add_argument("--rows", default=",".join(ROWS), help="comma-separated rows to time (default: all)")
    parser.add_argument("--out", default=None)
    parser.add_argument("--worker", choices=("ours", "monai"), default=None, help=argparse.SUPPRESS)
    parser.add_argument("--geometry", default=None, help=argparse.SUPPRESS)  # JSON of _cascade_geometry
    args = parser.parse_args(argv)
    rows = args.rows.split(",")
    unknown = sorted(set(rows) - set(ROWS))
    if unknown:
        sys.exit(f"--rows: unknown {unknown}; choose from {list(ROWS)}")
    if args.worker:
        if args.worker == "ours":
            result = _ours(args.threads, args.cascade, rows)
        else:
            result = _monai(args.threads, rows, json.loads(args.geometry) if args.geometry else None)
        print(json.dumps(result))
        return 0
    if not os.path.exists(args.peers):
        sys.exit(f"--peers {args.peers}: no such Python; `make bench-peers` builds .venv-peers")
    if args.cascade and "ct_cascade" in rows:
        args.geometry = json.dumps(_cascade_geometry(args.cascade))
        print(f"cascade geometry: {args.geometry}", file=sys.stderr, flush=True)
    best = {"ours": {}, "monai": {}}
    for r in range(args.rounds):
        order = ("ours", "monai") if r % 2 == 0 else ("monai", "ours")
        for side in order:
            seconds = _run_worker(sys.executable if side == "ours" else args.peers, side, args)
            for row, value in seconds.items():
                keep = max if row.endswith("_error") else min
                best[side][row] = keep(value, best[side].get(row, value))
            print(f"round {r + 1}, {side}: " + ", ".join(f"{k} {v:.2f} s" for k, v in seconds.items()),
                  file=sys.stderr, flush=True)
    print("| row | keras-liver s | MONAI s | MONAI / keras-liver | max abs(output - input), keras-liver / MONAI |\n"
          "|---|---|---|---|---|")
    for row in ROWS:
        ours, theirs = best["ours"].get(row), best["monai"].get(row)
        if ours is None:
            continue
        errors = "-"
        if row in CHECKED:
            errors = f"{best['ours'].get(row + '_error', float('nan')):.2g} / {best['monai'].get(row + '_error', float('nan')):.2g}"
        digits = 3 if ours < 1 else 2
        if theirs:
            print(f"| {row} | {ours:.{digits}f} | {theirs:.{digits}f} | {theirs / ours:.2f} | {errors} |")
        else:
            print(f"| {row} | {ours:.{digits}f} | - | - | {errors} |")
    if args.out:
        with open(args.out, "w") as fh:
            json.dump({"best_s": best, "rounds": args.rounds, "threads": args.threads, "date": time.strftime("%Y-%m-%d"),
                       "machine": f"{platform.node()} ({os.cpu_count()} CPUs)"}, fh, indent=1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
