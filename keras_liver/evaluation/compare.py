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
WITH_MASKS = "3D CNN + ConvLSTM + lesion masks"  # `compare_classifiers(lesion_masks=True)`: the proposed model told its lesion


def _table1_inputs(folder, lesion_crop, per_lesion=False):
    """Stream a DCE folder once: per series its class, the index lesion's HOG (whole series) and crop.

    ``per_lesion``: one sample per lesion instead (`load_lesion_crops`: every lesion's crop with
    its own class; the HOG of the crop's lesion voxels), each sample's series in ``"owner"``.
    """
    from keras_liver.data import lesion_crop as crop
    from keras_liver.data import load_dce_cases, load_lesion_crops
    from keras_liver.features import series_lesion_hog_features

    if per_lesion:
        crops = load_lesion_crops(folder, lesion_crop)
        hog = [series_lesion_hog_features(s, lab, window=None) for s, lab in zip(crops["series"], crops["labels"])]
        return {"ids": crops["case_ids"], "classes": crops["classes"], "names": crops["class_names"],
                "hog": np.stack(hog), "series": crops["series"], "labels": crops["labels"],
                "owner": crops["cases"], "case_classes": crops["case_classes"], "masks": crops["masks"]}
    hog = []

    def features(series, label):
        hog.append(series_lesion_hog_features(series, label, window=None))
        return crop(series, label, tuple(lesion_crop)) if lesion_crop is not None else (series, label)

    cases = load_dce_cases(folder, normalize=False, index_lesion_only=True, transform=features)
    return {"ids": cases["ids"], "classes": cases["classes"], "names": cases["class_names"], "hog": np.stack(hog),
            "series": np.stack(cases["series"]), "labels": np.stack(cases["labels"])}


