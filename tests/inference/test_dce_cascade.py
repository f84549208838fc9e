"""The DCE lesion pipeline: stage 2 only inside stage 1's liver box, labels on the series' grid, one class
per lesion, and one saved pipeline that `predict` turns into a label map and ``lesions.json``."""

import dataclasses
import json

import numpy as np
import pytest
from scipy import ndimage
from serving_models import DCE_PLAN, tiny_dce_pipeline

from keras_liver.cli.main import main
from keras_liver.data import baseline_normalize
from keras_liver.errors import ConfigError
from keras_liver.data import lesion_crops, lesion_mask_crops
from keras_liver.inference import classify_lesions, pipeline_predict, run_dce_cascade, run_dce_pipeline
from keras_liver.io import Volume, load_volume, save_volume
from keras_liver.models import DCEPipeline, DCESegmenter, load_model, save_model
from keras_liver.plans import Plan

LIVER = (slice(2, 9), slice(6, 26), slice(8, 30))
LESIONS = ((slice(4, 7), slice(9, 14), slice(11, 16)), (slice(4, 6), slice(18, 22), slice(22, 26)))


def _series(frames=5):
    """Liver that enhances slowly, two lesions that enhance fast, a far bright block that never should be seen."""
    shape = (11, 32, 36)
    s = np.full((frames,) + shape, 10.0, np.float32)
    t = np.linspace(0, 1, frames)[:, None, None, None]
    s[(slice(None),) + LIVER] = 100 + 50 * t
    for box in LESIONS:
        s[(slice(None),) + box] = 100 + 400 * t
    s[:, 0:2, 28:32, 0:4] = 2000.0  # far from the liver: stage 2 must not see it
    return Volume(s, np.diag([2.5, 2.5, 4.0, 1.0]), meta={"source": "tiny"})


def _rule_predictor(rule, seen=None):
    """Windows ``(n, z, y, x, t)`` of normalised signal -> one-hot probabilities by a rule on the frames."""
    def predict(batch):
        if seen is not None:
            seen.append(float(batch.max()))
        return np.eye(3, dtype=np.float32)[rule(batch)]
    return predict


def _liver_rule(batch):
    return np.where((batch[..., 0] > 0.3) & (batch[..., 0] < 5), 1, 0)  # normalised: liver 0.6, background -0.25


def _lesion_rule(batch):
    rise = batch[..., -1] - batch[..., 0]
    return np.where(rise > 3.0, 2, _liver_rule(batch))  # lesions rise by 3.8, the liver by 0.5


PLAN = DCE_PLAN


def test_stage_two_runs_in_the_liver_box_and_lesions_land_on_the_series_grid():
    series, seen = _series(), []
    labels, stages = run_dce_cascade(_rule_predictor(_liver_rule), _rule_predictor(_lesion_rule, seen), PLAN, series,
                                     min_lesion_mm3=0.0, liver_gate_mm=None, return_stages=True)
    truth = np.zeros(series.spatial_shape, np.uint8)
    truth[LIVER] = 1
    for box in LESIONS:
        truth[box] = 2
    assert labels.shape == series.spatial_shape and np.allclose(labels.affine, series.affine)
    assert (labels.array == truth).mean() > 0.97  # stage 1 at coarse spacing blurs only the liver's border
    for box in LESIONS:
        assert np.all(labels.array[box] == 2)
    assert labels.array[0:2, 28:32, 0:4].max() == 0
    block = baseline_normalize(series.array)[0, 0, 28, 0]
    assert max(seen) < block - 10  # the bright block never reached stage 2
    assert stages["lesion_probability"][LESIONS[0]].min() == 1.0


def test_flip_tta_mirrors_only_stage_two_and_keeps_a_voxelwise_rule_exact():
    def counting(rule, seen):
        def predict(batch):
            seen.append(len(batch))
            return np.eye(3, dtype=np.float32)[rule(batch)]
        return predict

    series, runs = _series(), {}
    for tta in (False, True):
        liver_seen, lesion_seen = [], []
        runs[tta] = run_dce_cascade(counting(_liver_rule, liver_seen), counting(_lesion_rule, lesion_seen), PLAN,
                                    series, min_lesion_mm3=0.0, flip_tta=tta).array
        runs[tta, "windows"] = (sum(liver_seen), sum(lesion_seen))
    assert runs[True, "windows"][0] == runs[False, "windows"][0]  # stage 1 is not mirrored
    assert runs[True, "windows"][1] == 4 * runs[False, "windows"][1]  # stage 2: itself and a mirror per axis
    np.testing.assert_array_equal(runs[True], runs[False])  # a voxelwise rule commutes with mirroring


