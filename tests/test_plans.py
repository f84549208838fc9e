"""Plans: the spacing rule, round trips, checks, overrides, and inference that applies them by itself."""

import logging

import numpy as np
import pytest

from keras_liver.errors import ConfigError, FileFormatError
from keras_liver.plans import Plan, StagePlan, legacy_plan, target_spacing_of


def _plan(spacing=(3.0, 1.5, 1.5), patch=(1, 16, 16)):
    return Plan(task="ct_segmentation", stages=(StagePlan("liver_tumour", spacing, patch),),
                fingerprint={"n_cases": 2})


def test_target_spacing_is_the_median_unless_thick_slices_dominate():
    assert target_spacing_of([(2.0, 0.7, 0.7), (2.4, 0.8, 0.8), (5.0, 0.9, 0.9)]) == (2.4, 0.8, 0.8)
    # median z 5.0 > 3 x 0.8: z takes its 10th percentile (1.4), but never finer than the other axes
    thick = [(1.0, 0.8, 0.8)] + [(5.0, 0.8, 0.8)] * 9
    assert target_spacing_of(thick) == (pytest.approx(float(np.percentile([1.0] + [5.0] * 9, 10))), 0.8, 0.8)
    assert target_spacing_of([(0.3, 0.8, 0.8)] * 3 + [(5.0, 0.8, 0.8)] * 4)[0] == 0.8
    with pytest.raises(ConfigError, match="spacings"):
        target_spacing_of([(0.0, 1.0, 1.0)])


def test_plan_round_trips_through_json_and_refuses_what_it_cannot_use():
    plan = _plan()
    assert Plan.from_json(plan.to_json()) == plan and Plan.from_dict(plan.to_dict()) == plan
    assert plan.stage.target_spacing == (3.0, 1.5, 1.5) and plan.stage.patch_size == (1, 16, 16)
    with pytest.raises(FileFormatError, match="model.json: not a keras-liver plan"):
        Plan.from_dict({"stages": []}, "model.json")
    with pytest.raises(FileFormatError, match="newer than this keras-liver"):
        Plan.from_dict({**plan.to_dict(), "format": 99})
    bad = plan.to_dict()
    bad["stages"][0]["target_spacing"] = [3.0, 0.0, 1.0]
    with pytest.raises(FileFormatError, match="target_spacing"):
        Plan.from_dict(bad)
    with pytest.raises(ConfigError, match="roi"):
        StagePlan("tumour", (1.0, 1.0, 1.0), (1, 8, 8), roi={"rule": "anywhere"})


def test_overrides_replace_only_what_is_given():
    plan = _plan()
    assert plan.with_overrides() is plan
    spaced = plan.with_overrides(spacing=(2.0, 1.0, 1.0))
    assert spaced.stage.target_spacing == (2.0, 1.0, 1.0) and spaced.stage.patch_size == (1, 16, 16)
    assert spaced.source == "override" and plan.stage.target_spacing == (3.0, 1.5, 1.5)
    assert plan.with_overrides(patch_size=(1, 32, 32)).stage.target_spacing == (3.0, 1.5, 1.5)


def test_a_model_carries_its_plan_through_save_and_refuses_another_tasks(tmp_path):
    import keras

    from keras_liver.models import save_model
    from serving_models import tiny_classifier, tiny_segmenter

    model = tiny_segmenter(1)
    assert model.plan is None
    model.plan = _plan()
    loaded = keras.saving.load_model(save_model(model, tmp_path / "m.keras"), compile=False)
    assert loaded.plan == _plan() and loaded.get_config()["plan"] == _plan().to_dict()
    with pytest.raises(ConfigError, match="plan: is for task ct_segmentation"):
        tiny_classifier(1).plan = _plan()


def _volume(spacing, seed=0):
    from keras_liver.io import Volume

    hu = np.random.default_rng(seed).uniform(-100, 200, (5, 24, 24)).astype(np.float32)
    return Volume(hu, np.diag([spacing[2], spacing[1], spacing[0], 1.0]))


def test_predict_volume_applies_the_plan_and_an_old_model_warns(caplog):
    from keras_liver.inference import predict_volume
    from serving_models import tiny_segmenter

    model = tiny_segmenter(2)
    volume = _volume((2.0, 1.0, 1.0))
    with caplog.at_level(logging.WARNING):
        legacy = predict_volume(model, volume, patch_size=(1, 16, 16))
    assert [r for r in caplog.records if "has no plan" in r.getMessage()]  # one line saying what it assumes
    model.plan = _plan(spacing=(2.0, 2.5, 2.5))
    caplog.clear()
    with caplog.at_level(logging.WARNING):
        planned = predict_volume(model, volume)
    assert not [r for r in caplog.records if "has no plan" in r.getMessage()]
    model.plan = None
    told = predict_volume(model, volume, patch_size=(1, 16, 16), target_spacing=(2.0, 2.5, 2.5))
    np.testing.assert_array_equal(planned.array, told.array)  # the plan did what --spacing would
    assert planned.shape == legacy.shape == volume.shape
    model.plan = _plan(spacing=(2.0, 2.5, 2.5))
    overridden = predict_volume(model, volume, target_spacing=(2.0, 1.0, 1.0))
    np.testing.assert_array_equal(overridden.array, legacy.array)  # --spacing overrides the plan


def test_legacy_plan_keeps_the_scans_spacing():
    plan = legacy_plan("ct_segmentation", (1, 32, 32))
    assert plan.stage.target_spacing is None and plan.source == "legacy"


def test_a_liver_box_model_on_a_whole_volume_says_so(caplog):
    from keras_liver.inference import predict_volume
    from serving_models import tiny_segmenter

    model = tiny_segmenter(4)
    model.plan = Plan(task="ct_segmentation", stages=(StagePlan("liver_tumour", None, (1, 16, 16),
                                                                roi={"rule": "liver_box", "margin_mm": 10}),))
    with caplog.at_level(logging.WARNING):
        predict_volume(model, _volume((2.0, 1.0, 1.0)))
    assert [r for r in caplog.records if "trained inside liver boxes" in r.getMessage()]
