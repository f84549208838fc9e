"""`compare_classifiers`: the paper's Table 1 on DCE phantoms (SVM, LSTM, CNN, 3D CNN + ConvLSTM)."""

import logging
import pathlib
import time

import numpy as np

from keras_liver.evaluation.classification_metrics import classification_metrics
from keras_liver.evaluation.reports import markdown_table, write_report
from keras_liver.plotting import confusion_matrix_figure, save_figure

logger = logging.getLogger(__name__)

METHODS = ("SVM (HOG)", "LSTM (time-intensity curves)", "CNN (single phase)", "3D CNN + ConvLSTM (proposed)")


def compare_classifiers(data_dir, out_dir, *, epochs: int = 30, batch_size: int = 8, test_fraction: float = 0.3,
                        seed: int = 0, encoder_filters=(8, 16, 32), lstm_filters=(16,), learning_rate=1e-3,
                        lesion_crop=(8, 32, 32), verbose: int = 0) -> dict:
    """Train the four classifiers on one split of a DCE folder and tabulate their test metrics.

    The split is by case, stratified by lesion class, seeded; every method
    sees the same training cases and is scored on the same test cases.
    Keras models train for ``epochs`` epochs and are scored with their final
    weights (the test cases are never used to pick a checkpoint). The SVM
    uses HOG of the lesion ROI in every frame, the LSTM the lesion and
    liver time-intensity curves (both from the lesion mask), the CNN one
    post-contrast phase, the proposed model the whole series.

    Returns:
        ``{"results": {method: classification_metrics}, "split", "seconds", "settings"}``
        (also written to ``out_dir/table1.json``).
    """
    from keras_liver.data import load_dce_folder
    from keras_liver.features import series_lesion_hog_features
    from keras_liver.models import HOGSVM, load_model
    from keras_liver.training import split_cases, train

    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    ids, series, seg, classes, names = load_dce_folder(data_dir)
    train_ids, test_ids = split_cases(ids, test_fraction, seed, strata=classes)
    tr = np.array([ids.index(i) for i in train_ids])
    te = np.array([ids.index(i) for i in test_ids])
    results, seconds = {}, {}

    start = time.time()
    hog = np.stack([series_lesion_hog_features(s, lab, window=None) for s, lab in zip(series, seg)])
    svm = HOGSVM(class_names=names, seed=seed).fit(hog[tr], classes[tr])
    svm.save(out_dir / "svm.npz")
    results[METHODS[0]] = classification_metrics(classes[te], svm.predict(hog[te]), svm.predict_proba(hog[te]),
                                                 names)
    seconds[METHODS[0]] = time.time() - start

    common = {"task": "dce_classification", "data": str(data_dir), "val_cases": test_ids, "batch_size": batch_size,
              "epochs": epochs, "seed": seed, "learning_rate": learning_rate, "verbose": verbose,
              "steps_per_epoch": None, "lesion_crop": None if lesion_crop is None else list(lesion_crop)}
    if lesion_crop is not None:
        from keras_liver.data import lesion_crop as crop

        cropped = np.stack([crop(s, lab, tuple(lesion_crop))[0] for s, lab in zip(series, seg)])
    else:
        cropped = series
    runs = {METHODS[1]: ("CurveLSTM", {"units": [32]}),
            METHODS[2]: ("SinglePhaseCNN", {"encoder_filters": list(encoder_filters), "phase": 2}),
            METHODS[3]: ("DCEClassifier", {"encoder_filters": list(encoder_filters),
                                          "lstm_filters": list(lstm_filters)})}
    for method, (model_name, args) in runs.items():
        start = time.time()
        run = train({**common, "model": model_name, "model_args": args, "out_dir": str(out_dir / model_name)})
        model = load_model(run / "model.keras")
        name = type(model).input_name()  # the input the model declares: curves for the LSTM, else the series
        if name == "curves":
            from keras_liver.features import time_intensity_curves

            inputs = {name: np.stack([time_intensity_curves(series[i], seg[i]) for i in te])}
        else:
            inputs = {name: cropped[te][..., None]}
        probs = np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0)["probabilities"])
        results[method] = classification_metrics(classes[te], probs.argmax(1), probs, names)
        seconds[method] = time.time() - start
        logger.info("%s: accuracy %.3f, macro F1 %.3f", method, results[method]["accuracy"],
                    results[method]["macro_f1"])

    rows = [{"method": m, "accuracy": r["accuracy"], "precision": r["macro_precision"], "recall": r["macro_recall"],
             "F-measure": r["macro_f1"], "kappa": r["kappa"], "train + test s": round(seconds[m], 1)}
            for m, r in results.items()]
    md = (f"# Lesion classification on DCE phantoms (the paper's Table 1)\n\n{len(train_ids)} training and "
          f"{len(test_ids)} test cases from `{data_dir}`, split by case and stratified by class (seed {seed}); "
          "precision, recall and F-measure are macro averages over the classes.\n\n"
          + markdown_table(rows, list(rows[0])))
    data = {"results": results, "split": {"train": train_ids, "test": test_ids}, "seconds": seconds,
            "settings": {"epochs": epochs, "batch_size": batch_size, "seed": seed, "test_fraction": test_fraction,
                         "encoder_filters": list(encoder_filters), "lstm_filters": list(lstm_filters),
                         "lesion_crop": None if lesion_crop is None else list(lesion_crop)}}
    write_report(out_dir, "table1", data, md)
    _bar_chart(rows, out_dir / "table1.png")
    for method, r in results.items():
        tag = method.split(" ")[0].lower().replace("3d", "proposed")
        confusion_matrix_figure(r["confusion_matrix"], names, out_dir / f"confusion_{tag}.png", title=method)
    return data


def _bar_chart(rows, path):
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    metrics = ["accuracy", "precision", "recall", "F-measure"]
    fig, ax = plt.subplots(figsize=(9, 4))
    width = 0.8 / len(rows)
    for k, row in enumerate(rows):
        ax.bar(np.arange(len(metrics)) + k * width, [row[m] for m in metrics], width, label=row["method"])
    ax.set_xticks(np.arange(len(metrics)) + 0.4 - width / 2, metrics)
    ax.set_ylim(0, 1.05)
    ax.set_ylabel("score on the test cases")
    ax.legend(fontsize=7, loc="lower right")
    ax.set_title("Lesion classification on DCE phantoms (fig. 7)", fontsize=9)
    return save_figure(fig, path)
