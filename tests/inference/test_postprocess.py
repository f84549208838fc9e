import numpy as np

import pytest
from scipy import ndimage

from keras_liver.inference import (drop_lesions_outside_liver, drop_uncertain_lesions, lesion_labels,
                                   lesion_shell_shares, segment_with_predictor, split_lesions)
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


def test_lesion_threshold_grows_lesions_into_foreground_only():
    probs = np.zeros((2, 5, 7, 3), np.float32)
    probs[...] = (0.6, 0.3, 0.1)                      # background wins
    probs[:, 1:4, 1:6] = (0.1, 0.6, 0.3)              # liver wins, some tumour evidence
    probs[:, 2, 3] = (0.05, 0.15, 0.8)                # tumour wins
    probs[0, 0, 0] = (0.45, 0.1, 0.45)                # background arg-max with tumour 0.45: never lesion
    np.testing.assert_array_equal(lesion_labels(probs), probs.argmax(-1))
    grown = lesion_labels(probs, 0.25)
    assert np.all(grown[:, 1:4, 1:6] == 2) and grown[0, 0, 0] == 0 and np.all(grown[:, 0, 1:] == 0)
    kept = lesion_labels(probs, 0.35)
    assert (kept == 2).sum() == 2 and np.all(kept[:, 2, 3] == 2)
    assert lesion_labels(probs[..., :2], 0.1).max() == 1   # no lesion class: arg-max


def test_segmentation_returns_probabilities_on_the_image_grid():
    hu = np.zeros((3, 8, 8), np.float32)
    hu[1, 2:5, 2:5] = 0.8

    def predict(batch):
        x = batch[..., 0]
        return np.stack([1.0 - x, 0.0 * x, x], -1)

    same = Volume(hu, np.diag([1.0, 1.0, 2.0, 1.0]))  # already at the target spacing: the predictor's output exactly
    labels, probs = segment_with_predictor((predict, 2, 1), same, patch_size=(1, 4, 4), target_spacing=(2.0, 1.0, 1.0),
                                           overlap=0.0, postprocess=False, return_probabilities=True)
    np.testing.assert_allclose(probs[..., 2], hu, atol=1e-6)
    np.testing.assert_array_equal(labels.array == 2, hu > 0.5)
    fine = Volume(hu, np.diag([0.5, 0.5, 2.0, 1.0]))  # resampled to 1 mm and back
    _, probs = segment_with_predictor((predict, 2, 1), fine, patch_size=(1, 4, 4), target_spacing=(2.0, 1.0, 1.0),
                                      overlap=0.0, postprocess=False, return_probabilities=True)
    assert probs.shape == (3, 8, 8, 3) and probs.dtype == np.float32
    np.testing.assert_allclose(probs.sum(-1), 1.0, atol=1e-5)
    assert probs[1, 3, 3, 2] > 0.5 and probs[0, 3, 3, 2] < 1e-6


def test_split_lesions_parts_two_cores_joined_by_a_doubtful_bridge_and_keeps_one_core_whole():
    labels = np.ones((5, 9, 17), np.uint8)
    p = np.zeros(labels.shape, np.float32)
    labels[1:4, 2:7, 1:15] = 2  # one component: two lesions and the doubtful gap between them
    p[1:4, 2:7, 1:15] = 0.4
    p[1:4, 2:7, 1:6] = 0.95  # left core: 3 x 5 x 5 voxels
    p[1:4, 2:7, 9:15] = 0.97  # right core: 3 x 5 x 6
    p[1:4, 2:7, 6], p[1:4, 2:7, 7] = 0.6, 0.5  # the gap falls from the left core: its voxels join the left
    labels[2, 7, 3] = 2
    p[2, 7, 3] = 0.99  # a one-voxel seed on the left lesion's edge: too small to be a lesion of its own
    ids = split_lesions(labels, p, 0.9)
    assert ids.dtype == np.uint16 and set(np.unique(ids)) == {0, 1, 2}
    # the left lesion with its edge voxel and the gap (3 x 5 x 7 + 1) outgrows the right (3 x 5 x 7): id 1
    assert np.all(ids[1:4, 2:7, 1:8] == 1) and ids[2, 7, 3] == 1 and np.all(ids[1:4, 2:7, 8:15] == 2)
    assert np.array_equal(ids > 0, labels == 2)  # every lesion voxel has an id, nothing else does
    whole = split_lesions(labels, np.where(labels == 2, 0.95, 0).astype(np.float32), 0.9)
    assert set(np.unique(whole)) == {0, 1}  # one core: one lesion
    none = split_lesions(labels, p, 1.01)
    assert set(np.unique(none)) == {0, 1}  # no core at all: the component stays whole


def _shell_share_oracle(labels, component):
    """The labelled share of a component's 2-voxel shell, on the whole array (as eval_dce_pipeline measures it)."""
    shell = ndimage.binary_dilation(component, iterations=2) & ~component
    return float((labels[shell] > 0).mean())


