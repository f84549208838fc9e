"""The CT cascade: stage 2 sees only the stage-1 liver box, results land on the source grid, and the
saved, exported and served cascades give the same mask as the local one."""

import json

import numpy as np
import pytest
from serving_models import tiny_segmenter

from keras_liver.cli.main import main
from keras_liver.errors import ConfigError
from keras_liver.inference import cascade_predict, run_cascade
from keras_liver.io import Volume, load_volume, save_volume
from keras_liver.models import CTCascade, load_model, save_model
from keras_liver.plans import Plan, StagePlan


def _one_hot(labels, classes=3):
    return np.eye(classes, dtype=np.float32)[labels]


def _threshold_predictor(rule, seen=None):
    """A window predictor (batch ``(n, z, y, x, 1)`` of HU -> probabilities) labelling voxels by HU."""
    def predict(batch):
        if seen is not None:
            seen.append(float(batch.max()))
        return _one_hot(rule(batch[..., 0]))
    return predict, 3, 1


def _phantom():
    """A 'liver' block of 100 HU holding a 'tumour' block of 40 HU, in -100 HU background, and a far 300 HU block."""
    hu = np.full((14, 40, 44), -100, np.float32)
    hu[3:11, 8:30, 10:34] = 100
    hu[5:8, 14:20, 16:22] = 40
    hu[1:4, 35:39, 2:6] = 300  # outside any margin of the liver: stage 2 must never see it
    return Volume(hu, np.diag([1.5, 1.5, 2.0, 1.0]), meta={"source": "phantom"})


PLAN = Plan(task="ct_segmentation", stages=(
    StagePlan("liver", (4.0, 3.0, 3.0), (4, 8, 8)),
    StagePlan("tumour", None, (4, 16, 16), roi={"rule": "liver_box", "margin_mm": [2.0, 3.0, 3.0]})))


def test_stage_two_runs_inside_the_liver_box_and_is_pasted_back():
    image, seen = _phantom(), []
    liver = _threshold_predictor(lambda hu: ((hu > 0) & (hu < 200)).astype(int))
    tumour = _threshold_predictor(lambda hu: np.where(hu > 70, 1, np.where(hu > 0, 2, 0)), seen)
    out, stages = run_cascade(liver, tumour, PLAN, image, postprocess=False, return_stages=True)
    assert out.shape == image.shape and np.allclose(out.affine, image.affine)
    truth = np.zeros(image.shape, np.uint8)
    truth[3:11, 8:30, 10:34] = 1
    truth[5:8, 14:20, 16:22] = 2
    np.testing.assert_array_equal(out.array, truth)
    (z0, y0, x0), (z1, y1, x1) = stages["box"]
    assert z0 <= 3 and y0 <= 8 and x0 <= 10 and z1 >= 11 and y1 >= 30 and x1 >= 34  # the whole liver is in it
    assert (z1 - z0, y1 - y0, x1 - x0) < (14, 35, 40)  # ... and not much more: a box, not the volume
    assert max(seen) < 300  # the far block never reached stage 2
    assert stages["liver"].shape == image.shape
    prob = stages["tumour_probability"]  # one-hot from the threshold predictor: tumour exactly where labelled 2
    assert prob.shape == image.shape and prob.max() > 0.99
    np.testing.assert_array_equal(prob > 0.5, out.array == 2)


def test_no_liver_gives_an_empty_mask_and_a_plan_must_have_a_box_rule():
    image = _phantom()
    nothing = _threshold_predictor(lambda hu: np.zeros(hu.shape, int))
    assert not run_cascade(nothing, nothing, PLAN, image).array.any()
    flat = Plan(task="ct_segmentation", stages=PLAN.stages[:1] * 2)
    with pytest.raises(ConfigError, match="liver_box"):
        run_cascade(nothing, nothing, flat, image)


@pytest.fixture(scope="module")
def cascade(tmp_path_factory):
    folder = tmp_path_factory.mktemp("cascade")
    liver, tumour = tiny_segmenter(31), tiny_segmenter(32)
    liver.name = tumour.name = "fused_unet"  # two runs of one recipe: the same model name
    liver.plan = Plan(task="ct_segmentation", stages=(StagePlan("liver_tumour", (2.0, 3.0, 3.0), (1, 16, 16)),))
    tumour.plan = Plan(task="ct_segmentation", stages=(StagePlan("liver_tumour", (2.0, 1.5, 1.5), (1, 16, 16),
                                                                 roi={"rule": "liver_box", "margin_mm": 4.0}),))
    paths = {"liver": save_model(liver, folder / "liver.keras"), "tumour": save_model(tumour, folder / "tumour.keras")}
    return {"folder": folder, "paths": paths, "model": CTCascade(liver, tumour)}


