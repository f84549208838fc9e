"""The main job, run by `make demo`: the shipped presets at work, end to end, in a few minutes.

1. Held-out data: CT phantoms at clinical resolution (512 x 512, mixed contrast phases, the
   wider anatomy with masses outside the liver; seeds 10000 and up, never trained on) and
   DCE-MRI series (seeds 10000 and up, one lesion class after another).
2. CT: the ``ct_liver_tumour`` preset (a two-stage cascade) segments every phantom and, when
   ../shared/data/real is present, every real CT with a liver label, with no ``--spacing``:
   liver and tumour Dice, lesions found, overlays.
3. DCE: the ``dce_lesion`` preset segments each series' liver and lesions and classifies every
   lesion it finds: a table of lesions and a confusion matrix of the true lesions' classes.
4. Fine-tuning: ``keras-liver train`` with ``init_from: ct_liver_tumour`` (its liver stage) on a
   few small phantoms for a minute: training curves.
5. Serving: both presets exported as SavedModels, served by ``keras-liver serve`` (TF Serving's
   gRPC API) in another process, queried over gRPC; the served results must equal the local ones.
6. A summary table, and ``OUT/report.html``: one static page with every table and picture.

    python scripts/demo.py [--out demo_out] [--ct-cases 3] [--dce-cases 6] [--finetune-steps 12]

Prints steps, progress bars and tables; the package's own INFO lines are kept out. Exits 1 when
a served result differs from the local one.
"""

import argparse
import json
import logging
import os
import pathlib
import sys
import time

os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")

ROOT = pathlib.Path(__file__).resolve().parents[1]
REAL = ROOT.parent / "shared" / "data" / "real"
HELD_OUT = 10000
log = logging.getLogger("demo")


def _cli(*argv) -> None:
    """Run one ``keras-liver`` command in this process (the line is shown first); stop on failure."""
    from keras_liver.cli.main import main as cli

    log.info("  $ keras-liver %s", " ".join(str(a) for a in argv))
    code = cli([str(a) for a in argv])
    if code:
        raise SystemExit(f"keras-liver {argv[0]}: exit code {code}")


def _progress(items, what):
    from tqdm import tqdm

    return tqdm(items, desc=f"  {what}", unit="case", leave=False, file=sys.stderr)


def ct_step(out, n_cases) -> dict:
    """Segment held-out phantoms and the real scans with ``ct_liver_tumour``; rows and pictures."""
    from keras_liver import presets
    from keras_liver.evaluation import evaluate_folder, evaluate_real_scans
    from keras_liver.inference import cascade_predict
    from keras_liver.io import find_lits_cases, load_volume, save_volume
    from keras_liver.phantoms import write_ct_dataset

    data, preds = out / "ct", out / "ct_pred"
    write_ct_dataset(data, n_cases, seed=HELD_OUT, shape=(100, 512, 512), phase="mixed", variety=True)
    log.info("  %d held-out CT phantoms of 100 x 512 x 512 (seeds %d-%d) in %s", n_cases, HELD_OUT,
             HELD_OUT + n_cases - 1, data)
    model = presets.load("ct_liver_tumour")
    log.info("  one scan, one command: keras-liver predict --model ct_liver_tumour --input SCAN --output MASK")
    preds.mkdir(parents=True, exist_ok=True)
    seconds = {}
    for case in _progress(find_lits_cases(data), "ct_liver_tumour on phantoms"):
        image = load_volume(case.image_path)
        started = time.perf_counter()
        labels = cascade_predict(model, image)
        seconds[str(case.case_id)] = round(time.perf_counter() - started, 1)
        save_volume(labels, preds / f"segmentation-{case.case_id}.nii.gz")
    result = evaluate_folder(preds, data, out / "ct_evaluation")
    rows = []
    for case, m in result["cases"].items():
        masses = m.get("masses") or {}
        rows.append({"case": f"phantom {case} ({_phase(data, case)})", "liver Dice": m["liver"]["dice"],
                     "tumour Dice": m["tumour"]["dice"],
                     "lesions found (>= 10 mm)": f"{m['detection']['detected']}/{m['detection']['true_lesions']}",
                     "false-positive lesions": m["detection"]["false_positive_pred"],
                     "masses called liver": (f"{100 * masses['called_liver_or_tumour'] / masses['voxels']:.1f} %"
                                             if masses.get("voxels") else "-"),
                     "seconds": seconds.get(str(case))})
    real_rows = []
    if REAL.is_dir():
        for r in evaluate_real_scans(lambda v: cascade_predict(model, v), REAL, out_dir=out / "ct_real"):
            real_rows.append({"case": f"real: {r['scan']}", "liver Dice": r["liver_dice"], "tumour Dice": "-",
                              "lesions found (>= 10 mm)": f"({r['tumour_ml']} ml called tumour; none labelled)",
                              "false-positive lesions": "-", "masses called liver": "-", "seconds": r["seconds"]})
    else:
        log.info("  real scans not found at %s: phantoms only", REAL)
    figures = sorted((out / "ct_evaluation").glob("overlay-*.png")) + sorted((out / "ct_real").glob("*.png"))
    found, total = result["detection"]["detected"], result["detection"]["true_lesions"]
    summary = {"ct_liver_dice": result["liver_dice"]["mean_per_case"],
               "ct_tumour_dice": result["tumour_dice"]["mean_per_case"], "ct_lesions_found": f"{found}/{total}",
               "ct_real_liver_dice": {r["case"][6:]: r["liver Dice"] for r in real_rows}}
    return {"rows": rows + real_rows, "figures": figures, "summary": summary}