def test_a_lesion_threshold_labels_a_doubtful_lesion_that_the_arg_max_calls_liver():
    def soft_lesion(batch):  # in the lesions: liver 0.5, lesion 0.35 (the arg-max says liver)
        probs = np.eye(3, dtype=np.float32)[_liver_rule(batch)]
        doubt = (batch[..., -1] - batch[..., 0]) > 3.0
        probs[doubt] = (0.15, 0.5, 0.35)
        return probs

    series, liver = _series(), _rule_predictor(_liver_rule)
    plain = run_dce_cascade(liver, soft_lesion, PLAN, series, min_lesion_mm3=0.0).array
    low = run_dce_cascade(liver, soft_lesion, PLAN, series, min_lesion_mm3=0.0, lesion_threshold=0.3,
                          min_lesion_probability=None).array
    high = run_dce_cascade(liver, soft_lesion, PLAN, series, min_lesion_mm3=0.0, lesion_threshold=0.4).array
    assert not (plain == 2).any() and not (high == 2).any()
    for box in LESIONS:
        assert np.all(plain[box] == 1) and np.all(low[box] == 2)
    assert np.array_equal(low == 1, (plain == 1) & (low != 2))  # only the doubtful voxels changed
    floored = run_dce_cascade(liver, soft_lesion, PLAN, series, min_lesion_mm3=0.0, lesion_threshold=0.3,
                              min_lesion_probability=0.5).array
    assert not (floored == 2).any() and np.array_equal(floored > 0, low > 0)  # peaks of 0.35: back to liver
    kept = run_dce_cascade(liver, soft_lesion, PLAN, series, min_lesion_mm3=0.0, lesion_threshold=0.3,
                           min_lesion_probability=0.3).array
    np.testing.assert_array_equal(kept, low)


def test_no_liver_gives_an_empty_map_and_the_plan_needs_a_box_rule():
    series = _series()
    nothing = _rule_predictor(lambda b: np.zeros(b.shape[:-1], int))
    assert not run_dce_cascade(nothing, nothing, PLAN, series).array.any()
    with pytest.raises(ConfigError, match="liver_box"):
        run_dce_cascade(nothing, nothing, Plan(task="dce_segmentation", stages=PLAN.stages[:1] * 2), series)


def test_each_lesion_is_cropped_at_its_centre_and_classified():
    series = _series().array
    instance = np.zeros(series.shape[1:], np.int32)
    instance[LESIONS[0]], instance[LESIONS[1]] = 1, 2
    crops = lesion_crops(series, instance, (3, 5, 5))
    assert [c.shape for c in crops] == [(5, 3, 5, 5)] * 2
    assert np.all(crops[0][:, :, 2, 2] == series[:, 4:7, 11, 13])  # centred on lesion 1 (z 5, y 11, x 13)
    names = ["a", "b", "c"]

    def classify(feed):  # class by the crop's peak signal: lesion crops rise to 500
        batch = feed["sequence"]
        assert batch.shape[1:] == (5, 3, 5, 5, 1) and "masks" not in feed
        return np.eye(3)[np.where(batch.max(axis=(1, 2, 3, 4, 5)) > 400, 1, 0)]

    out = classify_lesions(classify, series, instance, (3, 5, 5), names)
    assert [o["class"] for o in out] == ["b", "b"] and out[0]["probabilities"] == {"a": 0.0, "b": 1.0, "c": 0.0}
    liver = np.zeros(series.shape[1:], bool)
    liver[:, :, :12] = True
    seen = {}

    def classify_masked(feed):  # a classifier that takes masks gets each lesion's own and the liver's
        seen.update(feed)
        return np.eye(3)[[0] * len(feed["sequence"])]

    classify_lesions(classify_masked, series, instance, (3, 5, 5), names, liver=liver)
    assert seen["masks"].shape == (2, 3, 5, 5, 2) and seen["masks"].dtype == np.float32
    for k, masks in enumerate(seen["masks"], start=1):
        np.testing.assert_array_equal(masks, lesion_mask_crops(instance, liver, (3, 5, 5))[k - 1])
        assert masks[1, 2, 2, 0] == 1  # the crop's centre is its own lesion
    assert classify_lesions(classify, series, np.zeros_like(instance), (3, 5, 5), names) == []


