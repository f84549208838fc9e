"""`SegmenterEnsemble`: the members' probabilities averaged, one plan, a saved round trip, and the cascade CLI."""

import numpy as np
import pytest

from keras_liver.cli.main import main
from keras_liver.errors import ConfigError
from keras_liver.inference import pipeline_predict
from keras_liver.io import Volume
from keras_liver.models import DCEClassifier, DCEPipeline, DCESegmenter, SegmenterEnsemble, load_model, save_model
from keras_liver.plans import Plan, StagePlan

SHAPE = (3, 4, 6, 10, 1)  # t, z, y, x, c: odd and unequal
LESION = StagePlan("lesion", (2.0, 1.5, 1.5), (4, 6, 10), labels=("background", "liver", "lesion"),
                   intensity="series:baseline", roi={"rule": "liver_box", "margin_mm": 5.0})


def _member(seed, stage=LESION, filters=(2, 3)):
    import keras

    keras.utils.set_random_seed(seed)
    model = DCESegmenter(input_shape=SHAPE, filters=filters, normalize_series=False, lstm_kernel=1)
    model.plan = Plan(task="dce_segmentation", stages=(stage,))
    return model


def test_probabilities_are_the_members_mean_and_survive_a_round_trip(tmp_path):
    members = [_member(1), _member(2, filters=(3, 2))]
    x = np.random.default_rng(0).normal(size=(2,) + SHAPE).astype(np.float32)
    each = [m.predict_on_batch({"sequence": x})["probabilities"] for m in members]
    assert np.abs(each[0] - each[1]).max() > 1e-3  # two different members, or the mean would prove nothing
    ensemble = SegmenterEnsemble(members)
    out = ensemble.predict_on_batch({"sequence": x})
    np.testing.assert_allclose(out["probabilities"], (each[0] + each[1]) / 2, atol=1e-6)
    np.testing.assert_array_equal(out["mask"], out["probabilities"].argmax(-1))
    assert ensemble.plan == members[0].plan and ensemble.task == "dce_segmentation"
    loaded = load_model(save_model(ensemble, tmp_path / "ensemble.keras"))
    assert isinstance(loaded, SegmenterEnsemble) and len(loaded.members) == 2 and loaded.plan == ensemble.plan
    np.testing.assert_allclose(loaded.predict_on_batch({"sequence": x})["probabilities"], out["probabilities"],
                               atol=1e-6)


def test_members_must_share_one_plan_and_task():
    one = _member(1)
    with pytest.raises(ConfigError, match="at least two"):
        SegmenterEnsemble([one])
    with pytest.raises(ConfigError, match="given twice"):
        SegmenterEnsemble([one, one])
    other = _member(2, stage=StagePlan("lesion", (2.0, 1.0, 1.0), (4, 6, 10), labels=LESION.labels,
                                       intensity=LESION.intensity, roi=LESION.roi))
    with pytest.raises(ConfigError, match=r"members\[1\].*plan .* differs"):
        SegmenterEnsemble([one, other])
    bare = DCESegmenter(input_shape=SHAPE, filters=(2, 3))
    with pytest.raises(ConfigError, match=r"members\[1\].*no plan"):
        SegmenterEnsemble([one, bare])
    classifier = DCEClassifier(input_shape=(3, 3, 5, 5, 1), num_classes=3, encoder_filters=(2,), lstm_filters=(2,))
    with pytest.raises(ConfigError, match=r"members\[1\].*not a segmentation model"):
        SegmenterEnsemble([one, classifier])


def test_cascade_with_two_lesion_models_makes_a_pipeline_whose_stage_two_is_their_ensemble(tmp_path, capsys):
    liver = _member(3)
    liver.plan = Plan(task="dce_segmentation", stages=(StagePlan("liver", (4.0, 3.0, 3.0), (4, 6, 10),
                                                                  labels=LESION.labels, intensity=LESION.intensity),))
    classifier = DCEClassifier(input_shape=(3, 3, 5, 5, 1), num_classes=3, encoder_filters=(2,), lstm_filters=(2,),
                               class_names=["a", "b", "c"])
    paths = {name: str(save_model(m, tmp_path / f"{name}.keras"))
             for name, m in (("liver", liver), ("a", _member(4)), ("b", _member(5)), ("classifier", classifier))}
    out = tmp_path / "pipeline.keras"
    chosen = tmp_path / "chosen.json"
    chosen.write_text('{"lesion_threshold": 0.3, "min_shell_labelled": 0.5, "flip_tta": true}')
    assert main(["cascade", "--liver", paths["liver"], "--lesion", paths["a"], paths["b"],
                 "--classifier", paths["classifier"], "--out", str(out), "--postprocess", str(chosen)]) == 0
    pipeline = load_model(out)
    assert isinstance(pipeline, DCEPipeline) and isinstance(pipeline.lesion_stage, SegmenterEnsemble)
    assert pipeline.plan.fingerprint["postprocess"] == {"lesion_threshold": 0.3, "min_shell_labelled": 0.5,
                                                        "flip_tta": True}
    for bad, words in (('{"lesion_treshold": 0.3}', "unknown setting 'lesion_treshold'"),
                       ("[0.3]", "not a JSON object"), ('{"flip_tta": 1}', "flip_tta must be true or false")):
        capsys.readouterr()
        assert main(["cascade", "--liver", paths["liver"], "--lesion", paths["a"], "--classifier",
                     paths["classifier"], "--out", str(tmp_path / "bad.keras"), "--postprocess", bad]) != 0
        assert words in capsys.readouterr().err
    assert not (tmp_path / "bad.keras").exists()
    assert pipeline.plan.stages[1].target_spacing == LESION.target_spacing
    series = Volume(np.random.default_rng(1).uniform(50, 150, (3, 9, 14, 22)).astype(np.float32),
                    np.diag([1.5, 1.5, 2.0, 1.0]))
    labels, _, lesions = pipeline_predict(pipeline, series, min_lesion_mm3=0.0, min_lesion_probability=None)
    assert labels.shape == series.spatial_shape and all(r["class"] in ("a", "b", "c") for r in lesions)