def _phase(folder, case) -> str:
    """The contrast phase the phantom writer recorded for a case (``cases.json``)."""
    return json.loads((folder / "cases.json").read_text()).get(f"volume-{case}", {}).get("phase", "?")


def dce_step(out, n_series) -> dict:
    """Run ``dce_lesion`` on held-out series: a row per lesion, a confusion matrix of the true lesions' classes."""
    import numpy as np

    from keras_liver import presets
    from keras_liver.evaluation import match_lesions, summarise_matches
    from keras_liver.inference import pipeline_predict
    from keras_liver.io import load_volume, save_volume
    from keras_liver.phantoms import write_dce_dataset
    from keras_liver.plotting import confusion_matrix_figure, overlay_figure

    data, preds = out / "dce", out / "dce_pred"
    write_dce_dataset(data, n_series, seed=HELD_OUT, balanced=True)
    log.info("  %d held-out DCE-MRI series (seeds %d-%d) in %s", n_series, HELD_OUT, HELD_OUT + n_series - 1, data)
    pipeline = presets.load("dce_lesion")
    names = list(pipeline.class_names)
    preds.mkdir(parents=True, exist_ok=True)
    rows, matches, local = [], [], {}
    for n in _progress(range(n_series), "dce_lesion on series"):
        series = load_volume(data / f"dce-{n}.nii.gz")
        sidecar = json.loads((data / f"dce-{n}.json").read_text())
        started = time.perf_counter()
        labels, instance, lesions = pipeline_predict(pipeline, series)
        seconds = time.perf_counter() - started
        save_volume(labels, preds / f"dce-pred-{n}.nii.gz")
        local[n] = (labels.array, lesions)
        truth_ids = load_volume(data / f"dce-lesions-{n}.nii.gz").array
        match = match_lesions(instance.array, truth_ids, series.spacing,
                              pred_classes={r["id"]: r["class"] for r in lesions},
                              truth_classes={int(r["id"]): r["class"] for r in sidecar["lesions"]})
        matches.append(match)
        for t in match["truth"]:
            pred = next((r for r in lesions if r["id"] == t["match"]), None) if t["detected"] else None
            rows.append({"series": n, "true lesion": f"{t['class']}, {t['diameter_mm']:.0f} mm",
                         "found": "yes" if t["detected"] else "no",
                         "predicted class": pred["class"] if pred else "-",
                         "probability": round(max(pred["probabilities"].values()), 3) if pred else "-",
                         "right": ("yes" if pred and pred["class"] == t["class"] else "no") if pred else "-",
                         "seconds": round(seconds, 1)})
        if n == 0:
            truth = load_volume(data / f"dce-seg-{n}.nii.gz")
            frame = series.replace(series.array[int(np.argmax(series.array.mean(axis=(1, 2, 3))))])
            overlay_figure(frame, labels, truth, out / "dce_overlay.png",
                           title="DCE series 0, brightest frame: truth and prediction")
    summary = summarise_matches(matches, names)
    cls = summary.get("classification") or {}
    figures = [out / "dce_overlay.png"]
    if cls.get("confusion_matrix") is not None:
        figures.append(confusion_matrix_figure(cls["confusion_matrix"], names, out / "dce_confusion.png",
                                               title="dce_lesion: true class (rows) of each found lesion"))
    return {"rows": rows, "figures": figures, "local": local,
            "summary": {"dce_lesions_found": f"{summary['detected']}/{summary['true_lesions']}",
                        "dce_precision": round(summary["precision"], 3),
                        "dce_class_accuracy": (round(summary["class_accuracy"], 3)
                                               if summary.get("class_accuracy") is not None else None)}}