def test_pipeline_round_trips_and_predict_writes_labels_and_lesions_json(tmp_path):
    pipeline = tiny_dce_pipeline()
    assert pipeline.plan.stages[1].roi["rule"] == "liver_box" and pipeline.crop_size == (3, 5, 5)
    path = save_model(pipeline, tmp_path / "pipeline.keras")
    loaded = load_model(path)
    assert isinstance(loaded, DCEPipeline) and loaded.class_names == ["a", "b", "c"]
    assert loaded.plan == pipeline.plan
    series = _series()
    labels, instance, lesions = pipeline_predict(loaded, series, min_lesion_mm3=0.0)
    expect_labels, _, expect = pipeline_predict(pipeline, series, min_lesion_mm3=0.0)
    np.testing.assert_array_equal(labels.array, expect_labels.array)
    assert lesions == expect and labels.shape == series.spatial_shape
    assert int(instance.array.max()) == len(lesions)
    *again, stages = pipeline_predict(loaded, series, min_lesion_mm3=0.0, return_stages=True)
    np.testing.assert_array_equal(again[0].array, labels.array)
    assert stages["lesion_probability"].shape == series.spatial_shape and stages["liver"].dtype == bool
    save_volume(series, tmp_path / "series.nii.gz")
    out = tmp_path / "out" / "lesions.nii.gz"
    assert main(["predict", "--model", str(path), "--input", str(tmp_path / "series.nii.gz"), "--output", str(out),
                 "--instances", str(tmp_path / "out" / "ids.nii.gz")]) == 0
    record = json.loads((tmp_path / "out" / "lesions.json").read_text())
    assert record["task"] == "dce_lesions" and record["class_names"] == ["a", "b", "c"]
    written = load_volume(out).array
    ids = load_volume(tmp_path / "out" / "ids.nii.gz").array
    assert written.shape == series.spatial_shape and set(np.unique(written)) <= {0, 1, 2}
    assert len(record["lesions"]) == int(ids.max()) and np.all((ids > 0) == (written == 2))
    for lesion in record["lesions"]:
        assert set(lesion) >= {"id", "class", "probabilities", "volume_ml", "centroid_mm", "max_diameter_mm"}
        assert lesion["class"] in ("a", "b", "c") and abs(sum(lesion["probabilities"].values()) - 1) < 1e-3


def test_a_series_of_another_frame_count_is_refused_in_one_line():
    pipeline = tiny_dce_pipeline()
    with pytest.raises(ConfigError, match="3 frames, but .* series of 5 frames"):
        pipeline_predict(pipeline, _series(frames=3))


def test_pipeline_checks_its_parts(tmp_path):
    pipeline = tiny_dce_pipeline()
    with pytest.raises(ConfigError, match="classifier: needs a dce_classification"):
        DCEPipeline(pipeline.liver_stage, pipeline.lesion_stage, pipeline.liver_stage)
    bare = DCESegmenter(input_shape=(5, 4, 8, 8, 1), filters=(2, 3))
    with pytest.raises(ConfigError, match="no plan"):
        DCEPipeline(bare, pipeline.lesion_stage, pipeline.classifier)
    with pytest.raises(ConfigError, match="4D"):
        pipeline_predict(pipeline, Volume(np.zeros((4, 8, 8), np.float32), np.eye(4)))


