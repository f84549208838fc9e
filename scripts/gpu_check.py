"""Every GPU measurement of the project in one call (issue 20 item 5; issue 16's GPU check inside it).

    python scripts/gpu_check.py [--out gpu_check] [--steps 40] [--parts train,infer]
        [--stages ct_liver,ct_tumour,dce_lesion,dce_classifier] [--settings 00,10,01,11] [--allow-cpu]

Without a GPU it says so in one line and exits 0, measuring nothing (``--allow-cpu`` runs it on the
CPU anyway, slowly: how it is tried before a GPU is lent). With one:

- **train**: each stage (the CT cascade's two stages with the shipped preset's recipe, the DCE
  lesion segmenter and the DCE classifier) under each setting ``MX`` (M: mixed precision off/on,
  X: XLA off/on) trains one epoch of ``--steps`` steps, then a second one, timed (no tracing or
  compiling in it): steps/s, samples/s, the last loss (finite or not), the policy and the peak GPU
  memory. Each run is its own process, so memory peaks and the precision policy do not leak.
- **infer**: the shipped presets on a held-out phantom: the CT cascade on a 100 x 512 x 512 volume
  and the DCE pipeline on one series, with every model call timed: whole-volume seconds, windows
  per second of each stage's model, and the sliding window's share of the whole-volume time (all
  that is not the model: resampling, window cutting, blending, post-processing).

Writes ``OUT/gpu_check.json`` (rows as they come) and prints one JSON line per row.
"""

import argparse
import json
import os
import pathlib
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]
STAGES = {  # stage -> (config, data kind)
    "ct_liver": ("configs/ct_cascade_liver_variety.yaml", "ct"),
    "ct_tumour": ("configs/ct_cascade_tumour_variety.yaml", "ct"),
    "dce_lesion": ("configs/dce_cascade_lesion.yaml", "dce"),
    "dce_classifier": ("configs/dce_pipeline_classifier.yaml", "dce"),
}
SETTINGS = ("00", "10", "01", "11")


class TimedPredictor:
    """A window predictor that counts its windows and the seconds spent inside the model.

    Args:
        predict: ``batch -> prediction`` (the first item of `model_predictor`'s tuple, or a
            DCE series predictor).
    """

    def __init__(self, predict):
        self.predict, self.seconds, self.windows, self.calls = predict, 0.0, 0, 0

    def __call__(self, batch):
        start = time.perf_counter()
        out = self.predict(batch)
        self.seconds += time.perf_counter() - start
        self.windows += len(batch)
        self.calls += 1
        return out

    def row(self) -> dict:
        rate = self.windows / self.seconds if self.seconds else None
        return {"windows": self.windows, "model_s": round(self.seconds, 3),
                "windows_per_s": None if rate is None else round(rate, 2)}


def sliding_window_share(total_s: float, *predictors) -> float:
    """Share of ``total_s`` not spent in the models' calls: the sliding window and its pre- and post-processing."""
    model = sum(p.seconds for p in predictors)
    return round(max(0.0, total_s - model) / total_s, 3) if total_s > 0 else 0.0


def _peak_gib():
    import tensorflow as tf

    if not tf.config.list_physical_devices("GPU"):
        return None
    return round(tf.config.experimental.get_memory_info("GPU:0")["peak"] / 2 ** 30, 2)


def train_row(stage: str, setting: str, data: str, steps: int, out: pathlib.Path) -> dict:
    """Train one stage for two epochs of ``steps`` in this process; the second epoch's rate and the peak memory."""
    import keras
    import yaml

    from keras_liver.training import train

    config = yaml.safe_load((ROOT / STAGES[stage][0]).read_text())
    mixed, xla = setting[0] == "1", setting[1] == "1"
    run_dir = out / f"{stage}-mp{int(mixed)}-xla{int(xla)}"
    config.update(data=data, out_dir=str(run_dir), epochs=2, steps_per_epoch=steps, validation_steps=1,
                  mixed_precision=mixed, xla=xla, verbose=0, val_roi_model=None, time_budget_s=None, init_from=None)
    times = []

    class EpochClock(keras.callbacks.Callback):
        def on_epoch_begin(self, epoch, logs=None):
            self.start = time.perf_counter()

        def on_train_batch_end(self, batch, logs=None):
            if batch == steps - 1:
                times.append(time.perf_counter() - self.start)

    train(config, callbacks=[EpochClock()])
    summary = json.loads((run_dir / "summary.json").read_text())
    return {"part": "train", "stage": stage, "mixed_precision": mixed, "xla": xla, "policy": summary.get("policy"),
            "steps_per_s": round(steps / times[-1], 2),
            "samples_per_s": round(steps * int(config.get("batch_size", 1)) / times[-1], 1),
            "first_epoch_s": round(times[0], 1), "loss": summary.get("last", {}).get("loss"),
            "peak_gpu_gib": _peak_gib()}