def finetune_step(out, steps) -> dict:
    """A minute of fine-tuning of ``ct_liver_tumour``'s liver stage on small phantoms: curves."""
    from keras_liver.phantoms import write_ct_dataset
    from keras_liver.plotting import read_history, training_curves_figure

    data = out / "finetune_data"
    write_ct_dataset(data, 6, seed=0, shape=(24, 192, 192), phase="mixed", variety=True)
    config = {"task": "ct_segmentation", "data": str(data), "out_dir": str(out / "finetune"),
              "model": "FusedUNet", "init_from": "ct_liver_tumour", "init_stage": "liver",
              "patch_size": [128, 128], "batch_size": 4, "epochs": 3, "steps_per_epoch": max(1, steps // 3),
              "validation_steps": 2, "learning_rate": 0.0005, "val_fraction": 0.34, "seed": 0,
              "monitor": "val_dice_1", "verbose": 0}
    path = out / "finetune_config.json"
    path.write_text(json.dumps(config, indent=1))
    _cli("train", "--config", path)
    history = read_history(out / "finetune" / "history.csv")
    figure = training_curves_figure(out / "finetune" / "history.csv", out / "finetune_curves.png",
                                    "fine-tuning ct_liver_tumour's liver stage")
    rows = [{"epoch": i + 1, **{k: round(float(v[i]), 4) for k, v in history.items()
                                if k in ("loss", "val_loss", "val_dice_1")}}
            for i in range(len(history.get("loss", [])))]
    return {"rows": rows, "figures": [figure],
            "summary": {"finetune_val_liver_dice": rows[-1].get("val_dice_1") if rows else None}}


def serve_step(out, ct_case, dce_local) -> dict:
    """Export both presets, serve them in another process, query over gRPC, compare with the local results."""
    import numpy as np

    from keras_liver.io import load_volume
    from keras_liver.serving import DevServerProcess

    models = out / "models"
    for preset in ("ct_liver_tumour", "dce_lesion"):
        _cli("export", "--model", preset, "--base", models, "--name", preset, "--version", 1, "--overwrite",
             "--skip-cli-check")
    config = models / "models.config"
    config.write_text("model_config_list {\n" + "".join(
        f'  config {{ name: "{n}" base_path: "{models / n}" model_platform: "tensorflow" }}\n'
        for n in ("ct_liver_tumour", "dce_lesion")) + "}\n")
    served = out / "served"
    served.mkdir(exist_ok=True)
    rows = []
    with DevServerProcess("--model-config-file", config, "--rest-port", "-1") as server:
        log.info("  dev server (keras-liver serve, TF Serving's gRPC API) on %s", server.target)
        _cli("query", out / "ct" / f"volume-{ct_case}.nii.gz", "--target", server.target, "--model",
             "ct_liver_tumour", "--output", served / f"ct-{ct_case}.nii.gz")
        same = np.array_equal(load_volume(served / f"ct-{ct_case}.nii.gz").array,
                              load_volume(out / "ct_pred" / f"segmentation-{ct_case}.nii.gz").array)
        rows.append({"servable": "ct_liver_tumour", "input": f"CT phantom {ct_case}",
                     "served result equals the local one": "yes" if same else "NO"})
        _cli("query", out / "dce" / "dce-0.nii.gz", "--target", server.target, "--model", "dce_lesion",
             "--output", served / "dce-0.nii.gz")
        record = json.loads((served / "dce-0.json").read_text())
        labels, lesions = dce_local[0]
        same_map = np.array_equal(load_volume(served / "dce-0.nii.gz").array, labels)
        same_classes = [r["class"] for r in record["lesions"]] == [r["class"] for r in lesions]
        rows.append({"servable": "dce_lesion", "input": "DCE series 0",
                     "served result equals the local one": "yes" if same_map and same_classes else "NO"})
    return {"rows": rows, "figures": [], "summary": {"served_equals_local": all(
        r["served result equals the local one"] == "yes" for r in rows)}}


def _table(rows) -> str:
    from keras_liver.evaluation.reports import markdown_table

    return markdown_table(rows, list(rows[0])) if rows else "(none)\n"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out")
    parser.add_argument("--ct-cases", type=int, default=3)
    parser.add_argument("--dce-cases", type=int, default=6)
    parser.add_argument("--finetune-steps", type=int, default=12)
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s", stream=sys.stdout)
    from keras_liver.cli.quiet import import_tensorflow_quietly, quiet_tensorflow

    import_tensorflow_quietly(quiet_tensorflow())
    logging.getLogger("keras_liver").setLevel(logging.WARNING)  # the package's INFO lines stay out of the demo
    from keras_liver import presets
    from keras_liver.evaluation.html_report import write_html_report

    started = time.time()
    log.info("keras-liver demo: the shipped presets %s, on data they never saw", ", ".join(presets.names()))
    steps = [("[1-2/6] CT: ct_liver_tumour on held-out phantoms and real scans", lambda: ct_step(out, args.ct_cases)),
             ("[3/6] DCE-MRI: dce_lesion segments and classifies lesions", lambda: dce_step(out, args.dce_cases)),
             ("[4/6] fine-tuning a preset (init_from: ct_liver_tumour)",
              lambda: finetune_step(out, args.finetune_steps))]
    results = {}
    for title, run in steps:
        log.info("%s", title)
        t0 = time.time()
        results[title] = run()
        log.info("\n%s  (%.0f s)\n", _table(results[title]["rows"]), time.time() - t0)
    title = "[5/6] serving: both presets exported, served over gRPC, queried"
    log.info("%s", title)
    results[title] = serve_step(out, 0, results[steps[1][0]]["local"])
    log.info("\n%s", _table(results[title]["rows"]))
    summary = {k: v for r in results.values() for k, v in r["summary"].items()}
    summary["minutes"] = round((time.time() - started) / 60, 1)
    summary_rows = [{"figure": k, "value": json.dumps(v) if isinstance(v, dict) else v} for k, v in summary.items()]
    log.info("[6/6] summary\n\n%s", _table(summary_rows))
    (out / "summary.json").write_text(json.dumps(summary, indent=1) + "\n")
    sections = [("Summary", [{"table": summary_rows},
                             {"text": "Presets trained on phantoms only; for research and teaching, not diagnosis."}])]
    for title, result in results.items():
        parts = [{"table": result["rows"]}] + [{"image": f} for f in result["figures"]]
        sections.append((title, parts))
    report = write_html_report(out / "report.html", "keras-liver demo", sections)
    log.info("demo finished in %.1f min; open %s in a browser (all tables and pictures); outputs in %s",
             summary["minutes"], report, out)
    return 0 if summary["served_equals_local"] else 1


if __name__ == "__main__":
    sys.exit(main())
