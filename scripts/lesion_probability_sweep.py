"""Sweep the cascade's lesion filters (peak probability, minimum size) and liver gate on phantoms; the models run once.

    python scripts/lesion_probability_sweep.py --model runs/ct_cascade_v2/cascade.keras \
        --data data/ct512_val9000 [--probabilities none,0.6,0.7,0.8,0.9] [--sizes 100,200,400]
        [--gates none,3] [--thresholds none,0.3] [--limit N] [--work sweep_preds] [--out sweep.json]
        [--peaks peaks.json] [--choose chosen.json [--max-fp 0.5] [--write-cascade OUT.keras]]

Choose the filters on validation phantoms (seeds below 10000, e.g. ``keras-liver phantoms ct
--cases 10 --seed 9000 --shape 100,512,512``), then score held-out phantoms once.

For every case the expensive steps of `run_cascade` run once and are remembered, keyed by their
input's bytes (`Memo`): the threshold denoising, the HOG map and each stage's whole sliding-window
prediction; so each (min_lesion_probability, min_lesion_mm3, liver_gate_mm) setting reruns only the
resampling and the filters. Masks of each setting go to
``WORK/p<prob>_s<size>[_g<gate>][_t<threshold>]/`` and `evaluate_folder` scores them; one JSON row per
setting is printed (liver Dice per case, tumour Dice per case and global, recall of lesions >= 10 mm,
false-positive lesions per case). ``--thresholds`` are `run_cascade`'s ``lesion_threshold`` values.

``--choose`` writes the chosen setting as a JSON object of `run_cascade` settings (`choose_setting`:
the highest tumour Dice per case among the settings with at most ``--max-fp`` false-positive lesions per
case, or, when none has so few, among those with the fewest; ties go to the higher recall, then fewer
false positives), the
``--postprocess`` of ``keras-liver cascade``; ``--write-cascade`` saves the cascade again with it in its
plan, so every later run (predict, eval, export, serving) uses the floor chosen for this model. A stage 2
trained otherwise can be more or less confident than the models the library's defaults were measured on
(docs/RESULTS.md, issue 18 design 2: its tumour probability peaked at 0.86, under the default 0.9).

``--peaks`` writes, for every true lesion, its equivalent diameter and stage 2's tumour probability
inside it (peak and 90th percentile): does the model see a missed lesion at all?
"""

import argparse
import hashlib
import json
import os
import pathlib
import sys

import numpy as np
from scipy import ndimage

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

from keras_liver.evaluation import evaluate_folder  # noqa: E402
from keras_liver.inference import run_cascade  # noqa: E402
from keras_liver.inference.sliding_window import model_predictor  # noqa: E402
from keras_liver.io import find_lits_cases, load_volume, save_volume  # noqa: E402
from keras_liver.models import CTCascade, load_model  # noqa: E402


def remembered(predictor):
    """The predictor with its outputs kept by input bytes (cleared per case with ``.clear()``; eval_ct.py uses it)."""
    predict, dims, channels = predictor
    memory = {}

    def call(batch):
        key = hashlib.sha1(batch.tobytes()).hexdigest() + str(batch.shape)
        if key not in memory:
            memory[key] = predict(batch)
        return memory[key]

    call.clear = memory.clear
    return call, dims, channels


class Memo:
    """Remembers a function's results by the bytes of its array arguments (cleared per case with `clear`).

    ``Memo.patch(module, name)`` replaces ``module.name`` by a remembering wrapper until `restore`;
    functions that `run_cascade` imports at call time (``from keras_liver.preprocess import
    threshold_denoise``) pick up the wrapper.
    """

    def __init__(self):
        self.results, self.saved, self.calls = {}, [], 0

    @staticmethod
    def key(name, args, kwargs) -> str:
        digest = hashlib.sha1(name.encode())

        def add(value):
            if isinstance(value, np.ndarray):
                digest.update(str((value.shape, value.dtype)).encode())
                digest.update(np.ascontiguousarray(value).tobytes())
            else:  # a function (a stage's predictor) by identity, anything else by its repr
                digest.update(repr(id(value) if callable(value) else value).encode())

        for value in args:
            add(value)
        for name_, value in sorted(kwargs.items(), key=lambda item: item[0]):
            digest.update(name_.encode())
            add(value)
        return digest.hexdigest()

    def wrap(self, name, fn):
        def remembered(*args, **kwargs):
            key = self.key(name, args, kwargs)
            if key not in self.results:
                self.calls += 1
                self.results[key] = fn(*args, **kwargs)
            return self.results[key]
        return remembered

    def patch(self, module, name):
        self.saved.append((module, name, getattr(module, name)))
        setattr(module, name, self.wrap(f"{module.__name__}.{name}", getattr(module, name)))

    def restore(self):
        for module, name, fn in reversed(self.saved):
            setattr(module, name, fn)
        self.saved = []

    def clear(self):
        self.results.clear()


def _folder(p, size, gate, threshold=None) -> str:
    return (f"p{p}_s{size:g}" + ("" if gate is None else f"_g{gate:g}")
            + ("" if threshold is None else f"_t{threshold:g}"))


def lesion_peaks(truth: np.ndarray, probability: np.ndarray, spacing) -> list[dict]:
    """Per true lesion (26-connected component of label 2): diameter and tumour probability inside."""
    comps, _ = ndimage.label(truth == 2, ndimage.generate_binary_structure(3, 3))
    voxel = float(np.prod(spacing))
    rows = []
    for k, region in enumerate(ndimage.find_objects(comps), start=1):
        inside = probability[region][comps[region] == k]
        rows.append({"diameter_mm": round(float((6.0 * inside.size * voxel / np.pi) ** (1 / 3)), 1),
                     "peak": round(float(inside.max()), 3), "p90": round(float(np.percentile(inside, 90)), 3)})
    return rows


