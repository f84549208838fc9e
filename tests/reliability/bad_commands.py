"""Hostile training configs and command-line arguments.

Each builder takes ``(folder, ctx)``, where ``ctx`` holds a tiny saved model (``model``), a
phantom CT volume and label (``volume``, ``label``) and a phantom data folder (``data``), and
returns ``(argv, outputs)``: the ``keras-liver`` arguments and the paths that must not exist
afterwards.
"""

import json
import zipfile

import nibabel as nib
import numpy as np


def _config(text, name="config.yaml"):
    def build(folder, ctx):
        path = folder / name
        path.write_text(text.replace("{data}", str(ctx["data"])).replace("{out}", str(folder / "run")))
        return ["train", "--config", str(path)], [folder / "run"]
    return build


def _yaml(**fields):
    base = {"task": "ct_segmentation", "data": "{data}", "out_dir": "{out}", "model": "FusedUNet",
            "model_args": {"depth": 1, "filters": 2}, "patch_size": [4, 16, 16], "epochs": 1, "steps_per_epoch": 1}
    base.update(fields)
    lines = []
    for key, value in base.items():
        if value is None:
            continue
        lines.append(f"{key}: {value if isinstance(value, str) else json.dumps(value)}")
    return _config("\n".join(lines) + "\n")


def _corrupt_data(folder, ctx):
    data = folder / "data"
    data.mkdir()
    for name in ("volume-0.nii", "segmentation-0.nii", "volume-1.nii", "segmentation-1.nii"):
        (data / name).write_bytes((ctx["data"] / name).read_bytes())
    (data / "volume-1.nii").write_bytes((ctx["data"] / "volume-1.nii").read_bytes()[:500])
    config = folder / "config.yaml"
    config.write_text(f"task: ct_segmentation\ndata: {data}\nout_dir: {folder / 'run'}\nmodel: FusedUNet\n"
                      "model_args: {depth: 1, filters: 2}\npatch_size: [4, 16, 16]\nepochs: 1\nsteps_per_epoch: 1\n"
                      "val_fraction: 0\n")
    return ["train", "--config", str(config)], [folder / "run"]


def _predict(*extra, model=None, output="mask.nii.gz"):
    def build(folder, ctx):
        path = model(folder) if model else ctx["model"]
        out = folder / output
        return ["predict", "--model", str(path), "--input", str(ctx["volume"]), "--output", str(out), *extra], [out]
    return build


def _zip_without_config(folder):
    path = folder / "model.keras"
    with zipfile.ZipFile(path, "w") as z:
        z.writestr("metadata.json", "{}")
    return path


def _text_keras(folder):
    path = folder / "notes.keras"
    path.write_text("not a model")
    return path


def _lambda_model(folder):
    import keras

    inputs = keras.Input((None, None, 1), name="image")
    outputs = keras.layers.Lambda(lambda x: x * 2.0)(inputs)
    path = folder / "lambda.keras"
    keras.Model(inputs, outputs).save(path)
    return path


def _file(name, text="x"):
    def make(folder):
        path = folder / name
        path.write_text(text)
        return path
    return make


def _export_to_file(folder, ctx):
    base = _file("models")(folder)
    return ["export", "--model", str(ctx["model"]), "--base", str(base), "--name", "liver"], [base.with_name("x")]


def _phantoms(*extra, out_is_file=False):
    def build(folder, ctx):
        out = _file("out")(folder) if out_is_file else folder / "phantoms"
        return ["phantoms", "ct", "--out", str(out), *extra], [] if out_is_file else [out]
    return build


def _serve(*extra, base=None):
    def build(folder, ctx):
        args = ["serve", *extra]
        if base is not None:
            args += ["--model-base-path", str(folder / base), "--model-name", "liver"]
        return args, []
    return build


def _evaluate(edit):
    """Two cases with their CT volumes (so case 0 gets an overlay figure); case 1's prediction is bad."""
    def build(folder, ctx):
        truth, pred = folder / "truth", folder / "pred"
        truth.mkdir()
        pred.mkdir()
        label = nib.load(str(ctx["label"]))
        for case in (0, 1):
            nib.save(label, str(truth / f"segmentation-{case}.nii.gz"))
            nib.save(nib.load(str(ctx["volume"])), str(truth / f"volume-{case}.nii.gz"))
            array, affine = np.asarray(label.dataobj).astype(np.uint8), label.affine
            if case == 1:
                array, affine = edit(array, affine)
            nib.save(nib.Nifti1Image(array, affine), str(pred / f"prediction-{case}.nii.gz"))
        return ["evaluate", "--pred", str(pred), "--truth", str(truth)], [pred / "evaluation"]
    return build


