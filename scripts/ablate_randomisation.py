"""Which parts of the domain randomisation matter on real CT? (issue 18, item 3)

    python scripts/ablate_randomisation.py [--config configs/ct_cascade_liver_variety.yaml] [--budget-s 480]
        [--out runs/ablation_randomisation] [--variants all,no_tissue_remap,...] [--data data/ct512_variety_val9000]
        [--limit 10] [--real ../shared/data/real]

Stage 1 of the CT cascade (the liver, the model the real-scan target is about) trained once per
variant of its ``augment_args``, every variant for the same wall time (``time_budget_s``): ``all``
(the config as it is), then each part switched off alone (``no_tissue_remap``, ``no_resolution``:
in-plane and through-plane resolution, ``no_texture_bias``: noise grain and bias field,
``no_intensity``: scale, shift, gamma and noise level), ``none`` (geometry only), and parts added
to the config (``more_noise``: added noise up to 35 HU, half the patches, for thin-slice scans whose
liver noise is 30-40 HU, beyond the phantoms' 8-25 HU). ``NAME@SEED`` trains a variant again with
another seed (patch order, augmentation draws and initial weights), its run in ``NAME@SEED``: the
spread between seeds is what a difference between variants must exceed. Each model is
scored on every real scan with a liver label (`evaluate_real_scans`, no ``--spacing``: its plan
decides) and on held-out variety phantoms (``--data``: liver Dice and the share of extra-hepatic
mass voxels called liver, `scripts/eval_ct.py`). Prints one JSON row per variant and writes
``OUT/ablation.json``; a variant whose run finished earlier is only scored again.
"""

import argparse
import json
import pathlib
import subprocess
import sys
import time

import yaml

ROOT = pathlib.Path(__file__).resolve().parents[1]
OFF = {"no_tissue_remap": {"tissue_remap": None},
       "no_resolution": {"p_lowres": 0.0, "p_thick": 0.0},
       "no_texture_bias": {"p_texture": 0.0, "p_bias": 0.0},
       "no_intensity": {"intensity_scale": [1.0, 1.0], "intensity_shift": 0.0, "p_gamma": 0.0, "p_noise": 0.0}}
MORE = {"more_noise": {"noise_sigma": 35.0, "p_noise": 0.5}}
VARIANTS = ("all", *OFF, "none", *MORE)


def variant_augment(base: dict, name: str) -> dict:
    """The ``augment_args`` of one variant: the base's, its parts switched off (`OFF`) or added (`MORE`)."""
    args = dict(base)
    if name in OFF:
        parts = [OFF[name]]
    elif name == "none":
        parts = list(OFF.values())
    else:
        parts = [MORE[name]] if name in MORE else []
    for part in parts:
        args.update(part)
    return {k: v for k, v in args.items() if not (k == "tissue_remap" and v is None)}


def parse_variant(name: str):
    """``"more_noise@1"`` -> ``("more_noise", 1)``; ``"all"`` -> ``("all", None)``; exits on an unknown name."""
    variant, _, seed = name.partition("@")
    if variant not in VARIANTS:
        sys.exit(f"--variants: unknown variant {variant!r}; choose from {list(VARIANTS)}")
    if seed and not seed.isdigit():
        sys.exit(f"--variants: {name!r}: the seed after '@' must be a whole number")
    return variant, (int(seed) if seed else None)


def _call(argv, log):
    with open(log, "w") as fh:
        code = subprocess.call([str(a) for a in argv], stdout=fh, stderr=subprocess.STDOUT, cwd=ROOT)
    if code:
        sys.exit(f"{' '.join(str(a) for a in argv[1:3])}: exit code {code}; see {log}")


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--config", default="configs/ct_cascade_liver_variety.yaml")
    parser.add_argument("--budget-s", type=float, default=480.0, help="training seconds per variant")
    parser.add_argument("--out", default="runs/ablation_randomisation")
    parser.add_argument("--variants", default=",".join(VARIANTS))
    parser.add_argument("--data", default="data/ct512_variety_val9000")
    parser.add_argument("--limit", type=int, default=10)
    parser.add_argument("--real", default=str(ROOT.parent / "shared" / "data" / "real"))
    args = parser.parse_args(argv)
    out = ROOT / args.out
    out.mkdir(parents=True, exist_ok=True)
    base = yaml.safe_load((ROOT / args.config).read_text())
    table = out / "ablation.json"
    rows = json.loads(table.read_text()) if table.is_file() else {}
    cli = pathlib.Path(sys.executable).with_name("keras-liver")
    for name in args.variants.split(","):
        variant, seed = parse_variant(name)
        run_dir = out / name
        config = {**base, "out_dir": str(run_dir), "time_budget_s": args.budget_s,
                  "augment_args": variant_augment(base.get("augment_args") or {}, variant)}
        if seed is not None:
            config["seed"] = seed
        config_path = out / f"{name}.yaml"
        config_path.write_text(yaml.safe_dump(config, sort_keys=False))
        started = time.perf_counter()
        if not (run_dir / "summary.json").is_file():
            _call([cli, "train", "--config", config_path], out / f"{name}.train.log")
        wall = time.perf_counter() - started
        model = run_dir / ("best.keras" if (run_dir / "best.keras").is_file() else "model.keras")
        _call([sys.executable, "scripts/eval_real.py", "--model", model, "--real", args.real, "--out-dir",
               out / f"{name}.real"], out / f"{name}.real.log")
        real = json.loads((out / f"{name}.real" / "real_scans.json").read_text())["scans"]
        _call([sys.executable, "scripts/eval_ct.py", "--model", model, "--data", args.data, "--limit", str(args.limit),
               "--preds", out / f"{name}.preds", "--out", out / f"{name}.eval.json"], out / f"{name}.eval.log")
        phantoms = json.loads((out / f"{name}.eval.json").read_text())
        rows[name] = {"augment_args": config["augment_args"], "train_wall_s": round(wall, 1),
                      "real_liver_dice": {r["scan"]: r["liver_dice"] for r in real},
                      "real_liver_dice_min": min(r["liver_dice"] for r in real) if real else None,
                      "phantom_liver_dice_per_case": phantoms.get("liver_dice_per_case"),
                      "masses_called_liver_or_tumour": phantoms.get("masses_called_liver_or_tumour")}
        print(json.dumps({name: rows[name]}), flush=True)
        table.write_text(json.dumps(rows, indent=2) + "\n")


if __name__ == "__main__":
    main()