def choose_setting(rows, max_fp: float = 0.5) -> dict:
    """The sweep row to keep (see the module docstring), as `run_cascade` settings."""
    if not rows:
        raise ValueError("no sweep rows to choose from")
    few = [r for r in rows if r["false_positive_lesions_per_case"] <= max_fp]
    if not few:  # no setting meets the limit: the ones nearest to it
        fewest = min(r["false_positive_lesions_per_case"] for r in rows)
        few = [r for r in rows if r["false_positive_lesions_per_case"] == fewest]
    best = max(few, key=lambda r: (r["tumour_dice_per_case"], r["recall_10mm"], -r["false_positive_lesions_per_case"]))
    return {k: best[k] for k in ("min_lesion_probability", "min_lesion_mm3", "liver_gate_mm", "lesion_threshold")}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--data", required=True)
    parser.add_argument("--probabilities", default="none,0.6,0.7,0.8,0.9")
    parser.add_argument("--sizes", default="100,200,400")
    parser.add_argument("--gates", default="none", help="liver_gate_mm values of run_cascade (none: no gate)")
    parser.add_argument("--thresholds", default="none", help="lesion_threshold values of run_cascade (none: arg-max)")
    parser.add_argument("--peaks", default=None, help="write per-lesion stage-2 tumour probabilities here")
    parser.add_argument("--limit", type=int, default=None)
    parser.add_argument("--work", default="sweep_preds")
    parser.add_argument("--out", default=None)
    parser.add_argument("--choose", default=None, help="write the chosen setting here (JSON, cascade --postprocess)")
    parser.add_argument("--max-fp", type=float, default=0.5, help="--choose: false-positive lesions per case allowed")
    parser.add_argument("--write-cascade", default=None, help="--choose: save the cascade with it in its plan here")
    args = parser.parse_args(argv)
    if args.write_cascade and not args.choose:
        parser.error("--write-cascade needs --choose")
    cascade = load_model(args.model, compile=False)
    if not isinstance(cascade, CTCascade):
        sys.exit(f"--model {args.model}: not a CT cascade")
    import importlib

    liver, tumour = model_predictor(cascade.liver_stage), model_predictor(cascade.tumour_stage)
    memo = Memo()  # the package's `inference.predict_volume` name is also a function: modules by their full names
    memo.patch(importlib.import_module("keras_liver.inference.predict_volume"), "sliding_window_predict")
    memo.patch(importlib.import_module("keras_liver.preprocess"), "threshold_denoise")
    memo.patch(importlib.import_module("keras_liver.features"), "hog_map")
    probs = [None if p == "none" else float(p) for p in args.probabilities.split(",")]
    sizes = [float(s) for s in args.sizes.split(",")]
    gates = [None if g == "none" else float(g) for g in args.gates.split(",")]
    thresholds = [None if t == "none" else float(t) for t in args.thresholds.split(",")]
    settings = [(p, size, gate, t) for p in probs for size in sizes for gate in gates for t in thresholds]
    peaks = {}
    work = pathlib.Path(args.work)
    try:
        cases = find_lits_cases(args.data)[:args.limit]
        for case in cases:
            volume = load_volume(case.image_path)
            if args.peaks:
                _, stages = run_cascade(liver, tumour, cascade.plan, volume, return_stages=True)
                peaks[case.case_id] = lesion_peaks(load_volume(case.label_path).array, stages["tumour_probability"],
                                                   volume.spacing)
            for p, size, gate, t in settings:
                mask = run_cascade(liver, tumour, cascade.plan, volume, min_lesion_mm3=size, min_lesion_probability=p,
                                   liver_gate_mm=gate, lesion_threshold=t)
                folder = work / _folder(p, size, gate, t)
                folder.mkdir(parents=True, exist_ok=True)
                save_volume(mask, folder / f"segmentation-{case.case_id}.nii.gz")
            memo.clear()
            print(f"case {case.case_id} done", file=sys.stderr, flush=True)
    finally:
        memo.restore()
    rows = []
    if args.peaks:
        pathlib.Path(args.peaks).write_text(json.dumps(peaks, indent=1) + "\n")
    for p, size, gate, t in settings:
        result = evaluate_folder(work / _folder(p, size, gate, t), args.data)
        rows.append({"min_lesion_probability": p, "min_lesion_mm3": size, "liver_gate_mm": gate,
                     "lesion_threshold": t,
                     "liver_dice_per_case": round(result["liver_dice"]["mean_per_case"], 4),
                     "tumour_dice_per_case": round(result["tumour_dice"]["mean_per_case"], 4),
                     "tumour_dice_global": round(result["tumour_dice"]["global"], 4),
                     "recall_10mm": round(result["detection"]["recall"], 4),
                     "false_positive_lesions_per_case":
                         round(result["detection"]["false_positive_lesions_per_case"], 2)})
        print(json.dumps(rows[-1]), flush=True)
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(rows, indent=1) + "\n")
    if args.choose:
        chosen = choose_setting(rows, args.max_fp)
        pathlib.Path(args.choose).write_text(json.dumps(chosen, indent=1) + "\n")
        print(json.dumps({"chosen": chosen}), flush=True)
        if args.write_cascade:
            from keras_liver.models import save_model

            again = CTCascade(cascade.liver_stage, cascade.tumour_stage, margin_mm=cascade.margin_mm,
                              postprocess={**cascade.postprocess, **chosen})
            save_model(again, args.write_cascade)
            print(args.write_cascade, flush=True)


if __name__ == "__main__":
    main()
