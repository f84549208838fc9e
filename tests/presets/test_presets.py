"""Presets: written atomically with checksums, refused when modified, loaded wherever a model is taken."""

import json
import zipfile

import h5py
import numpy as np
import pytest

from keras_liver import presets
from keras_liver.errors import ConfigError, FileFormatError, MissingPathError
from keras_liver.models import FusedUNet, load_model
from keras_liver.plans import Plan, StagePlan

PLAN = Plan(task="ct_segmentation", stages=(StagePlan("liver", (5.0, 3.0, 3.0), (1, 16, 16),
                                                      labels=("background", "liver", "tumour"), intensity="abdomen"),))


def _model():
    model = FusedUNet(input_shape=(None, None, 1), depth=2, filters=3, intensity="abdomen")
    model.plan = PLAN
    return model


def _write(tmp_path, model=None, **kwargs):
    model = model or _model()
    folder = presets.write_preset(model, tmp_path / "tiny_liver", name="tiny_liver", version="0.1",
                                  recipe={"command": "pytest", "seeds": [0]}, figures={"liver_dice": 0.5},
                                  card="# tiny_liver\nFor tests.", description="a test preset", **kwargs)
    return model, folder


def test_a_written_preset_loads_as_it_was_saved(tmp_path, rng):
    model, folder = _write(tmp_path)
    info = json.loads((folder / "preset.json").read_text())
    assert info["task"] == "ct_segmentation" and info["architecture"] == "FusedUNet"
    assert Plan.from_dict(info["plan"]) == PLAN and info["storage"]["weights"] == "float16"
    assert set(info["files"]) == {"model.keras", "README.md"} and "not for diagnosis" in info["use"]
    assert info["files"]["model.keras"] == presets.sha256(folder / "model.keras")
    assert not list(tmp_path.glob(".*"))  # nothing half-written left beside it
    loaded = presets.load(folder)
    assert type(loaded) is FusedUNet and loaded.plan == PLAN
    assert all(w.dtype == "float32" for w in loaded.weights)  # stored as float16, computed in float32
    image = {"image": rng.uniform(-100, 200, (2, 16, 16, 1)).astype(np.float32)}
    want, got = model(image)["probabilities"], loaded(image)["probabilities"]
    np.testing.assert_allclose(np.asarray(got), np.asarray(want), atol=2e-3)
    assert type(load_model(folder)) is FusedUNet  # the package's loader takes a preset folder too


def test_a_preset_with_a_modified_file_is_refused(tmp_path):
    _, folder = _write(tmp_path)
    presets.Preset.from_folder(folder).verify()
    card = folder / "README.md"
    card.write_text(card.read_text() + "edited\n")
    with pytest.raises(FileFormatError, match="README.md: its SHA-256 differs"):
        presets.load(folder)
    _, folder = _write(tmp_path)  # rewritten: fine again
    data = bytearray((folder / "model.keras").read_bytes())
    data[len(data) // 2] ^= 0xFF
    (folder / "model.keras").write_bytes(bytes(data))
    with pytest.raises(FileFormatError, match="model.keras: its SHA-256 differs"):
        load_model(folder)
    _, folder = _write(tmp_path)
    (folder / "extra.bin").write_bytes(b"x")
    with pytest.raises(FileFormatError, match="extra.bin: not part of preset"):
        presets.load(folder)
    (folder / "extra.bin").unlink()
    (folder / "README.md").unlink()
    with pytest.raises(FileFormatError, match="README.md: missing"):
        presets.load(folder)


def test_unknown_presets_and_folders_get_one_line_errors(tmp_path):
    with pytest.raises(ConfigError, match="preset: one of"):
        presets.load("no_such_preset")
    with pytest.raises(MissingPathError, match="no_such_model: no such model file"):
        load_model("no_such_model")
    with pytest.raises(MissingPathError, match="not a preset"):
        presets.Preset.from_folder(tmp_path)
    (tmp_path / "preset.json").write_text("{not json")
    with pytest.raises(FileFormatError, match="preset.json: not a readable preset manifest"):
        presets.Preset.from_folder(tmp_path)
    assert presets.resolve(tmp_path / "model.keras") is None


def test_float16_storage_halves_the_weights_and_keeps_what_float16_cannot_hold(tmp_path):
    model = _model()
    model.save(tmp_path / "full.keras")
    big = model.weights[0]
    big.assign(np.full(big.shape, 1e5, np.float32))  # beyond float16's range: must stay float32
    model.save(tmp_path / "big.keras")
    stats = presets.float16_keras_file(tmp_path / "big.keras", tmp_path / "half.keras")
    assert stats["kept"] == 1 and stats["converted"] >= 4 and stats["max_abs_change"] < 1e-2
    with zipfile.ZipFile(tmp_path / "half.keras") as archive:
        (tmp_path / "w.h5").write_bytes(archive.read("model.weights.h5"))
    dtypes = []
    with h5py.File(tmp_path / "w.h5") as weights:
        weights.visititems(lambda name, item: dtypes.append(item.dtype) if isinstance(item, h5py.Dataset) else None)
    assert dtypes.count(np.float32) == 1 and np.float16 in dtypes
    loaded = load_model(tmp_path / "half.keras", compile=False)
    np.testing.assert_array_equal(np.asarray(loaded.weights[0]), np.asarray(big))
    presets.float16_keras_file(tmp_path / "full.keras", tmp_path / "full16.keras")
    assert (tmp_path / "full16.keras").stat().st_size < 0.7 * (tmp_path / "full.keras").stat().st_size


def test_shipped_presets_are_listed_by_name_and_work_as_a_model_argument(tmp_path, monkeypatch, capsys):
    from keras_liver.cli.main import main
    from keras_liver.presets import preset as preset_module

    shipped = tmp_path / "shipped"
    shipped.mkdir()
    _write(shipped)
    monkeypatch.setattr(preset_module, "PRESETS_DIR", shipped)
    assert presets.names() == ["tiny_liver"]
    assert main(["presets"]) == 0
    table = capsys.readouterr().out
    assert "tiny_liver" in table and "liver_dice 0.5" in table and "ct_segmentation" in table
    assert main(["presets", "tiny_liver", "--verify"]) == 0
    assert "# tiny_liver" in capsys.readouterr().out
    assert type(load_model("tiny_liver")) is FusedUNet  # a name wherever a model is taken
    (shipped / "tiny_liver" / "README.md").write_text("changed\n")
    assert main(["presets", "--verify"]) == 2
    assert "SHA-256 differs" in capsys.readouterr().err
    assert main(["presets", "nothing"]) == 2
