"""Batch inference against a shell loop of `keras-liver predict`, and the fault cases (issue 21).

    python scripts/bench_batch.py --model MODEL_OR_PRESET [--stage liver] [--cases 38] [--shape 24,128,128]
        [--work runs/bench_batch]

Writes ``--cases`` CT phantoms (seeds 10000 and up) and two corrupt files among them, then measures
scans per minute for: a shell loop running ``keras-liver predict`` once per scan (one process each:
TensorFlow imported and the model loaded every time), ``keras-liver predict-batch`` with 1 worker and
with 2 workers (DirectRunner). Each batch run starts from an empty output folder. Then the fault
case: a 2-worker run killed (SIGTERM to its process group) once half the rows exist, restarted, and
the scans counted: every good scan must have its mask and row, every corrupt one its error row.
Prints one JSON record (for docs/RESULTS.md).

``--stage liver`` runs the given cascade's stage 1 alone (saved as WORK/liver_stage.keras): a liver
volume per scan at the coarse spacing, where starting a process is most of a scan's time. The whole
cascade resamples every scan to stage 2's 1 mm grid, whatever the file's size, so its time is the
model's, and one worker's TensorFlow already uses every core.
"""

import argparse
import json
import os
import pathlib
import platform
import shutil
import signal
import subprocess
import sys
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def _cli():
    return str(pathlib.Path(sys.executable).with_name("keras-liver"))


def make_archive(folder: pathlib.Path, cases: int, shape) -> list[pathlib.Path]:
    from keras_liver.phantoms import write_ct_dataset

    if not (folder / "cases.json").is_file():
        write_ct_dataset(folder, cases, seed=10000, shape=shape)
    for n in (cases, cases + 1):  # two corrupt inputs
        (folder / f"volume-{n}.nii.gz").write_bytes(b"corrupt: not a NIfTI file " * n)
    return sorted(folder.glob("volume-*.nii.gz"))


def shell_loop(model, inputs, out: pathlib.Path) -> float:
    out.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    for path in inputs:
        subprocess.call([_cli(), "predict", "--model", model, "--input", str(path), "--output",
                         str(out / path.name)], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    return time.perf_counter() - start


def batch(model, pattern, out: pathlib.Path, workers: int) -> tuple[float, dict]:
    shutil.rmtree(out, ignore_errors=True)
    start = time.perf_counter()
    done = subprocess.run([_cli(), "predict-batch", "--model", model, "--input", pattern, "--output-dir", str(out),
                           "--workers", str(workers)], capture_output=True, text=True)
    seconds = time.perf_counter() - start
    if done.returncode:
        sys.exit(f"predict-batch --workers {workers}: exit {done.returncode}: {done.stderr[-2000:]}")
    return seconds, json.loads(done.stdout.strip().splitlines()[-1])


def killed_and_restarted(model, pattern, out: pathlib.Path, n_inputs: int) -> dict:
    shutil.rmtree(out, ignore_errors=True)
    argv = [_cli(), "predict-batch", "--model", model, "--input", pattern, "--output-dir", str(out), "--workers", "2"]
    proc = subprocess.Popen(argv, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL, start_new_session=True)
    while proc.poll() is None and len(list(out.glob("*.row.json"))) < n_inputs // 2:
        time.sleep(0.2)
    rows_at_kill = len(list(out.glob("*.row.json")))
    if proc.poll() is None:
        os.killpg(proc.pid, signal.SIGTERM)
        proc.wait()
    done = subprocess.run(argv, capture_output=True, text=True)
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    rows = [json.loads(p.read_text()) for p in out.glob("*.row.json")]
    good = [r for r in rows if not r["error"] and (out / r["mask"]).is_file()]
    return {"rows_when_killed": rows_at_kill, "skipped_on_restart": summary["skipped"], "rows": len(rows),
            "complete": len(good), "failed": summary["failed"], "lost": n_inputs - len(rows)}


def stage_model(model: str, stage: str, work: pathlib.Path) -> str:
    """The cascade's ``stage`` (``liver`` or ``tumour``) saved alone as a model file; its path."""
    from keras_liver.models import load_model, save_model

    cascade = load_model(model, compile=False)
    path = work / f"{stage}_stage.keras"
    save_model(getattr(cascade, f"{stage}_stage"), path)
    return str(path)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--stage", choices=("liver", "tumour"), default=None,
                        help="run this stage of the --model cascade alone")
    parser.add_argument("--cases", type=int, default=38, help="phantoms; two corrupt files are added")
    parser.add_argument("--shape", default="24,128,128")
    parser.add_argument("--work", default="runs/bench_batch")
    args = parser.parse_args(argv)
    work = ROOT / args.work
    shape = tuple(int(v) for v in args.shape.split(","))
    inputs = make_archive(work / "archive", args.cases, shape)
    model = stage_model(args.model, args.stage, work) if args.stage else args.model
    pattern = str(work / "archive" / "volume-*.nii.gz")
    loop_s = shell_loop(model, inputs, work / "loop")
    one_s, one = batch(model, pattern, work / "batch1", 1)
    two_s, two = batch(model, pattern, work / "batch2", 2)
    fault = killed_and_restarted(model, pattern, work / "killed", len(inputs))
    per_min = {name: round(len(inputs) * 60.0 / s, 1) for name, s in
               (("shell_loop", loop_s), ("batch_1_worker", one_s), ("batch_2_workers", two_s))}
    record = {"machine": f"{platform.node()} ({platform.processor() or platform.machine()}, {os.cpu_count()} CPUs)",
              "date": time.strftime("%Y-%m-%d"), "model": args.model, "stage": args.stage, "inputs": len(inputs),
              "corrupt": 2,
              "shape": list(shape), "seconds": {"shell_loop": round(loop_s, 1), "batch_1_worker": round(one_s, 1),
                                                "batch_2_workers": round(two_s, 1)},
              "scans_per_minute": per_min,
              "speedup_2_workers_vs_loop": round(per_min["batch_2_workers"] / per_min["shell_loop"], 2),
              "failed_rows": {"batch_1_worker": one["failed"], "batch_2_workers": two["failed"]},
              "killed_and_restarted": fault}
    print(json.dumps(record, indent=1))
    return 0


if __name__ == "__main__":
    sys.exit(main())
