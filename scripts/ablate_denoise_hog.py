"""The paper's two choices tested on stage 2 of the CT cascade at equal training time (issue 16, item 4).

    python scripts/ablate_denoise_hog.py --liver runs/ct_cascade_v2/liver/best.keras [--budget-s 600]
        [--config configs/ct_cascade_tumour.yaml] [--data data/ct512_heldout10000] [--limit 10]
        [--out runs/ablation] [--variants plain,denoise,hog,denoise_hog]

Stage-2 runs from the same config (2.5D), differing only in their input: plain, threshold-denoised
(`denoise: true`, the package's default non-adaptive threshold), with the dense HOG map fused as
an extra input (`hog_orientations: 9`), and both; and, for the through-plane choice, 2D (no
neighbouring slices) and 3D patches. Each trains for the same wall time
(`time_budget_s`, the cosine decay running over that time), so a slower input pipeline (HOG is
computed per patch) pays for itself in fewer steps, as it would for a user. Each is tied to the
same stage 1 (`--liver`, which also gives the validation boxes) into a cascade and scored with scripts/eval_ct.py on the held-out
phantoms, with and without the cascade's lesion-probability floor. Prints one JSON row per variant and writes ``OUT/ablation.json``.
"""

import argparse
import json
import pathlib
import shutil
import subprocess
import sys
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
VARIANTS = {"plain": {}, "denoise": {"denoise": True}, "hog": {"hog_orientations": 9},
            "denoise_hog": {"denoise": True, "hog_orientations": 9},
            # through-plane context, same budget: one slice (2D), and 3D patches instead of 2.5D
            "2d": {"context_slices": 0},
            "3d": {"context_slices": 0, "patch_size": [16, 112, 112], "batch_size": 2}}
KEYS = ("tumour_dice_per_case", "tumour_dice_global", "recall_10mm", "false_positive_lesions_per_case",
        "liver_dice_per_case", "seconds_per_volume_mean")


def _call(argv, log):
    """Run one command with its output in ``log``; exit with a one-line message if it fails."""
    with open(log, "w") as fh:
        code = subprocess.call(argv, stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    if code:
        sys.exit(f"{' '.join(str(a) for a in argv[1:3])}: exit code {code}; see {log}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--liver", required=True, help="stage 1 (.keras) shared by every variant")
    parser.add_argument("--config", default="configs/ct_cascade_tumour.yaml")
    parser.add_argument("--budget-s", type=float, default=600.0, help="training seconds per variant")
    parser.add_argument("--data", default="data/ct512_heldout10000")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--out", default="runs/ablation")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    args = parser.parse_args(argv)
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((ROOT / args.config).read_text())
    rows = {}
    table = out / "ablation.json"
    if table.is_file():
        rows = json.loads(table.read_text())
    cli = str(pathlib.Path(sys.executable).with_name("keras-liver"))
    for name in args.variants.split(","):
        if name not in VARIANTS:
            sys.exit(f"--variants: unknown variant {name!r}; choose from {sorted(VARIANTS)}")
        run_dir = out / name
        config = {**base, **VARIANTS[name], "out_dir": str(run_dir), "time_budget_s": args.budget_s,
                  "epochs": max(int(base.get("epochs", 10)) * 4, 100)}
        config["val_roi_model"] = args.liver
        cache_group = out / f"cache-denoise{int(bool(config.get('denoise')))}.h5"
        if cache_group.is_file() and not (run_dir / "cache.h5").is_file():  # same cases, spacing, denoising
            run_dir.mkdir(parents=True, exist_ok=True)
            shutil.copy(cache_group, run_dir / "cache.h5")
        config_path = out / f"{name}.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        started = time.perf_counter()
        if (run_dir / "summary.json").is_file():  # trained by an earlier, interrupted call: only score it
            wall = json.loads((run_dir / "summary.json").read_text())["seconds"]
        else:
            _call([cli, "train", "--config", config_path], out / f"{name}.train.log")
            wall = time.perf_counter() - started
        if not cache_group.is_file():
            shutil.copy(run_dir / "cache.h5", cache_group)
        summary = json.loads((run_dir / "summary.json").read_text())
        cascade = out / f"{name}.cascade.keras"
        _call([cli, "cascade", "--liver", args.liver, "--tumour", run_dir / "best.keras", "--out", cascade],
              out / f"{name}.cascade.log")
        result = out / f"{name}.eval.json"
        _call([sys.executable, "scripts/eval_ct.py", "--model", cascade, "--data", args.data, "--preds",
               out / f"{name}.preds", "--limit", str(args.limit), "--out", result], out / f"{name}.eval.log")
        scores = json.loads(result.read_text())
        unfloored = scores.get("without_probability_floor", {})
        rows[name] = {"train_wall_s": round(wall, 1), "epochs_run": summary["epochs_run"],
                      "steps_run": summary.get("steps_run"), "val_dice_2_best": summary["best"].get("val_dice_2"),
                      **{k: scores.get(k) for k in KEYS}, "by_kind": scores.get("by_kind"),
                      "without_probability_floor": {k: unfloored.get(k) for k in KEYS + ("by_kind",)}}
        print(json.dumps({name: rows[name]}), flush=True)
        table.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