def test_a_saved_cascade_keeps_both_stages_and_its_plan(cascade, tmp_path):
    model = cascade["model"]
    assert model.plan.stages[1].roi == {"rule": "liver_box", "from_stage": "liver", "margin_mm": [4.0, 4.0, 4.0]}
    assert model.plan.stages[0].target_spacing == (2.0, 3.0, 3.0)
    loaded = load_model(save_model(model, tmp_path / "c.keras"), compile=False)
    assert isinstance(loaded, CTCascade) and loaded.plan == model.plan
    image = _phantom()
    np.testing.assert_array_equal(cascade_predict(loaded, image).array, cascade_predict(model, image).array)
    with pytest.raises(ConfigError, match="tumour_stage"):
        CTCascade(tiny_segmenter(1), "not a model")


def test_cli_cascade_then_predict_equals_the_library(cascade, tmp_path, capsys):
    paths = cascade["paths"]
    out = tmp_path / "cascade.keras"
    assert main(["cascade", "--liver", str(paths["liver"]), "--tumour", str(paths["tumour"]), "--out", str(out)]) == 0
    scan = save_volume(_phantom(), tmp_path / "scan.nii.gz")
    assert main(["predict", "--model", str(out), "--input", str(scan), "--output", str(tmp_path / "m.nii.gz")]) == 0
    want = cascade_predict(cascade["model"], load_volume(scan))
    np.testing.assert_array_equal(load_volume(tmp_path / "m.nii.gz").array, want.array)
    capsys.readouterr()
    assert main(["predict", "--model", str(out), "--input", str(scan), "--output", str(tmp_path / "n.nii.gz"),
                 "--spacing", "1,1,1"]) == 2
    assert "own plan" in capsys.readouterr().err


def test_an_exported_cascade_is_one_servable_that_clients_chain(cascade, tmp_path):
    from keras_liver.export import export_saved_model
    from keras_liver.serving import DevServer, ModelRegistry, PredictClient, RestPredictClient

    path = export_saved_model(cascade["model"], tmp_path / "models", "liver_cascade", 1)
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["cascade"]["liver"] == "liver" and Plan.from_dict(meta["plan"]) == cascade["model"].plan
    assert meta["verification"]["liver"]["max_abs_diff"] <= 1e-5
    image = _phantom()
    want = cascade_predict(cascade["model"], image).array
    registry = ModelRegistry([{"name": "liver_cascade", "base_path": tmp_path / "models" / "liver_cascade"}])
    with DevServer(registry, port=0, rest_port=0) as server:
        with PredictClient(f"127.0.0.1:{server.port}", "liver_cascade") as client:
            assert client.plan() == cascade["model"].plan
            np.testing.assert_array_equal(client.segment_volume(image).array, want)
        rest = RestPredictClient(f"127.0.0.1:{server.rest_port}", "liver_cascade")
        np.testing.assert_array_equal(rest.segment_volume(image).array, want)


def test_the_cascade_drops_lesions_under_its_minimum_size():
    from keras_liver.inference.cascade import MIN_LESION_MM3

    image = _phantom()  # voxels of 2.0 x 1.5 x 1.5 mm = 4.5 mm^3
    image.array[9, 25, 28] = 40  # a one-voxel 'lesion' (4.5 mm^3) inside the liver
    liver = _threshold_predictor(lambda hu: ((hu > 0) & (hu < 200)).astype(int))
    tumour = _threshold_predictor(lambda hu: np.where(hu > 70, 1, np.where(hu > 0, 2, 0)))
    out = run_cascade(liver, tumour, PLAN, image).array
    assert out[9, 25, 28] == 1 and out[5:8, 14:20, 16:22].min() == 2  # the speck is liver, the 486 mm^3 lesion stays
    kept = run_cascade(liver, tumour, PLAN, image, min_lesion_mm3=1.0).array
    assert kept[9, 25, 28] == 2 and MIN_LESION_MM3 == 100.0


