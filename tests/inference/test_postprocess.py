import numpy as np

from keras_liver.inference import drop_uncertain_lesions, segment_with_predictor
from keras_liver.io import Volume


def test_only_lesions_whose_peak_probability_is_high_enough_stay():
    labels = np.ones((3, 9, 11), np.uint8)
    prob = np.zeros(labels.shape, np.float32)
    labels[1, 1:3, 1:3] = 2
    prob[1, 1:3, 1:3] = 0.55
    prob[1, 1, 1] = 0.9  # one sure voxel keeps the whole component
    labels[1, 6:8, 6:9] = 2
    prob[1, 6:8, 6:9] = 0.45
    out = drop_uncertain_lesions(labels, prob, 0.6)
    assert np.all(out[1, 1:3, 1:3] == 2) and np.all(out[1, 6:8, 6:9] == 1)
    np.testing.assert_array_equal(drop_uncertain_lesions(labels, prob, 0.4), labels)
    assert (drop_uncertain_lesions(labels, prob, 0.95) == 2).sum() == 0


def test_segmentation_applies_the_probability_floor_on_its_own_grid():
    hu = np.zeros((3, 8, 8), np.float32)
    hu[1, 1:3, 1:3] = 0.9  # the predictor's tumour probability is the input value
    hu[1, 5:7, 5:7] = 0.5

    def predict(batch):
        x = batch[..., 0]
        return np.stack([np.full_like(x, 0.05), np.full_like(x, 0.3), x], -1)

    kept = segment_with_predictor((predict, 2, 1), Volume(hu, np.eye(4)), patch_size=(1, 8, 8), overlap=0.0,
                                  postprocess=False, min_lesion_probability=0.7).array
    assert np.all(kept[1, 1:3, 1:3] == 2) and np.all(kept[1, 5:7, 5:7] == 1)
