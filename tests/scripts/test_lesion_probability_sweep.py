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


def test_without_any_row_in_the_limit_all_rows_compete_and_ties_go_to_recall(sweep):
    rows = [_row(0.6, 0.5, 0.6, 3.0), _row(0.7, 0.5, 0.8, 2.0, size=200.0), _row(0.9, 0.1, 0.2, 1.0)]
    chosen = sweep.choose_setting(rows, max_fp=0.5)
    assert chosen["min_lesion_probability"] == 0.7 and chosen["min_lesion_mm3"] == 200.0
    with pytest.raises(ValueError):
        sweep.choose_setting([])
