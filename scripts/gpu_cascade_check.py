"""Issue 16's GPU check: both cascade stages trained with mixed precision and XLA on and off.

    python scripts/gpu_cascade_check.py [--cases 8] [--steps 60] [--out gpu_check] [--shape 100,512,512]

Makes ``--cases`` clinical-resolution CT phantoms (seeds 0..), then for stage 1
(`configs/ct_cascade_liver.yaml`) and stage 2 (`configs/ct_cascade_tumour.yaml`) and each of
the four settings (mixed precision off/on x XLA off/on) trains one epoch of ``--steps`` steps
plus a second epoch of ``--steps`` steps (the second one is timed: no tracing or compiling in
it) and records steps/s, the final loss (finite or not) and the peak GPU memory
(`tf.config.experimental.get_memory_info`). Each setting runs in its own process, so peak
memory and the precision policy do not leak between them. Writes ``OUT/gpu_check.json`` and
prints one line per run. Runs on a CPU too (slowly; the memory column is then empty), which
is how it is tested before a GPU is lent.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
STAGES = {"liver": "configs/ct_cascade_liver.yaml", "tumour": "configs/ct_cascade_tumour.yaml"}


def one_run(stage: str, mixed: bool, xla: bool, data: str, steps: int, out: pathlib.Path) -> dict:
    """Train one stage for two epochs of ``steps`` in this process; the second epoch's rate and the peak memory."""
    import keras
    import tensorflow as tf
    import yaml

    from keras_liver.training import train

    config = yaml.safe_load((ROOT / STAGES[stage]).read_text())
    run_dir = out / f"{stage}-mp{int(mixed)}-xla{int(xla)}"
    config.update(data=data, out_dir=str(run_dir), epochs=2, steps_per_epoch=steps, validation_steps=1,
                  mixed_precision=mixed, xla=xla, verbose=0, val_roi_model=None, time_budget_s=None)
    times = []

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if batch == steps - 1:
                times.append(time.perf_counter() - self.start)

    gpus = tf.config.list_physical_devices("GPU")
    train(config, callbacks=[EpochClock()])
    summary = json.loads((run_dir / "summary.json").read_text())
    peak = tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2 ** 30 if gpus else None
    return {"stage": stage, "mixed_precision": mixed, "xla": xla, "policy": summary["policy"],
            "device": "GPU" if gpus else "CPU", "steps_per_s": round(steps / times[-1], 2),
            "first_epoch_s": round(times[0], 1), "loss": summary["last"].get("loss"),
            "peak_gpu_gib": None if peak is None else round(peak, 2)}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--cases", type=int, default=8)
    parser.add_argument("--steps", type=int, default=60)
    parser.add_argument("--shape", default="100,512,512")
    parser.add_argument("--out", default="gpu_check")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # stage,mixed,xla: one run, this process
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out).resolve()
    data = out / "data"
    if args.one:
        stage, mixed, xla = args.one.split(",")
        row = one_run(stage, mixed == "1", xla == "1", str(data), args.steps, out)
        print("ROW " + json.dumps(row), flush=True)
        return
    out.mkdir(parents=True, exist_ok=True)
    if not (data / "cases.json").is_file():
        subprocess.check_call([sys.executable, "-m", "keras_liver.cli", "phantoms", "ct", "--cases", str(args.cases),
                               "--seed", "0", "--shape", args.shape, "--out", str(data)], cwd=ROOT)
    rows = []
    for stage in STAGES:
        for mixed in (0, 1):
            for xla in (0, 1):
                proc = subprocess.run([sys.executable, __file__, "--out", str(out), "--steps", str(args.steps),
                                       "--one", f"{stage},{mixed},{xla}"], cwd=ROOT, capture_output=True, text=True,
                                      env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
                found = [line[4:] for line in proc.stdout.splitlines() if line.startswith("ROW ")]
                row = json.loads(found[-1]) if found else {
                    "stage": stage, "mixed_precision": bool(mixed), "xla": bool(xla),
                    "error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]}
                rows.append(row)
                print(json.dumps(row), flush=True)
                (out / "gpu_check.json").write_text(json.dumps(rows, indent=1) + "\n")


if __name__ == "__main__":
    main()
