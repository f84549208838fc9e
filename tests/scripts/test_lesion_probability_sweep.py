"""scripts/lesion_probability_sweep.py's choice of a cascade's lesion filters on validation rows."""

import pytest
from helpers import load_script


@pytest.fixture(scope="module")
def sweep():
    return load_script("lesion_probability_sweep")


def _row(p, dice, recall, fp, size=100.0):
    return {"min_lesion_probability": p, "min_lesion_mm3": size, "liver_gate_mm": 3.0, "lesion_threshold": 0.3,
            "liver_dice_per_case": 0.95, "tumour_dice_per_case": dice, "tumour_dice_global": dice,
            "recall_10mm": recall, "false_positive_lesions_per_case": fp}


def test_the_best_tumour_dice_within_the_false_positive_limit_is_chosen(sweep):
    rows = [_row(None, 0.70, 0.9, 9.0), _row(0.6, 0.55, 0.8, 0.4), _row(0.8, 0.60, 0.7, 0.5),
            _row(0.9, 0.20, 0.1, 0.0)]
    assert sweep.choose_setting(rows, max_fp=0.5) == {"min_lesion_probability": 0.8, "min_lesion_mm3": 100.0,
                                                      "liver_gate_mm": 3.0, "lesion_threshold": 0.3}
    assert sweep.choose_setting(rows, max_fp=10)["min_lesion_probability"] is None  # no limit: the best Dice


def test_without_any_row_in_the_limit_the_fewest_false_positives_win_and_ties_go_to_dice_then_recall(sweep):
    rows = [_row(0.6, 0.5, 0.6, 3.0), _row(0.7, 0.5, 0.8, 2.0, size=200.0), _row(0.9, 0.1, 0.2, 1.0),
            _row(0.95, 0.2, 0.2, 1.0), _row(0.98, 0.2, 0.3, 1.0, size=200.0)]
    chosen = sweep.choose_setting(rows, max_fp=0.5)  # nearest the limit (1.0 a case), best Dice, then recall
    assert chosen["min_lesion_probability"] == 0.98 and chosen["min_lesion_mm3"] == 200.0
    with pytest.raises(ValueError):
        sweep.choose_setting([])


def test_the_memo_runs_a_step_once_per_distinct_input_and_restores_the_module(sweep):
    import types

    import numpy as np

    calls = []
    module = types.ModuleType("steps")
    module.__name__ = "steps"
    module.double = lambda a, scale=2.0: calls.append(a.copy()) or a * scale
    original = module.double
    memo = sweep.Memo()
    memo.patch(module, "double")
    a = np.arange(6.0).reshape(2, 3)
    first = module.double(a)
    np.testing.assert_array_equal(module.double(a.copy()), first)  # equal bytes: remembered
    np.testing.assert_array_equal(module.double(a, scale=3.0), a * 3.0)  # another keyword: computed
    np.testing.assert_array_equal(module.double(a.reshape(3, 2)), first.reshape(3, 2))  # another shape: computed
    assert len(calls) == 3 and memo.calls == 3
    memo.clear()
    module.double(a)
    assert len(calls) == 4  # cleared between cases
    memo.restore()
    assert module.double is original


def test_the_sweep_scores_every_setting_and_saves_the_cascade_with_the_chosen_one(sweep, tmp_path):
    import importlib
    import json

    from serving_models import tiny_segmenter

    from keras_liver.models import CTCascade, load_model, save_model
    from keras_liver.phantoms import write_ct_dataset
    from keras_liver.plans import Plan, StagePlan

    data = tmp_path / "val"
    write_ct_dataset(data, 2, seed=9000, shape=(7, 24, 28))
    liver, tumour = tiny_segmenter(41), tiny_segmenter(42)
    liver.plan = Plan(task="ct_segmentation", stages=(StagePlan("liver_tumour", None, (1, 16, 16)),))
    tumour.plan = Plan(task="ct_segmentation", stages=(StagePlan("liver_tumour", None, (1, 16, 16),
                                                                 roi={"rule": "liver_box", "margin_mm": 4.0}),))
    model = save_model(CTCascade(liver, tumour), tmp_path / "cascade.keras")
    rows, chosen, again = tmp_path / "rows.json", tmp_path / "chosen.json", tmp_path / "chosen.keras"
    sweep.main(["--model", str(model), "--data", str(data), "--probabilities", "none,0.6", "--sizes", "0",
                "--gates", "none", "--work", str(tmp_path / "work"), "--out", str(rows), "--choose", str(chosen),
                "--max-fp", "100", "--write-cascade", str(again)])
    table = json.loads(rows.read_text())
    assert [r["min_lesion_probability"] for r in table] == [None, 0.6]
    picked = json.loads(chosen.read_text())
    assert picked == sweep.choose_setting(table, 100)
    assert load_model(again, compile=False).plan.fingerprint["postprocess"] == picked
    assert len(list((tmp_path / "work").glob("*/segmentation-*.nii.gz"))) == 4  # two settings x two cases
    assert importlib.import_module("keras_liver.inference.predict_volume").sliding_window_predict.__name__ == \
        "sliding_window_predict"  # the memo's patches are undone


def test_a_remembered_predictor_calls_the_model_once_per_batch(sweep):
    import numpy as np

    seen = []
    predict, dims, channels = sweep.remembered((lambda batch: seen.append(1) or batch + 1, 2, 1))
    batch = np.zeros((2, 3, 3, 1), np.float32)
    np.testing.assert_array_equal(predict(batch), predict(batch.copy()))
    assert len(seen) == 1 and (dims, channels) == (2, 1)
    predict.clear()
    predict(batch)
    assert len(seen) == 2


def test_every_name_other_scripts_import_from_the_sweep_exists(sweep):
    import pathlib
    import re

    scripts = pathlib.Path(sweep.__file__).parent
    wanted = {name.strip() for path in scripts.glob("*.py")
              for names in re.findall(r"from lesion_probability_sweep import ([\w, ]+)", path.read_text())
              for name in names.split(",")}
    assert "remembered" in wanted  # eval_ct.py's held-out figures without the floor
    assert all(hasattr(sweep, name) for name in wanted)