def test_an_exported_pipeline_is_one_servable_that_clients_chain(tmp_path):
    from keras_liver.export import export_saved_model
    from keras_liver.serving import DevServer, ModelRegistry, PredictClient

    chosen = {"min_lesion_mm3": 0.0, "min_lesion_probability": None}  # the served plan carries them
    pipeline = tiny_dce_pipeline(lesion_masks=True, biased=True, postprocess=chosen)  # a classifier taking masks too
    assert pipeline.plan.fingerprint["classifier"]["lesion_masks"] is True
    series = _series()
    want_labels, want_ids, want = pipeline_predict(pipeline, series)
    defaults = {k: run_dce_cascade.__kwdefaults__[k] for k in chosen}
    assert len(pipeline_predict(pipeline, series, **defaults)[2]) != len(want)  # the settings matter here
    assert want, "the biased pipeline should find lesions"
    path = export_saved_model(pipeline, tmp_path / "models", "dce_lesion", 1)
    meta = json.loads((path / "metadata.json").read_text())
    assert meta["cascade"]["classify"] == "classify" and Plan.from_dict(meta["plan"]) == pipeline.plan
    assert meta["verification"]["classify"]["max_abs_diff"] <= 1e-5
    registry = ModelRegistry([{"name": "dce_lesion", "base_path": tmp_path / "models" / "dce_lesion"}])
    with DevServer(registry, port=0, rest_port=0) as server:
        target = f"127.0.0.1:{server.port}"
        with PredictClient(target, "dce_lesion") as client:
            labels, ids, lesions = client.segment_lesions(series)
            np.testing.assert_array_equal(labels.array, want_labels.array)
            np.testing.assert_array_equal(ids.array, want_ids.array)
            assert [r["class"] for r in lesions] == [r["class"] for r in want]
            for got, expect in zip(lesions, want):
                for name, p in expect["probabilities"].items():
                    assert abs(got["probabilities"][name] - p) < 1e-3
        scan = save_volume(series, tmp_path / "series.nii.gz")
        out = tmp_path / "q" / "lesions.nii.gz"
        assert main(["query", str(scan), "--target", target, "--model", "dce_lesion", "--output", str(out)]) == 0
        record = json.loads((tmp_path / "q" / "lesions.json").read_text())
        assert record["version"] == 1 and record["class_names"] == ["a", "b", "c"]
        assert len(record["lesions"]) == len(want)  # query: the pipeline's own settings too


def test_split_probability_parts_two_lesions_that_a_doubtful_bridge_joins():
    series = _series()
    bridge = (slice(4, 6), slice(12, 20), slice(14, 23))  # from lesion 1 to lesion 2
    t = np.linspace(0, 1, series.shape[0])[:, None, None, None]
    s = series.array.copy()
    s[(slice(None),) + bridge] = 100 + 250 * t  # rises half as fast as a lesion
    for box in LESIONS:
        s[(slice(None),) + box] = 100 + 400 * t
    series = series.replace(s)

    def soft(batch):  # cores sure, the bridge doubtful (arg-max liver, lesion 0.4)
        probs = np.eye(3, dtype=np.float32)[_lesion_rule(batch)]
        rise = batch[..., -1] - batch[..., 0]
        probs[(rise > 1.5) & (rise <= 3.0)] = (0.1, 0.5, 0.4)
        return probs

    plan = Plan(task="dce_segmentation", stages=PLAN.stages,
                fingerprint={"classifier": {"crop_size": [3, 5, 5], "class_names": ["a", "b", "c"]}})

    def classify(feed):
        return np.eye(3)[[0] * len(feed["sequence"])]

    options = dict(min_lesion_mm3=0.0, lesion_threshold=0.3, min_lesion_probability=0.9)
    labels, ids, whole = run_dce_pipeline(_rule_predictor(_liver_rule), soft, classify, plan, series, **options)
    assert len(whole) == 1  # the bridge joins them into one component
    labels2, ids2, parts = run_dce_pipeline(_rule_predictor(_liver_rule), soft, classify, plan, series,
                                            split_probability=0.9, **options)
    np.testing.assert_array_equal(labels2.array, labels.array)  # the labels do not change, only the ids
    assert len(parts) == 2 and np.array_equal(ids2.array > 0, ids.array > 0)
    for k, box in enumerate(LESIONS, start=1):
        assert np.all(ids2.array[box] == k)  # lesion 1 is the larger


