import json

import pytest

from keras_liver.errors import ConfigError, MissingPathError
from keras_liver.training import TrainConfig, split_cases


def test_yaml_and_json_give_the_same_config(tmp_path):
    (tmp_path / "a.yaml").write_text("task: dce_classification\nmodel: DCEClassifier\nepochs: 3\n")
    (tmp_path / "a.json").write_text(json.dumps({"task": "dce_classification", "model": "DCEClassifier", "epochs": 3}))
    a, b = TrainConfig.from_file(tmp_path / "a.yaml"), TrainConfig.from_file(tmp_path / "a.json")
    assert a == b and a.epochs == 3 and a.monitor == "val_macro_f1"
    assert TrainConfig().monitor == "val_dice_2"


def test_unknown_keys_and_bad_values_are_errors(tmp_path):
    (tmp_path / "typo.yaml").write_text("task: ct_segmentation\nepohcs: 3\n")
    with pytest.raises(ConfigError, match="epohcs"):
        TrainConfig.from_file(tmp_path / "typo.yaml")
    with pytest.raises(ConfigError, match="task"):
        TrainConfig(task="detection")
    with pytest.raises(ConfigError, match="batch_size"):
        TrainConfig(batch_size=0)
    with pytest.raises(ConfigError, match="val_fraction"):
        TrainConfig(val_fraction=1.0)
    with pytest.raises(ConfigError, match="hard_fraction"):
        TrainConfig(hard_fraction=1.2)
    with pytest.raises(ConfigError, match="tumour_sampling"):
        TrainConfig(tumour_sampling="component")
    with pytest.raises(ConfigError, match="tumour_jitter"):
        TrainConfig(tumour_jitter=-0.1)
    with pytest.raises(ConfigError, match="tumour_jitter"):
        TrainConfig(task="dce_classification", model="DCEClassifier", tumour_jitter=0.5)
    with pytest.raises(ConfigError, match="hard_fraction"):
        TrainConfig(task="dce_classification", model="DCEClassifier", hard_fraction=0.2)
    with pytest.raises(ConfigError, match="register_frames: for DCE training on series patches"):
        TrainConfig(register_frames=True)  # a CT task
    with pytest.raises(ConfigError, match="register_frames: for DCE training on series patches"):
        TrainConfig(task="dce_classification", model="DCEClassifier", register_frames=True)
    with pytest.raises(ConfigError, match="mixed_precision"):
        TrainConfig(mixed_precision="bfloat16")
    with pytest.raises(MissingPathError):
        TrainConfig.from_file(tmp_path / "none.yaml")
    (tmp_path / "bad.json").write_text("{")
    with pytest.raises(ConfigError, match="bad.json"):
        TrainConfig.from_file(tmp_path / "bad.json")


def test_every_field_is_documented():
    doc = TrainConfig.__doc__
    missing = [f for f in TrainConfig.__dataclass_fields__ if f"{f}:" not in doc]
    assert not missing


def test_split_is_seeded_by_case_and_stratified():
    ids = [str(i) for i in range(20)]
    train, val = split_cases(ids, 0.2, seed=3)
    assert len(val) == 4 and not set(train) & set(val) and sorted(train + val, key=int) == ids
    assert split_cases(ids, 0.2, seed=3) == (train, val)
    strata = [i % 5 for i in range(20)]
    _, val = split_cases(ids, 0.25, seed=1, strata=strata)
    assert sorted(int(v) % 5 for v in val) == [0, 1, 2, 3, 4]
    assert split_cases(ids, 0.2, 0, val_cases=[3, "4"])[1] == ["3", "4"]
    with pytest.raises(ConfigError, match="99"):
        split_cases(ids, 0.2, 0, val_cases=[99])


@pytest.mark.parametrize("change, words", [
    ({"batch_size": "eight"}, ["batch_size", "int", "eight"]),
    ({"epochs": [1]}, ["epochs", "int"]),
    ({"learning_rate": "fast"}, ["learning_rate", "float", "fast"]),
    ({"patch_size": "abc"}, ["patch_size", "list"]),
    ({"patch_size": [16, 0]}, ["patch_size", "positive"]),
    ({"model_args": [1, 2]}, ["model_args", "dict"]),
    ({"augment": "sometimes"}, ["augment", "bool"]),
    ({"batch_size": True}, ["batch_size", "bool"]),
    ({"target_spacing": [1, 1]}, ["target_spacing", "three"]),
])
def test_wrong_types_are_refused_by_name(change, words):
    with pytest.raises(ConfigError) as caught:
        TrainConfig.from_dict({"task": "ct_segmentation", **change})
    assert all(w in str(caught.value) for w in words), str(caught.value)


def test_empty_config_file_is_an_error_and_paths_and_tuples_are_taken(tmp_path):
    (tmp_path / "empty.yaml").write_text("")
    with pytest.raises(ConfigError, match="empty"):
        TrainConfig.from_file(tmp_path / "empty.yaml")
    config = TrainConfig(data=tmp_path, patch_size=(16, 16), learning_rate=1)
    assert config.data == str(tmp_path) and config.patch_size == [16, 16] and config.learning_rate == 1


def test_precision_settings_map_to_keras_policies():
    from keras_liver.training.trainer import _precision_policy

    assert TrainConfig(mixed_precision="mixed_bfloat16").mixed_precision == "mixed_bfloat16"
    assert _precision_policy("mixed_bfloat16") == "mixed_bfloat16"
    assert _precision_policy(True) == "mixed_float16"
    assert _precision_policy(False) == _precision_policy("float32") == "float32"


def test_a_plan_says_when_its_stage_trained_on_aligned_frames():
    from keras_liver.training.planning import make_plan

    spacings = [(5.0, 2.8, 2.8), (5.4, 3.0, 3.0)]
    common = dict(task="dce_segmentation", model="DCESegmenter", series_patch=[8, 16, 16], target_spacing=None)
    aligned = make_plan(TrainConfig(register_frames=True, **common), spacings, None)
    plain = make_plan(TrainConfig(**common), spacings, None)
    assert aligned.fingerprint["frames"] == "aligned" and "frames" not in plain.fingerprint
    assert aligned.stage == plain.stage