def test_lesions_outside_the_liver_become_background_by_the_share_of_their_shell():
    labels = np.zeros((9, 21, 23), np.uint8)
    labels[1:8, 2:15, 2:16] = 1  # the liver
    labels[3:6, 5:9, 5:9] = 2  # inside: wrapped in liver
    labels[3:6, 16:20, 5:9] = 2  # beside the liver (fluid), one voxel away: shell mostly background
    labels[3:6, 6:10, 13:17] = 2  # across the liver's edge: most of its shell is liver
    labels[0, 0, 0] = 2  # at the volume's corner, alone: its clipped shell is all background
    comps, n = ndimage.label(labels == 2, ndimage.generate_binary_structure(3, 3))
    assert n == 4
    shares = [_shell_share_oracle(labels, comps == k) for k in range(1, n + 1)]
    for cut in (0.0, 0.3, 0.5, 0.7, 0.95, 1.0):
        out = drop_lesions_outside_liver(labels, cut)
        for k, share in enumerate(shares, start=1):
            component = comps == k
            if share < cut:
                assert np.all(out[component] == 0), (cut, k, share)
            else:
                assert np.all(out[component] == 2), (cut, k, share)
        assert np.array_equal(out[labels != 2], labels[labels != 2])  # nothing but dropped lesions changes
    inside, fluid, edge, corner = (shares[comps[point] - 1] for point in ((4, 6, 6), (4, 17, 6), (4, 7, 15), (0, 0, 0)))
    assert inside == 1.0 and corner == 0.0 and fluid < 0.5 < edge < 1.0
    liver = drop_lesions_outside_liver(labels, 0.5, replacement=1)
    assert np.all(liver[comps == comps[4, 17, 6]] == 1)
    with pytest.raises(ValueError, match="min_shell_labelled"):
        drop_lesions_outside_liver(labels, 1.5)


def test_lesion_shell_rule_matches_the_whole_array_oracle_on_random_maps():
    rng = np.random.default_rng(7)
    for _ in range(5):
        noise = ndimage.gaussian_filter(rng.standard_normal((11, 17, 19)), 1.5)
        labels = np.where(noise > 0.05, 1, 0).astype(np.uint8)
        labels[ndimage.gaussian_filter(rng.standard_normal(labels.shape), 1.0) > 0.25] = 2
        comps, n = ndimage.label(labels == 2, ndimage.generate_binary_structure(3, 3))
        out = drop_lesions_outside_liver(labels, 0.6)
        shares = lesion_shell_shares(labels, comps)
        assert sorted(shares) == list(range(1, n + 1))
        for k in range(1, n + 1):
            component = comps == k
            share = _shell_share_oracle(labels, component)
            assert abs(shares[k] - share) < 1e-12
            assert np.all(out[component] == (2 if share >= 0.6 else 0))


def _lone_bright_voxel_case():
    """A 3 mm image with one bright voxel; the model works at 1 mm in plane, where it sees that voxel's centre."""
    hu = np.zeros((3, 9, 9), np.float32)
    hu[1, 4, 4] = 1.0
    return Volume(hu, np.diag([3.0, 3.0, 3.0, 1.0]))


def _threshold_predictor(level):
    def predict(batch):
        fg = (batch[..., 0] > level).astype(np.float32)  # liver wherever the upsampled image exceeds level
        return np.stack([1.0 - fg, fg, 0.0 * fg], -1)
    return predict, 2, 1


@pytest.mark.parametrize("level, lit_by_nearest, lit_by_share", [(0.99, True, False), (0.3, True, True)])
def test_boundary_from_probabilities_counts_each_voxels_share(level, lit_by_nearest, lit_by_share):
    # level 0.99: on the 1 mm grid only the centre of the bright voxel's 3 x 3 footprint is liver. The nearest
    # model voxel of the 3 mm voxel is that centre (liver); by share, 1 of 9 is liver (background).
    # level 0.3: the whole footprint is liver, and both agree.
    image = _lone_bright_voxel_case()
    common = dict(patch_size=(1, 9, 9), target_spacing=(3.0, 1.0, 1.0), overlap=0.0, postprocess=False)
    nearest = segment_with_predictor(_threshold_predictor(level), image, **common).array
    share = segment_with_predictor(_threshold_predictor(level), image, boundary_from_probabilities=True,
                                   **common).array
    assert (nearest[1, 4, 4] == 1) == lit_by_nearest and (share[1, 4, 4] == 1) == lit_by_share
    assert nearest.sum() == nearest[1, 4, 4] and share.sum() == share[1, 4, 4]  # nothing else lit


def test_boundary_from_probabilities_changes_nothing_without_resampling():
    rng = np.random.default_rng(3)
    hu = ndimage.gaussian_filter(rng.random((3, 10, 11)), 1.0).astype(np.float32)

    def predict(batch):
        x = (batch[..., 0] - 0.4) * 20
        return np.stack([1 / (1 + np.exp(x)), 0.7 / (1 + np.exp(-x)), 0.3 / (1 + np.exp(-x))], -1)

    common = dict(patch_size=(1, 5, 6), overlap=0.5, postprocess=False, lesion_threshold=0.25)
    a = segment_with_predictor((predict, 2, 1), Volume(hu, np.eye(4)), **common).array
    b = segment_with_predictor((predict, 2, 1), Volume(hu, np.eye(4)), boundary_from_probabilities=True,
                               **common).array
    assert 0 < (a == 2).sum() and 0 < (a == 0).sum()
    np.testing.assert_array_equal(a, b)
