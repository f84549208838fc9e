"""The main job, run by `make demo`: phantoms -> preprocessing -> training -> prediction -> evaluation.

1. Phantom data sets: CT cases in the LiTS layout (training and held-out
   test seeds) and DCE-MRI series (one per lesion class, cycling), with previews.
2. `keras-liver info` on a phantom and, when ../shared/data/real exists, on
   the real sample scans; preprocessing pictures (threshold denoising,
   histogram, HOG) for a phantom and the real DICOM series.
3. Train a small FusedUNet (2D, deep supervision) on the CT phantoms and a
   small DCEClassifier on the DCE phantoms (minutes on a 2-core CPU; the
   small settings trade accuracy for time: see configs/ for full recipes).
4. Predict the held-out CT cases with sliding windows, evaluate them with
   the LiTS metrics, classify the held-out DCE cases, and write the reports
   and pictures.
5. Export both models as versioned SavedModels, start the dev server (TF
   Serving's gRPC API) in a separate process, query it over gRPC with
   `keras-liver query`, check the served mask against the local one, stop it.

Everything lands in ``--out`` (default demo_out/); the last lines say where.
"""

import argparse
import json
import logging
import pathlib
import sys
import time

from keras_liver.cli.main import main as cli

REAL = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "totalsegmentator"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out")
    parser.add_argument("--ct-cases", type=int, default=10)
    parser.add_argument("--dce-cases", type=int, default=40)
    parser.add_argument("--epochs", type=int, default=8)
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out).resolve()
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log = logging.getLogger("demo")
    started = time.time()

    def step(*argv):
        log.info("$ keras-liver %s", " ".join(str(a) for a in argv))
        rc = cli([str(a) for a in argv])
        if rc:
            raise SystemExit(rc)

    log.info("[1/5] phantoms")
    step("phantoms", "ct", "--cases", args.ct_cases, "--out", out / "ct", "--preview", out / "ct.png")
    step("phantoms", "ct", "--cases", 3, "--seed", 500, "--out", out / "ct_test")
    step("phantoms", "dce", "--cases", args.dce_cases, "--balanced", "--shape", "12,32,32", "--out", out / "dce",
         "--preview", out / "dce.png")

    log.info("[2/5] inspection and preprocessing pictures")
    step("info", out / "ct" / "volume-0.nii.gz", out / "ct" / "segmentation-0.nii.gz", out / "dce" / "dce-0.nii.gz")
    (out / "preprocess_phantom").mkdir(exist_ok=True)
    step("figures", "preprocess", out / "ct" / "volume-0.nii.gz", "--label", out / "ct" / "segmentation-0.nii.gz",
         "--out", out / "preprocess_phantom")
    if REAL.is_dir():
        step("info", REAL / "example_ct_dicom", REAL / "example_seg_dicom.nii.gz", REAL / "example_mr_sm.nii.gz")
        step("preview", REAL / "example_ct_dicom", "--label", REAL / "example_seg_dicom.nii.gz", "--out",
             out / "real_preview.png")
        (out / "preprocess_real").mkdir(exist_ok=True)
        step("figures", "preprocess", REAL / "example_ct_dicom", "--label", REAL / "example_seg_dicom.nii.gz",
             "--out", out / "preprocess_real")
    else:
        log.info("real samples not found at %s; phantoms only", REAL)

    log.info("[3/5] training (small settings)")
    ct_config = {"task": "ct_segmentation", "data": str(out / "ct"), "out_dir": str(out / "runs" / "ct"),
                 "model": "FusedUNet", "model_args": {"depth": 3, "filters": 8, "deep_supervision": True,
                                                      "intensity": "abdomen"},
                 "patch_size": [96, 96], "batch_size": 8, "epochs": args.epochs, "steps_per_epoch": 25,
                 "validation_steps": 4, "learning_rate": 0.003, "tumour_fraction": 0.4, "val_fraction": 0.2}
    dce_config = {"task": "dce_classification", "data": str(out / "dce"), "out_dir": str(out / "runs" / "dce"),
                  "model": "DCEClassifier", "model_args": {"encoder_filters": [4, 8, 16], "lstm_filters": [8]},
                  "lesion_crop": [8, 24, 24], "batch_size": 8, "epochs": 2 * args.epochs, "learning_rate": 0.003,
                  "val_fraction": 0.25}
    for name, config in (("ct", ct_config), ("dce", dce_config)):
        path = out / f"{name}_config.json"
        path.write_text(json.dumps(config, indent=1))
        step("train", "--config", path)

    log.info("[4/5] prediction and evaluation")
    from keras_liver.plotting import confusion_matrix_figure, overlay_figure, training_curves_figure
    from keras_liver.io import load_volume

    pred = out / "ct_pred"
    pred.mkdir(exist_ok=True)
    for volume in sorted((out / "ct_test").glob("volume-*.nii.gz")):
        n = volume.name.split("-")[1].split(".")[0]
        step("predict", "--model", out / "runs" / "ct" / "model.keras", "--input", volume, "--output",
             pred / f"segmentation-{n}.nii.gz", "--patch", "1,96,96")
    step("evaluate", "--pred", pred, "--truth", out / "ct_test")
    overlay_figure(load_volume(out / "ct_test" / "volume-0.nii.gz"), load_volume(pred / "segmentation-0.nii.gz"),
                   load_volume(out / "ct_test" / "segmentation-0.nii.gz"), out / "ct_overlay.png",
                   title="held-out phantom: truth and prediction")
    training_curves_figure(out / "runs" / "ct" / "history.csv", out / "ct_curves.png", "FusedUNet on CT phantoms")
    training_curves_figure(out / "runs" / "dce" / "history.csv", out / "dce_curves.png", "DCEClassifier")
    dce_eval = _classify_validation(out)
    confusion_matrix_figure(dce_eval["confusion_matrix"], dce_eval["class_names"], out / "dce_confusion.png",
                            title="DCEClassifier, validation cases")
    log.info("\n%s", (pred / "evaluation" / "evaluation.md").read_text())
    log.info("DCE classification on %d validation cases: accuracy %.3f, macro F1 %.3f", dce_eval["n"],
             dce_eval["accuracy"], dce_eval["macro_f1"])
    log.info("[5/5] export and serve")
    _serve_and_query(out, step, log)
    log.info("demo finished in %.1f min; outputs in %s (ct_overlay.png, ct_curves.png, dce_curves.png, "
             "dce_confusion.png, preprocess_*/, ct_pred/evaluation/)", (time.time() - started) / 60, out)
    return 0