def compare_classifiers(data_dir, out_dir, *, test_data=None, epochs: int = 30, batch_size: int = 8,
                        test_fraction: float = 0.3, seed: int = 0, encoder_filters=(8, 16, 32), lstm_filters=(16,),
                        learning_rate=1e-3, lesion_crop=(8, 32, 32), time_budget_s=None, verbose: int = 0,
                        per_lesion: bool = False, lesion_masks: bool = False) -> dict:
    """Train the four classifiers on the same series and tabulate their test metrics.

    With ``test_data`` every series of ``data_dir`` trains (a tenth of them monitors the
    Keras runs) and every series of ``test_data`` (held-out seeds) is scored; without it one
    folder is split by case, stratified by lesion class, seeded. Keras models train for
    ``epochs`` epochs (or ``time_budget_s`` seconds) and are scored with their final weights
    (the test series never pick a checkpoint). Every method is told where the lesion is:
    the SVM uses the HOG of the index lesion's ROI in every frame, the LSTM the lesion and
    liver time-intensity curves of the lesion crop, the CNN one post-contrast phase of the
    crop, the proposed model the whole crop. A series' class is its index lesion's; its
    extra lesions count as liver here. With ``per_lesion`` every lesion of every series is a
    sample with its own class (its crop, its HOG), as the DCE pipeline classifies each
    predicted lesion; splits stay by series. With ``lesion_masks`` (needs ``per_lesion``) a fifth
    row, `WITH_MASKS`: the proposed model also given each lesion's own mask and the liver's
    (`DCEClassifier(lesion_masks=True)`), as the DCE pipeline classifies.

    Returns:
        ``{"results": {method: classification_metrics}, "split", "seconds", "settings"}``
        (also written to ``out_dir/table1.json``).
    """
    from keras_liver.errors import ConfigError
    from keras_liver.features import time_intensity_curves
    from keras_liver.models import HOGSVM, load_model
    from keras_liver.training import split_cases, train

    if lesion_masks and not per_lesion:
        raise ConfigError("lesion_masks: needs per_lesion (one crop and mask per lesion)")
    out_dir = pathlib.Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.time()
    train_set = _table1_inputs(data_dir, lesion_crop, per_lesion)
    names = train_set["names"]
    if test_data is None:
        ids = train_set["ids"]
        strata = train_set["case_classes"] if per_lesion else train_set["classes"]
        train_ids, test_ids = split_cases(ids, test_fraction, seed, strata=strata)
        if per_lesion:  # every lesion goes where its series goes
            owner = train_set["owner"]
            tr = np.array([k for k, c in enumerate(owner) if c in set(train_ids)])
            te = np.array([k for k, c in enumerate(owner) if c in set(test_ids)])
        else:
            tr = np.array([ids.index(i) for i in train_ids])
            te = np.array([ids.index(i) for i in test_ids])
        test_set = train_set
        monitor = {"val_cases": test_ids}
    else:
        test_set = _table1_inputs(test_data, lesion_crop, per_lesion)
        train_ids, test_ids = train_set["ids"], test_set["ids"]
        tr, te = np.arange(len(train_set["classes"])), np.arange(len(test_set["classes"]))
        monitor = {"val_fraction": 0.1}
    prepared = time.time() - start
    y_test = test_set["classes"][te]
    results, seconds = {}, {}

    start = time.time()
    svm = HOGSVM(class_names=names, seed=seed).fit(train_set["hog"][tr], train_set["classes"][tr])
    svm.save(out_dir / "svm.npz")
    results[METHODS[0]] = classification_metrics(y_test, svm.predict(test_set["hog"][te]),
                                                 svm.predict_proba(test_set["hog"][te]), names)
    seconds[METHODS[0]] = time.time() - start

    common = {"task": "dce_classification", "data": str(data_dir), "batch_size": batch_size, "epochs": epochs,
              "seed": seed, "learning_rate": learning_rate, "verbose": verbose, "steps_per_epoch": None,
              "lesion_crop": None if lesion_crop is None else list(lesion_crop), "time_budget_s": time_budget_s,
              "lesion_crop_each": bool(per_lesion), **monitor}
    runs = {METHODS[1]: ("CurveLSTM", {"units": [32]}),
            METHODS[2]: ("SinglePhaseCNN", {"encoder_filters": list(encoder_filters), "phase": 2}),
            METHODS[3]: ("DCEClassifier", {"encoder_filters": list(encoder_filters),
                                          "lstm_filters": list(lstm_filters)})}
    if lesion_masks:
        runs[WITH_MASKS] = ("DCEClassifier", {"encoder_filters": list(encoder_filters),
                                              "lstm_filters": list(lstm_filters), "lesion_masks": True})
    for method, (model_name, args) in runs.items():
        start = time.time()
        folder = model_name + ("_masks" if args.get("lesion_masks") else "")
        run = train({**common, "model": model_name, "model_args": args, "out_dir": str(out_dir / folder)})
        model = load_model(run / "model.keras")
        name = type(model).input_name()  # the input the model declares: curves for the LSTM, else the series
        series, labels = test_set["series"][te], test_set["labels"][te]
        if name == "curves":  # from the crop, as training computes them
            inputs = {name: np.stack([time_intensity_curves(s, lab) for s, lab in zip(series, labels)])}
        else:
            inputs = {name: series[..., None]}
        if "masks" in model.input:
            inputs["masks"] = test_set["masks"][te].astype(np.float32)
        probs = np.asarray(model.predict(inputs, batch_size=batch_size, verbose=0)["probabilities"])
        results[method] = classification_metrics(y_test, probs.argmax(1), probs, names)
        seconds[method] = time.time() - start
        logger.info("%s: accuracy %.3f, macro F1 %.3f", method, results[method]["accuracy"],
                    results[method]["macro_f1"])

    rows = [{"method": m, "accuracy": r["accuracy"], "precision": r["macro_precision"], "recall": r["macro_recall"],
             "F-measure": r["macro_f1"], "kappa": r["kappa"], "train + test s": round(seconds[m], 1)}
            for m, r in results.items()]
    where = (f"from `{data_dir}`, split by case and stratified by class (seed {seed})" if test_data is None
             else f"from `{data_dir}` and `{test_data}` (held out)")
    unit = (f" ({len(tr)} and {len(te)} lesions, each with its own class)" if per_lesion else "")
    md = (f"# Lesion classification on DCE phantoms (the paper's Table 1)\n\n{len(train_ids)} training and "
          f"{len(test_ids)} test cases{unit} {where}; precision, recall and F-measure are macro averages over the "
          f"classes. Reading the series and their features took {prepared:.0f} s.\n\n"
          + markdown_table(rows, list(rows[0])))
    data = {"results": results, "split": {"train": train_ids, "test": test_ids}, "seconds": seconds,
            "settings": {"epochs": epochs, "batch_size": batch_size, "seed": seed, "test_fraction": test_fraction,
                         "test_data": None if test_data is None else str(test_data), "time_budget_s": time_budget_s,
                         "prepare_s": round(prepared, 1), "per_lesion": bool(per_lesion),
                         "lesion_masks": bool(lesion_masks),
                         "encoder_filters": list(encoder_filters), "lstm_filters": list(lstm_filters),
                         "lesion_crop": None if lesion_crop is None else list(lesion_crop)}}
    write_report(out_dir, "table1", data, md)
    _bar_chart(rows, out_dir / "table1.png")
    for method, r in results.items():
        tag = "proposed_masks" if method == WITH_MASKS else method.split(" ")[0].lower().replace("3d", "proposed")
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