def test_a_2_5d_predictor_gets_each_slice_with_its_neighbours():
    from keras_liver.inference import segment_with_predictor

    nz = 6
    hu = np.broadcast_to((np.arange(nz, dtype=np.float32) * 10)[:, None, None], (nz, 8, 8)).copy()

    def predict(batch):  # (n, 1, y, x, 3): label 1 where both neighbours are one slice away, 2 at a repeated edge
        x = batch[:, 0]
        step = x[..., 2] - x[..., 0]
        out = np.zeros(x.shape[:-1] + (3,), np.float32)
        out[..., 0] = 0.1
        out[..., 1] = step == 20
        out[..., 2] = step == 10
        return out[:, None]

    result = segment_with_predictor((predict, 2, 3), Volume(hu, np.eye(4)), patch_size=(1, 8, 8),
                                    context_slices=1, postprocess=False)
    expected = np.ones(nz, np.uint8)
    expected[[0, -1]] = 2
    np.testing.assert_array_equal(result.array[:, 4, 4], expected)
    with pytest.raises(ConfigError, match="context_slices"):
        segment_with_predictor((predict, 2, 1), Volume(hu, np.eye(4)), patch_size=(1, 8, 8), context_slices=1)


def test_a_plan_that_denoises_denoises_before_the_model(rng):
    from keras_liver.inference import segment_with_predictor
    from keras_liver.preprocess import threshold_denoise

    hu = (rng.normal(100, 20, (5, 16, 16))).astype(np.float32)
    seen = []

    def predict(batch):
        seen.append(batch[:, 0, ..., 0].copy())
        return np.stack([np.zeros_like(batch[..., 0]), batch[..., 0] / 1000, np.zeros_like(batch[..., 0])], -1)

    segment_with_predictor((predict, 2, 1), Volume(hu, np.eye(4)), patch_size=(1, 16, 16), overlap=0.0,
                           batch_size=5, denoise={"k": 2.0}, postprocess=False)
    np.testing.assert_allclose(seen[0], threshold_denoise(hu, k=2.0), atol=1e-4)
    assert np.abs(seen[0] - hu).max() > 1  # it changed the input


def test_a_stage_with_a_hog_input_is_wired_and_run(tmp_path):
    from keras_liver.models import FusedUNet
    from keras_liver.plans import Plan

    liver = FusedUNet(input_shape=(None, None, 1), depth=1, filters=2, intensity="abdomen")
    tumour = FusedUNet(input_shape=(None, None, 1), depth=1, filters=2, intensity="abdomen", extra_inputs={"hog": 3})
    liver.plan = Plan(task="ct_segmentation", stages=(StagePlan("liver_tumour", None, (1, 16, 16)),))
    tumour.plan = Plan(task="ct_segmentation", stages=(StagePlan("liver_tumour", None, (1, 16, 16),
                                                                 roi={"rule": "liver_box", "margin_mm": 2.0}),))
    cascade = CTCascade(liver, tumour)
    assert {"liver_image", "tumour_image", "tumour_hog"} == set(cascade.input)
    save_model(cascade, tmp_path / "c.keras")
    loaded = load_model(tmp_path / "c.keras", compile=False)
    image = Volume(np.random.default_rng(0).normal(60, 40, (5, 20, 24)).astype(np.float32), np.eye(4))
    out = cascade_predict(loaded, image, min_lesion_probability=None)
    assert out.shape == image.shape


def test_stage_two_is_gated_to_near_the_stage_one_liver():
    from keras_liver.inference.cascade import LIVER_GATE_MM

    image = _phantom()  # liver block x 10..33 at 1.5 mm; an 'organ' 150 HU block 9-12 mm beside it, inside the box
    image.array[4:10, 12:24, 40:42] = 150
    plan = Plan(task="ct_segmentation", stages=(PLAN.stages[0], StagePlan(
        "tumour", None, (4, 16, 16), roi={"rule": "liver_box", "margin_mm": [15.0, 15.0, 15.0]})))
    liver = _threshold_predictor(lambda hu: ((hu > 0) & (hu < 140)).astype(int))  # stage 1: not the organ
    tumour = _threshold_predictor(lambda hu: np.where(hu > 70, 1, np.where(hu > 0, 2, 0)))  # stage 2: organ = liver
    gated = run_cascade(liver, tumour, plan, image, postprocess=False).array
    assert not gated[4:10, 12:24, 40:42].any()  # 9 mm or more from stage 1's liver: dropped
    assert gated[5:8, 14:20, 16:22].min() == 2 and (gated == 1).sum() >= 0.95 * 8 * 22 * 24 - 3 * 6 * 6
    ungated = run_cascade(liver, tumour, plan, image, postprocess=False, liver_gate_mm=None).array
    assert ungated[4:10, 12:24, 40:42].min() == 1
    assert LIVER_GATE_MM == 3.0