def infer_rows(shape) -> list:
    """The shipped presets on held-out phantoms, every model call timed."""
    from keras_liver import presets
    from keras_liver.inference.cascade import run_cascade
    from keras_liver.inference.dce_cascade import model_series_predictor, run_dce_pipeline
    from keras_liver.inference.sliding_window import model_predictor
    from keras_liver.phantoms import ct_case, dce_case

    rows = []
    cascade = presets.load("ct_liver_tumour")
    image = ct_case(10000, shape=shape, variety=True).image
    for attempt in ("warm-up", "timed"):  # the first call traces the models
        liver = TimedPredictor(model_predictor(cascade.liver_stage)[0])
        tumour = TimedPredictor(model_predictor(cascade.tumour_stage)[0])
        liver_p = (liver,) + model_predictor(cascade.liver_stage)[1:]
        tumour_p = (tumour,) + model_predictor(cascade.tumour_stage)[1:]
        start = time.perf_counter()
        run_cascade(liver_p, tumour_p, cascade.plan, image)
        total = time.perf_counter() - start
    rows.append({"part": "infer", "what": "ct_liver_tumour cascade", "shape": list(shape), "seconds": round(total, 2),
                 "liver_stage": liver.row(), "tumour_stage": tumour.row(),
                 "sliding_window_share": sliding_window_share(total, liver, tumour), "peak_gpu_gib": _peak_gib()})
    pipeline = presets.load("dce_lesion")
    series = dce_case(10000).image
    classifier = TimedPredictor(lambda feed: pipeline.classifier.predict_on_batch(feed)["probabilities"])
    for attempt in ("warm-up", "timed"):
        liver = TimedPredictor(model_series_predictor(pipeline.liver_stage))
        lesion = TimedPredictor(model_series_predictor(pipeline.lesion_stage))
        start = time.perf_counter()
        classifier.seconds = 0.0
        run_dce_pipeline(liver, lesion, classifier, pipeline.plan, series)
        total = time.perf_counter() - start
    rows.append({"part": "infer", "what": "dce_lesion pipeline", "shape": list(series.shape),
                 "seconds": round(total, 2), "liver_stage": liver.row(), "lesion_stage": lesion.row(),
                 "classifier_s": round(classifier.seconds, 3),
                 "sliding_window_share": sliding_window_share(total, liver, lesion, classifier),
                 "peak_gpu_gib": _peak_gib()})
    return rows


def _subprocess_rows(args, extra) -> list:
    proc = subprocess.run([sys.executable, __file__, "--out", str(args.out), "--steps", str(args.steps), "--shape",
                           args.shape, "--allow-cpu", *extra], cwd=ROOT, capture_output=True, text=True,
                          env={**os.environ, "TF_CPP_MIN_LOG_LEVEL": "2"})
    found = [json.loads(line[4:]) for line in proc.stdout.splitlines() if line.startswith("ROW ")]
    if proc.returncode or not found:
        return [{"args": extra, "error": (proc.stderr.strip().splitlines() or ["no output"])[-1][:300]}]
    return found


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="gpu_check")
    parser.add_argument("--steps", type=int, default=40)
    parser.add_argument("--parts", default="train,infer")
    parser.add_argument("--stages", default=",".join(STAGES))
    parser.add_argument("--settings", default=",".join(SETTINGS), help="MX pairs: mixed precision, XLA (0/1)")
    parser.add_argument("--shape", default="100,512,512", help="CT phantoms' Z,Y,X")
    parser.add_argument("--ct-cases", type=int, default=8)
    parser.add_argument("--dce-cases", type=int, default=24)
    parser.add_argument("--allow-cpu", action="store_true", help="measure on the CPU when there is no GPU")
    parser.add_argument("--one", default=None, help=argparse.SUPPRESS)  # "train:stage:MX" or "infer": this process
    args = parser.parse_args(argv)
    args.out = pathlib.Path(args.out).resolve()
    shape = tuple(int(s) for s in args.shape.split(","))
    if args.one:
        if args.one == "infer":
            rows = infer_rows(shape)
        else:
            _, stage, setting = args.one.split(":")
            rows = [train_row(stage, setting, str(args.out / f"data_{STAGES[stage][1]}"), args.steps, args.out)]
        for row in rows:
            print("ROW " + json.dumps(row), flush=True)
        return 0
    stages, settings, parts = args.stages.split(","), args.settings.split(","), args.parts.split(",")
    for name, known, what in ((stages, STAGES, "--stages"), (settings, SETTINGS, "--settings"),
                              (parts, ("train", "infer"), "--parts")):
        unknown = [n for n in name if n not in known]
        if unknown:
            sys.exit(f"{what}: unknown {unknown}; choose from {list(known)}")
    import tensorflow as tf

    gpus = tf.config.list_physical_devices("GPU")
    if not gpus and not args.allow_cpu:
        print("gpu_check: no GPU on this machine (tf.config.list_physical_devices('GPU') is empty); "
              "nothing measured (--allow-cpu measures on the CPU)")
        return 0
    args.out.mkdir(parents=True, exist_ok=True)
    cli = [sys.executable, "-m", "keras_liver.cli", "phantoms"]
    if "train" in parts:
        kinds = {STAGES[s][1] for s in stages}
        if "ct" in kinds and not (args.out / "data_ct" / "cases.json").is_file():
            subprocess.check_call(cli + ["ct", "--cases", str(args.ct_cases), "--seed", "0", "--shape", args.shape,
                                         "--phase", "mixed", "--variety", "--out", str(args.out / "data_ct")], cwd=ROOT)
        if "dce" in kinds and not (args.out / "data_dce" / "cases.json").is_file():
            subprocess.check_call(cli + ["dce", "--cases", str(args.dce_cases), "--seed", "3000", "--balanced",
                                         "--out", str(args.out / "data_dce")], cwd=ROOT)
    jobs = [f"train:{s}:{m}" for s in stages for m in settings] if "train" in parts else []
    jobs += ["infer"] if "infer" in parts else []
    rows = [{"device": gpus[0].name if gpus else "CPU (--allow-cpu)", "date": time.strftime("%Y-%m-%d")}]
    for job in jobs:
        for row in _subprocess_rows(args, ["--one", job]):
            rows.append(row)
            print(json.dumps(row), flush=True)
            (args.out / "gpu_check.json").write_text(json.dumps(rows, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