def test_a_pipeline_runs_with_the_postprocess_chosen_for_it_unless_told_otherwise(tmp_path):
    chosen = {"min_lesion_mm3": 0.0, "min_lesion_probability": None, "min_shell_labelled": 0.0}
    plain = tiny_dce_pipeline(biased=True)
    pipeline = DCEPipeline(plain.liver_stage, plain.lesion_stage, plain.classifier, postprocess=chosen)
    assert pipeline.plan.fingerprint["postprocess"] == chosen
    loaded = load_model(save_model(pipeline, tmp_path / "pipeline.keras"))
    assert loaded.postprocess == chosen and loaded.plan == pipeline.plan
    series = _series()
    labels, ids, lesions = pipeline_predict(loaded, series)
    want_labels, want_ids, want = pipeline_predict(plain, series, **chosen)
    assert want, "the biased pipeline should find lesions"
    np.testing.assert_array_equal(labels.array, want_labels.array)
    assert lesions == want
    default = pipeline_predict(plain, series)[0].array  # run_dce_cascade's own defaults differ
    assert not np.array_equal(default, labels.array)
    told, _, none = pipeline_predict(loaded, series, min_lesion_mm3=1e9)  # an explicit option wins
    assert none == [] and not (told.array == 2).any()
    strict, _, _ = pipeline_predict(loaded, series, min_shell_labelled=1.0)  # every lesion touching background goes
    assert np.array_equal(strict.array == 2, (labels.array == 2) & (strict.array == 2))
    with pytest.raises(ConfigError, match="unknown setting 'threshold'"):
        DCEPipeline(plain.liver_stage, plain.lesion_stage, plain.classifier, postprocess={"threshold": 0.3})
    with pytest.raises(ConfigError, match="lesion_threshold must be a number"):
        DCEPipeline(plain.liver_stage, plain.lesion_stage, plain.classifier, postprocess={"lesion_threshold": "x"})


def test_register_frames_undoes_breathing_before_both_stages_and_the_classifier():
    still = _series()
    still.array[:, 0:2, 28:32, 0:4] = 10.0  # no block cut by the field of view (it would anchor the shifts at zero)
    moving = still.array.copy()
    true = [(1, 2, 0), (-1, -1, 1), (0, 1, -1), (1, -1, 0), (-1, -1, 0)]  # voxels, summing to zero
    for f, shift in enumerate(true):
        moving[f] = ndimage.shift(still.array[f], shift, order=0, mode="nearest")
    moving = still.replace(moving)
    args = (_rule_predictor(_liver_rule), _rule_predictor(_lesion_rule), PLAN)
    options = dict(min_lesion_mm3=0.0, liver_gate_mm=None, return_stages=True)
    want = run_dce_cascade(*args, still, **options)[0].array
    blurred = run_dce_cascade(*args, moving, **options)[0].array
    aligned, stages = run_dce_cascade(*args, moving, register_frames=True, **options)
    np.testing.assert_allclose(stages["frame_shifts"], true, atol=0.15)
    lesion = want == 2
    assert (blurred[lesion] == 2).mean() < 0.9  # the rule on misaligned frames loses the lesions' borders
    assert (aligned.array == want).mean() > 0.99 and (aligned.array[lesion] == 2).mean() > 0.97

    crops = []

    def classify(feed):
        crops.append(feed["sequence"])
        return np.tile([[0.9, 0.1]], (len(feed["sequence"]), 1))

    plan = dataclasses.replace(PLAN, fingerprint={"classifier": {"crop_size": [3, 5, 5], "class_names": ["a", "b"]}})
    _, _, _, stages = run_dce_pipeline(*args[:2], classify, plan, moving, register_frames=True, return_stages=True,
                                       **{k: v for k, v in options.items() if k != "return_stages"})
    assert "frame_shifts" in stages and crops
    # a stage trained on aligned frames (its plan says so) turns registration on by default; told otherwise, off
    trained = dataclasses.replace(plan, fingerprint={**plan.fingerprint, "lesion": {"frames": "aligned"}})
    rest = {k: v for k, v in options.items() if k != "return_stages"}
    assert "frame_shifts" in run_dce_pipeline(*args[:2], classify, trained, moving, return_stages=True, **rest)[3]
    assert "frame_shifts" not in run_dce_pipeline(*args[:2], classify, trained, moving, return_stages=True,
                                                  register_frames=False, **rest)[3]
    first = crops[0][0, ..., 0]  # each frame of the first lesion's crop: its core rises as the still series' does
    assert np.all(np.diff(first[:, 1, 2, 2]) > 0)
    aligned_crops, crops[:] = crops[:1], []  # the first run's (the later two only check the default)
    run_dce_pipeline(*args[:2], classify, plan, still, register_frames=False, **rest)
    still_crops = crops  # the classifier sees, from the aligned moving series, the still series' crops
    assert len(still_crops) == 1 and still_crops[0].shape == aligned_crops[0].shape
    core = (slice(None), slice(None), slice(1, 2), slice(1, 4), slice(1, 4))
    np.testing.assert_allclose(aligned_crops[0][core], still_crops[0][core], atol=0.2 * float(np.ptp(still_crops[0])))