def test_the_plan_carries_settings_chosen_for_the_cascade_and_a_caller_still_wins():
    import dataclasses

    image = _phantom()  # as the gate test: an 'organ' that only stage 2 calls liver, 9-12 mm beside the liver
    image.array[4:10, 12:24, 40:42] = 150
    base = Plan(task="ct_segmentation", stages=(PLAN.stages[0], StagePlan(
        "tumour", None, (4, 16, 16), roi={"rule": "liver_box", "margin_mm": [15.0, 15.0, 15.0]})))
    ungated = dataclasses.replace(base, fingerprint={"postprocess": {"liver_gate_mm": None}})
    liver = _threshold_predictor(lambda hu: ((hu > 0) & (hu < 140)).astype(int))
    tumour = _threshold_predictor(lambda hu: np.where(hu > 70, 1, np.where(hu > 0, 2, 0)))
    organ = (slice(4, 10), slice(12, 24), slice(40, 42))
    assert not run_cascade(liver, tumour, base, image, postprocess=False).array[organ].any()  # the default gate
    assert run_cascade(liver, tumour, ungated, image, postprocess=False).array[organ].min() == 1  # the plan's
    assert not run_cascade(liver, tumour, ungated, image, postprocess=False, liver_gate_mm=3.0).array[organ].any()
    with pytest.raises(ConfigError, match="unknown setting 'liver_gate'"):
        run_cascade(liver, tumour, base, image, liver_gate=3.0)
    bad = dataclasses.replace(base, fingerprint={"postprocess": {"min_lesion_probability": -1}})
    with pytest.raises(ConfigError, match="plan postprocess: min_lesion_probability must be a number >= 0"):
        run_cascade(liver, tumour, bad, image)


def test_a_cascade_keeps_its_chosen_floor_through_save_cli_and_export(cascade, tmp_path, capsys):
    from keras_liver.export import export_saved_model

    paths = cascade["paths"]
    chosen = tmp_path / "chosen.json"
    chosen.write_text('{"min_lesion_probability": 0.7, "lesion_threshold": null}')
    out = tmp_path / "floor.keras"
    assert main(["cascade", "--liver", str(paths["liver"]), "--tumour", str(paths["tumour"]), "--out", str(out),
                 "--postprocess", str(chosen)]) == 0
    loaded = load_model(out, compile=False)
    assert loaded.postprocess == {"min_lesion_probability": 0.7, "lesion_threshold": None}
    assert loaded.plan.fingerprint["postprocess"] == loaded.postprocess
    assert "postprocess" not in cascade["model"].plan.fingerprint  # none chosen: the plan is as before
    path = export_saved_model(loaded, tmp_path / "models", "floor", 1)
    assert Plan.from_dict(json.loads((path / "metadata.json").read_text())["plan"]) == loaded.plan
    capsys.readouterr()
    assert main(["cascade", "--liver", str(paths["liver"]), "--tumour", str(paths["tumour"]),
                 "--out", str(tmp_path / "bad.keras"), "--postprocess", '{"min_lesion_probabilty": 0.7}']) != 0
    assert "unknown setting 'min_lesion_probabilty'" in capsys.readouterr().err
    assert not (tmp_path / "bad.keras").exists()


def test_boundary_from_probabilities_reaches_both_stages_from_the_plan_or_the_caller(monkeypatch):
    import dataclasses

    from keras_liver.inference import cascade as cascade_module

    calls = []
    real = cascade_module.segment_with_predictor

    def spy(*args, **kwargs):
        calls.append(kwargs["boundary_from_probabilities"])
        return real(*args, **kwargs)

    monkeypatch.setattr(cascade_module, "segment_with_predictor", spy)
    liver = _threshold_predictor(lambda hu: ((hu > 0) & (hu < 200)).astype(int))
    tumour = _threshold_predictor(lambda hu: np.where(hu > 70, 1, np.where(hu > 0, 2, 0)))
    chosen = dataclasses.replace(PLAN, fingerprint={"postprocess": {"boundary_from_probabilities": True}})
    default = run_cascade(liver, tumour, PLAN, _phantom(), postprocess=False).array
    from_plan = run_cascade(liver, tumour, chosen, _phantom(), postprocess=False).array
    run_cascade(liver, tumour, chosen, _phantom(), postprocess=False, boundary_from_probabilities=False)
    assert calls == [False, False, True, True, False, False]
    assert from_plan[5:8, 14:20, 16:22].min() == 2 and abs(int((from_plan > 0).sum()) - int((default > 0).sum())) \
        < 0.1 * (default > 0).sum()