def _label_seven(array, affine):
    array = array.copy()
    array.flat[array.size // 2] = 7
    return array, affine


def _cascade(out="c.keras", liver=None):
    def build(folder, ctx):
        path = folder / out
        first = folder / liver if liver else ctx["model"]
        return ["cascade", "--liver", str(first), "--tumour", str(ctx["model"]), "--out", str(path)], [path]
    return build


# name -> (builder, command, words the one-line error must hold)
CONFIGS = {
    "config: empty file": (_config(""), ["empty"]),
    "config: not YAML": (_config("task: [ct_segmentation\n"), ["config.yaml"]),
    "config: YAML python tag": (_config("task: !!python/object/apply:os.system ['echo owned']\n"), ["config.yaml"]),
    "config: a list, not a mapping": (_config("- task\n- model\n"), ["config.yaml"]),
    "config: batch_size: eight": (_yaml(batch_size="eight"), ["batch_size"]),
    "config: epochs: [1]": (_yaml(epochs=[1]), ["epochs"]),
    "config: learning_rate: fast": (_yaml(learning_rate="fast"), ["learning_rate"]),
    "config: patch_size: abc": (_yaml(patch_size="abc"), ["patch_size"]),
    "config: model_args: [1, 2]": (_yaml(model_args=[1, 2]), ["model_args"]),
    "config: unknown model argument": (_yaml(model_args={"depth": 1, "widht": 3}), ["widht"]),
    "config: unknown field": (_yaml(epoch=3), ["epoch"]),
    "config: unknown loss": (_yaml(loss="hinge"), ["hinge"]),
    "config: a model of another task": (_yaml(model="DCEClassifier", model_args={}), ["DCEClassifier"]),
    "config: file does not exist": (lambda f, c: (["train", "--config", str(f / "absent.yaml")], [f / "run"]),
                                    ["absent.yaml"]),
    "config: data folder does not exist": (_yaml(data="{out}-data"), ["run-data"]),
    "config: a data set with a truncated volume": (_corrupt_data, ["volume-1.nii", "truncated"]),
}

ARGUMENTS = {
    "predict: --patch not a multiple of 2**depth": (_predict("--patch", "1,15,16"), ["patch", "15", "divisible by 4"]),
    "predict: --patch absurdly large": (_predict("--patch", "1,65536,65536"), ["patch", "bytes"]),
    "predict: --spacing abc": (_predict("--spacing", "abc"), ["--spacing", "abc"]),
    "predict: --spacing 0,1,1": (_predict("--spacing", "0,1,1"), ["--spacing"]),
    "predict: --overlap 1.5": (_predict("--overlap", "1.5"), ["overlap", "1.5"]),
    "predict: --model missing": (_predict(model=lambda f: f / "absent.keras"), ["absent.keras"]),
    "predict: .keras zip without config.json": (_predict(model=_zip_without_config), ["model.keras", "config.json"]),
    "predict: text file named .keras": (_predict(model=_text_keras), ["notes.keras"]),
    "predict: .keras holding a Lambda (code)": (_predict(model=_lambda_model), ["lambda.keras"]),
    "predict: --output not NIfTI": (_predict(output="mask.png"), ["mask.png"]),
    "cascade: --out not .keras": (_cascade(out="c.h5"), ["--out", "c.h5", ".keras"]),
    "cascade: --liver missing": (_cascade(liver="absent.keras"), ["absent.keras"]),
    "export: --base is a file": (_export_to_file, ["--base", "models"]),
    "phantoms: --out is a file": (_phantoms("--cases", "1", out_is_file=True), ["--out"]),
    "phantoms: --cases -3": (_phantoms("--cases", "-3"), ["--cases"]),
    "phantoms: --shape 0,8,8": (_phantoms("--cases", "1", "--shape", "0,8,8"), ["--shape"]),
    "serve: --port 70000": (_serve("--port", "70000", base="models"), ["--port", "70000"]),
    "serve: --model-base-path missing": (_serve(base="absent"), ["absent"]),
    "serve: no model named": (_serve(), ["--model-base-path"]),
    "evaluate: label 7 in a prediction": (_evaluate(_label_seven), ["prediction-1.nii.gz", "7"]),
    "evaluate: prediction on another grid": (_evaluate(lambda a, f: (a[:-1], f)), ["prediction-1.nii.gz", "grid"]),
}