def _serve_and_query(out, step, log):
    import numpy as np

    from keras_liver.data import lesion_crop, load_dce_folder
    from keras_liver.io import Volume, load_volume, save_volume
    from keras_liver.serving import DevServerProcess

    models = out / "models"
    for run, name in (("ct", "liver_seg"), ("dce", "dce_classifier")):
        step("export", "--model", out / "runs" / run / "model.keras", "--base", models, "--name", name, "--version",
             1, "--overwrite", "--skip-cli-check")
    config = models / "models.config"
    config.write_text("model_config_list {\n" + "".join(
        f'  config {{ name: "{n}" base_path: "{models / n}" model_platform: "tensorflow" }}\n'
        for n in ("liver_seg", "dce_classifier")) + "}\n")
    server = DevServerProcess("--model-config-file", config, "--rest-port", "-1").start()
    try:
        log.info("dev server (keras-liver serve) on %s", server.target)
        target = server.target
        served = out / "served"
        served.mkdir(exist_ok=True)
        step("query", out / "ct_test" / "volume-0.nii.gz", "--target", target, "--model", "liver_seg", "--output",
             served / "segmentation-0.nii.gz", "--patch", "1,96,96")
        same = np.array_equal(load_volume(served / "segmentation-0.nii.gz").array,
                              load_volume(out / "ct_pred" / "segmentation-0.nii.gz").array)
        log.info("mask served over gRPC equals the local prediction: %s", same)
        ids, series, seg, classes, names = load_dce_folder(out / "dce")
        crop = lesion_crop(series[0], seg[0], (8, 24, 24))[0]
        source = load_volume(out / "dce" / f"dce-{ids[0]}.nii.gz")
        save_volume(Volume(crop.astype(np.float32), spacing=source.spacing), served / "dce_crop.nii.gz")
        step("query", served / "dce_crop.nii.gz", "--target", target, "--model", "dce_classifier", "--output",
             served / "dce_crop.json")
        log.info("true class of that series: %s", names[int(classes[0])])
    finally:
        server.stop()


def _classify_validation(out):
    import numpy as np

    from keras_liver.data import load_dce_folder
    from keras_liver.evaluation import classification_metrics
    from keras_liver.models import load_model

    from keras_liver.data import lesion_crop

    ids, series, seg, classes, names = load_dce_folder(out / "dce")
    val = json.loads((out / "runs" / "dce" / "split.json").read_text())["val"]
    idx = np.array([ids.index(v) for v in val])
    crops = np.stack([lesion_crop(series[i], seg[i], (8, 24, 24))[0] for i in idx])
    model = load_model(out / "runs" / "dce" / "model.keras")
    probs = np.asarray(model.predict({"sequence": crops[..., None]}, verbose=0)["probabilities"])
    return classification_metrics(classes[idx], probs.argmax(1), probs, names)


if __name__ == "__main__":
    sys.exit(main())
