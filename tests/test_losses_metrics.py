import keras
import numpy as np
import pytest

from keras_liver import losses, metrics


def _probs(labels, classes=3, confidence=1.0):
    one_hot = np.eye(classes, dtype="float32")[labels]
    return confidence * one_hot + (1 - confidence) / classes


def _dice_numpy(truth, probs, cls, smooth_nr=1e-5, smooth_dr=1e-5):
    t = (truth == cls).astype("float64")
    p = probs[..., cls].astype("float64")
    return (2 * (t * p).sum() + smooth_nr) / (p.sum() + t.sum() + smooth_dr)


def test_soft_dice_matches_numpy_per_sample_and_batch(rng):
    truth = rng.integers(0, 3, (2, 5, 7))
    logits = rng.normal(size=(2, 5, 7, 3))
    probs = (np.exp(logits) / np.exp(logits).sum(-1, keepdims=True)).astype("float32")
    per_sample = np.asarray(losses.SoftDiceLoss(reduction=None)(truth, probs))
    expected = [1 - np.mean([_dice_numpy(truth[b], probs[b], c) for c in (1, 2)]) for b in range(2)]
    np.testing.assert_allclose(per_sample, expected, rtol=1e-5)
    batch = float(losses.SoftDiceLoss(reduction_mode="batch")(truth, probs))
    np.testing.assert_allclose(batch, 1 - np.mean([_dice_numpy(truth, probs, c) for c in (1, 2)]), rtol=1e-5)
    with_bg = float(losses.SoftDiceLoss(include_background=True)(truth[..., None], probs))
    np.testing.assert_allclose(with_bg, np.mean([1 - np.mean([_dice_numpy(truth[b], probs[b], c) for c in (0, 1, 2)])
                                                 for b in range(2)]), rtol=1e-5)


def test_empty_prediction_against_empty_truth():
    truth = np.zeros((1, 4, 4), "int64")  # only background: classes 1 and 2 absent
    probs = _probs(truth)
    assert float(losses.SoftDiceLoss()(truth, probs)) == pytest.approx(0.0, abs=1e-6)
    assert float(losses.SoftDiceLoss(smooth_nr=0.0)(truth, probs)) == pytest.approx(1.0)
    metric = metrics.SegmentationScore(2)
    metric.update_state(truth, probs)
    assert float(metric.result()) == 1.0


def test_perfect_and_wrong_predictions():
    truth = np.array([[[0, 1, 2, 2]]])
    assert float(losses.DiceCELoss()(truth, _probs(truth))) == pytest.approx(0.0, abs=1e-4)
    wrong = _probs(np.array([[[0, 2, 1, 1]]]))
    assert float(losses.SoftDiceLoss()(truth, wrong)) == pytest.approx(1.0, abs=1e-4)
    assert float(losses.TverskyLoss()(truth, wrong)) == pytest.approx(1.0, abs=1e-4)


def test_focal_is_cross_entropy_at_gamma_zero_and_smaller_for_easy_voxels(rng):
    truth = rng.integers(0, 3, (2, 6))
    probs = _probs(truth, confidence=0.7)
    ce = keras.losses.SparseCategoricalCrossentropy()(truth, probs)
    np.testing.assert_allclose(float(losses.FocalLoss(gamma=0.0)(truth, probs)), float(ce), rtol=1e-5)
    assert float(losses.FocalLoss(gamma=2.0)(truth, probs)) < 0.2 * float(ce)


def test_tversky_with_equal_weights_is_dice(rng):
    truth = rng.integers(0, 3, (2, 9))
    probs = _probs(rng.integers(0, 3, (2, 9)), confidence=0.8)
    np.testing.assert_allclose(float(losses.TverskyLoss(alpha=0.5, beta=0.5)(truth, probs)),
                               float(losses.SoftDiceLoss()(truth, probs)), rtol=1e-5)
    # beta > alpha penalises missed voxels more
    missed = _probs(np.zeros((1, 4), "int64"))
    found_too_much = _probs(np.full((1, 4), 2))
    truth2 = np.array([[2, 2, 0, 0]])
    tv = losses.TverskyLoss(alpha=0.3, beta=0.7)
    assert float(tv(truth2, missed)) > float(tv(truth2, found_too_much))


def test_deep_supervision_weights():
    assert losses.deep_supervision_weights(4) == {f"head_{j}": 0.25 for j in range(1, 5)}
    weights = losses.deep_supervision_weights(3, "deep_first")
    assert weights["head_3"] == pytest.approx(4 / 7) and sum(weights.values()) == pytest.approx(1.0)


def test_segmentation_scores_count_voxels_over_batches():
    truth = np.array([[1, 1, 2, 0], [2, 2, 0, 0]])
    pred = np.array([[1, 2, 2, 0], [2, 0, 0, 1]])
    scores = {k: metrics.SegmentationScore(2, k) for k in metrics.KINDS}
    for row in range(2):
        for s in scores.values():
            s.update_state(truth[row:row + 1], _probs(pred[row:row + 1]))
    # class 2: tp = 2 (positions [0,2], [1,0]); fp = 1 ([0,1]); fn = 1 ([1,1])
    assert float(scores["dice"].result()) == pytest.approx(4 / 6)
    assert float(scores["iou"].result()) == pytest.approx(2 / 4)
    assert float(scores["precision"].result()) == pytest.approx(2 / 3)
    assert float(scores["recall"].result()) == pytest.approx(2 / 3)


def test_macro_f1_and_auc_match_scikit_learn(rng):
    from sklearn.metrics import f1_score, roc_auc_score

    truth = np.arange(40) % 4
    probs = rng.dirichlet(np.ones(4), 40).astype("float32")
    probs[np.arange(40), truth] += rng.random(40).astype("float32")
    probs /= probs.sum(1, keepdims=True)
    f1 = metrics.MacroF1(4)
    f1.update_state(truth[:25], probs[:25])
    f1.update_state(truth[25:], probs[25:])
    assert float(f1.result()) == pytest.approx(f1_score(truth, probs.argmax(1), average="macro"), abs=1e-6)
    auc = metrics.MacroAUC(4, num_thresholds=2000)
    auc.update_state(truth, probs)
    assert float(auc.result()) == pytest.approx(roc_auc_score(truth, probs, multi_class="ovr"), abs=2e-3)


def test_losses_and_metrics_serialize():
    for obj in (losses.SoftDiceLoss(smooth_nr=0.0, reduction_mode="batch"), losses.DiceCELoss(ce_weight=0.5),
                losses.TverskyLoss(alpha=0.2, beta=0.8), losses.FocalLoss(gamma=1.0, alpha=[1, 2, 3])):
        again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
        assert again.get_config() == obj.get_config()
    for obj in (metrics.SegmentationScore(1, "iou"), metrics.MacroF1(5), metrics.MacroAUC(5)):
        again = keras.saving.deserialize_keras_object(keras.saving.serialize_keras_object(obj))
        assert again.get_config() == obj.get_config()
