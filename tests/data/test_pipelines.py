import numpy as np
from scipy import ndimage
import pytest
import tensorflow as tf

from keras_liver.data import PatchSampler, augment_patch, build_ct_cache, dce_dataset, load_store, patch_dataset
from keras_liver.errors import ConfigError
from keras_liver.phantoms import write_ct_dataset


@pytest.fixture(scope="module")
def ct_store(tmp_path_factory):
    root = tmp_path_factory.mktemp("ct")
    write_ct_dataset(root / "ct", 3, seed=1, shape=(12, 40, 44))
    return build_ct_cache(root / "ct", root / "cache.h5", target_spacing=None, crop_margin_mm=None)


def test_cache_is_reused_until_settings_change(ct_store, tmp_path):
    before = ct_store.stat().st_mtime_ns
    again = build_ct_cache(ct_store.parent / "ct", ct_store, target_spacing=None, crop_margin_mm=None)
    assert again.stat().st_mtime_ns == before
    build_ct_cache(ct_store.parent / "ct", tmp_path / "c.h5", target_spacing=(6.0, 5.0, 5.0), crop_margin_mm=5.0)
    ids, images, labels = load_store(tmp_path / "c.h5")
    assert ids == ["0", "1", "2"] and images[0].dtype == np.int16 and labels[0].dtype == np.uint8
    assert images[0].shape == labels[0].shape


def test_patches_oversample_tumour_and_are_deterministic(ct_store):
    _, images, labels = load_store(ct_store)
    sampler = PatchSampler(images, labels, (5, 16, 17), seed=4)
    batches = list(patch_dataset(sampler, 8, seed=2, count=96).as_numpy_iterator())
    images_seen = np.concatenate([b[0]["image"] for b in batches])
    labels_seen = np.concatenate([b[1]["probabilities"] for b in batches])
    assert images_seen.shape == (96, 5, 16, 17, 1) and labels_seen.shape == (96, 5, 16, 17)
    with_tumour = (labels_seen.reshape(96, -1) == 2).any(axis=1).mean()
    assert with_tumour >= 1 / 3
    again = list(patch_dataset(sampler, 8, seed=2, count=96).as_numpy_iterator())
    for a, b in zip(batches, again):
        np.testing.assert_array_equal(a[0]["image"], b[0]["image"])
    other = next(patch_dataset(sampler, 8, seed=3, count=8).as_numpy_iterator())
    assert not np.array_equal(other[0]["image"], batches[0][0]["image"])
    shard0 = next(patch_dataset(sampler, 2, seed=2, count=4, shard=(0, 2)).as_numpy_iterator())[0]["image"]
    shard1 = next(patch_dataset(sampler, 2, seed=2, count=4, shard=(1, 2)).as_numpy_iterator())[0]["image"]
    assert not np.array_equal(shard0, shard1)
    np.testing.assert_array_equal(shard0[0], batches[0][0]["image"][0])


def test_augmentation_moves_image_and_label_together(rng):
    # label = 1 exactly where the image is bright; any geometric transform must keep that
    image = np.zeros((4, 24, 24, 1), np.float32)
    image[:, 3:10, 5:15] = 1000.0
    label = (image[..., 0] > 500).astype(np.uint8)
    for seed in range(8):
        aug_image, aug_label = augment_patch(tf.constant(image), tf.constant(label), tf.constant([seed, 7]),
                                             p_affine=0.0, noise_sigma=0.0, intensity_shift=0.0,
                                             intensity_scale=(1.0, 1.0), p_gamma=0.0)
        bright = aug_image.numpy()[..., 0] > 500
        np.testing.assert_array_equal(bright, aug_label.numpy() == 1)
    a = augment_patch(tf.constant(image), tf.constant(label), tf.constant([1, 2]))
    b = augment_patch(tf.constant(image), tf.constant(label), tf.constant([1, 2]))
    np.testing.assert_array_equal(a[0].numpy(), b[0].numpy())


def test_rotation_keeps_labels_integral_and_2d_patches_work():
    image = np.zeros((30, 30, 1), np.float32)
    label = np.zeros((30, 30), np.uint8)
    label[10:20, 8:22] = 2
    image[label == 2] = 100.0
    out_img, out_lab = augment_patch(tf.constant(image), tf.constant(label), tf.constant([0, 1]), spatial_dims=2,
                                     p_affine=1.0, rotate_degrees=15.0)
    assert out_img.shape == (30, 30, 1) and set(np.unique(out_lab.numpy())) <= {0, 2}
    assert abs(int((out_lab.numpy() == 2).sum()) - 140) < 60


def test_dce_dataset_batches_and_flips_labels_with_series(rng):
    series = rng.random((6, 3, 4, 8, 9)).astype(np.float32)
    labels = (series[:, 0] > 0.5).astype(np.uint8)
    series[:, :, :, :, :] += labels[:, None] * 10.0
    ds = dce_dataset(series, labels, 3, seed=1, target_keys=("probabilities", "mask"))
    x, y = next(iter(ds))
    assert x["sequence"].shape == (3, 3, 4, 8, 9, 1)
    bright = x["sequence"].numpy()[:, 0, ..., 0] > 5
    np.testing.assert_array_equal(bright, y["mask"].numpy() == 1)
    masks = np.stack([labels, 1 - labels], axis=-1)  # a classifier's masks: flipped with the series
    for seed in range(4):
        x, _ = next(iter(dce_dataset(series, np.zeros(6, np.int32), 6, seed=seed, masks=masks)))
        assert x["masks"].shape == (6, 4, 8, 9, 2)
        bright = x["sequence"].numpy()[:, 0, ..., 0] > 5
        np.testing.assert_array_equal(bright, x["masks"].numpy()[..., 1] == 0)  # the liver channel: flipped only
        lesion = x["masks"].numpy()[..., 0] == 1
        for b in range(6):  # the lesion channel: flipped, then maybe a voxel larger or smaller in plane
            same, grown = np.array_equal(lesion[b], bright[b]), np.array_equal(lesion[b], _grow(bright[b]))
            shrunk = np.array_equal(lesion[b], ~_grow(~bright[b]))
            assert same or grown or shrunk


def _grow(mask):
    return ndimage.binary_dilation(mask, np.ones((1, 3, 3), bool))


def test_jittered_lesion_masks_grow_or_shrink_by_one_voxel_in_plane():
    from keras_liver.data.pipelines import jitter_lesion_mask

    masks = np.zeros((3, 9, 9, 2), np.float32)
    masks[1, 3:6, 3:6, 0] = 1
    masks[..., 1] = 1 - masks[..., 0]
    seen = set()
    for k in range(40):
        out = jitter_lesion_mask(tf.constant(masks), tf.constant([0, k])).numpy()
        np.testing.assert_array_equal(out[..., 1], masks[..., 1])
        seen.add(int(out[..., 0].sum()))
    assert seen == {9, 25, 1}  # as it is, grown to 5 x 5, shrunk to its centre
    dot = np.zeros((3, 9, 9, 2), np.float32)
    dot[1, 4, 4, 0] = 1
    sums = {int(jitter_lesion_mask(tf.constant(dot), tf.constant([1, k])).numpy()[..., 0].sum()) for k in range(40)}
    assert sums == {1, 9}  # a one-voxel lesion is never erased


def test_lesion_crop_centres_the_largest_lesion():
    from keras_liver.data import lesion_crop

    label = np.zeros((10, 20, 22), np.uint8)
    label[2:4, 2:4, 2:4] = 2                 # small lesion
    label[5:8, 14:19, 15:20] = 2             # largest lesion, centre (6, 16, 17)
    series = np.stack([label * 1.0, label * 3.0]).astype(np.float32)
    crop, crop_label = lesion_crop(series, label, (4, 8, 8))
    assert crop.shape == (2, 4, 8, 8) and crop_label.shape == (4, 8, 8)
    assert crop_label[2, 4, 4] == 2 and crop[1, 2, 4, 4] == 6.0
    edge, _ = lesion_crop(series, label, (4, 30, 30))  # leaves the volume: padded
    assert edge.shape == (2, 4, 30, 30)


def test_series_patches_cut_every_frame_at_the_same_place_and_oversample_lesions(rng):
    # frame k of case c is the label map times (k + 1) plus c * 100: a patch is right
    # only if every frame was cut where its label was
    labels = np.zeros((2, 7, 19, 21), np.uint8)
    labels[:, 1:6, 3:15, 2:18] = 1
    labels[0, 2:4, 5:8, 9:12] = 2
    labels[1, 4:6, 10:13, 4:6] = 2
    series = np.stack([np.stack([labels[c] * (k + 1.0) + c * 100 for k in range(3)]) for c in range(2)])
    sampler = PatchSampler(list(series), list(labels), (3, 8, 9), tumour_fraction=0.5, seed=0)
    batches = list(patch_dataset(sampler, 4, seed=1, count=40, augment=False,
                                 output_keys=("probabilities", "mask")).as_numpy_iterator())
    x = np.concatenate([b[0]["sequence"] for b in batches])
    y = np.concatenate([b[1]["mask"] for b in batches])
    assert x.shape == (40, 3, 3, 8, 9, 1) and y.shape == (40, 3, 8, 9)
    case = (x[:, 0, ..., 0].max(axis=(1, 2, 3)) >= 100).astype(int)
    for k in range(3):
        np.testing.assert_allclose(x[:, k, ..., 0] - case[:, None, None, None] * 100, y * (k + 1.0))
    assert (y.reshape(40, -1) == 2).any(axis=1).mean() >= 0.4
    # augmented: flips move frames and labels together; the noise is 3 % of a frame's spread
    augmented = list(patch_dataset(sampler, 4, seed=1, count=40, output_keys=("mask",)).as_numpy_iterator())
    xa = np.concatenate([b[0]["sequence"] for b in augmented])
    ya = np.concatenate([b[1]["mask"] for b in augmented])
    assert not np.array_equal(xa, x)
    for k in range(3):
        np.testing.assert_allclose(xa[:, k, ..., 0] - case[:, None, None, None] * 100, ya * (k + 1.0), atol=0.5)


def test_series_sampler_rejects_a_label_that_does_not_match():
    with pytest.raises(ConfigError, match="case 0 has image"):
        PatchSampler([np.zeros((3, 4, 8, 8), np.float32)], [np.zeros((4, 8, 9), np.uint8)], (2, 4, 4))


def test_context_slices_are_channels_in_z_order_with_edges_repeated():
    # each voxel holds its slice number: the channels of a 2.5D patch must be the neighbouring slice numbers
    nz = 7
    image = np.broadcast_to(np.arange(nz, dtype=np.float32)[:, None, None], (nz, 9, 11)).copy()
    label = np.zeros((nz, 9, 11), np.uint8)
    label[np.arange(nz) % 2 == 1] = 1  # odd slices are "liver": the label must be the centre slice's
    sampler = PatchSampler([image], [label], (5, 6), foreground_fraction=0.0, seed=3, context_slices=2)
    plain = PatchSampler([image], [label], (5, 6), foreground_fraction=0.0, seed=3)
    seen = set()
    for i in range(40):
        img, lab = sampler(i)
        assert img.shape == (5, 6, 5) and lab.shape == (5, 6)
        centre = int(img[2, 3, 2])  # the patch's centre voxel is always inside the volume
        seen.add(centre)
        np.testing.assert_array_equal(img[2, 3], np.clip(np.arange(centre - 2, centre + 3), 0, nz - 1))
        assert lab[2, 3] == centre % 2
        np.testing.assert_array_equal(img[..., 2], plain(i)[0][..., 0])  # the centre channel is the plain patch
    assert {0, nz - 1} & seen  # the edges were drawn, so the repeat was exercised
    with pytest.raises(ConfigError, match="context_slices"):
        PatchSampler([image], [label], (3, 5, 6), context_slices=1)


def test_context_channels_are_augmented_alike_and_batched():
    nz = 5
    image = np.broadcast_to(np.arange(nz, dtype=np.float32)[:, None, None] * 10, (nz, 8, 8)).copy()
    label = np.ones((nz, 8, 8), np.uint8)
    sampler = PatchSampler([image], [label], (8, 8), seed=0, context_slices=1)
    ds = patch_dataset(sampler, 4, seed=1, augment=True, count=8,
                       augment_options={"p_gamma": 0.0, "p_noise": 0.0, "p_affine": 0.0, "rot90": False})
    images = np.concatenate([x["image"].numpy() for x, _ in ds])
    assert images.shape == (8, 8, 8, 3)
    # one scale and shift for all three channels: neighbour differences stay equal to each other
    d1, d2 = images[..., 1] - images[..., 0], images[..., 2] - images[..., 1]
    interior = np.abs(d1).min(axis=(1, 2)) > 0.5
    np.testing.assert_allclose(d1[interior], d2[interior], rtol=1e-4, atol=1e-3)


def test_the_resolution_augmentation_blurs_the_image_but_not_the_label(rng):
    image = rng.normal(0, 50, (4, 24, 24, 2)).astype(np.float32)  # 3D patch; channel 1 is not intensity
    label = (rng.random((4, 24, 24)) < 0.3).astype(np.uint8)
    off = dict(flip_axes=[], rot90=False, p_affine=0.0, intensity_scale=(1, 1), intensity_shift=0.0, p_gamma=0.0,
               p_noise=0.0)
    seed = tf.constant([1, 2])
    same, same_label = augment_patch(image, label, seed, **off)
    coarse, coarse_label = augment_patch(image, label, seed, p_lowres=1.0, lowres_range=(3.0, 3.0), **off)
    np.testing.assert_allclose(same.numpy(), image, atol=1e-5)
    np.testing.assert_array_equal(coarse_label.numpy(), label)
    np.testing.assert_array_equal(coarse.numpy()[..., 1], image[..., 1])  # only the intensity channel
    out = coarse.numpy()[..., 0]
    assert out.std() < 0.6 * image[..., 0].std()  # white noise averaged over about 3 x 3 pixels
    np.testing.assert_allclose(out.mean(), image[..., 0].mean(), atol=2.0)  # area averaging keeps the level
    flat, _ = augment_patch(image[0], label[0], seed, spatial_dims=2, p_lowres=1.0, **off)  # 2D works too
    assert flat.shape == image[0].shape


def test_thicker_slices_blur_through_plane_only(rng):
    image = np.repeat(rng.normal(0, 50, (9, 1, 1, 1)), 20, axis=1).repeat(22, axis=2).astype(np.float32)
    label = np.zeros((9, 20, 22), np.uint8)
    off = dict(flip_axes=[], rot90=False, p_affine=0.0, intensity_scale=(1, 1), intensity_shift=0.0, p_gamma=0.0,
               p_noise=0.0)
    thick, _ = augment_patch(image, label, tf.constant([3, 4]), p_thick=1.0, thick_range=(3.0, 3.0), **off)
    out = thick.numpy()[..., 0]
    np.testing.assert_allclose(out, out[:, :1, :1].repeat(20, 1).repeat(22, 2), atol=1e-4)  # each slice stays flat
    assert np.abs(np.diff(out[:, 0, 0])).sum() < 0.7 * np.abs(np.diff(image[:, 0, 0, 0])).sum()  # z is smoother
    flat, _ = augment_patch(image[0], label[0], tf.constant([3, 4]), spatial_dims=2, p_thick=1.0, **off)
    np.testing.assert_allclose(flat.numpy(), image[0], atol=1e-5)  # a 2D patch has no slices to thicken


def test_thicker_slices_blur_the_context_slices_of_a_2_5d_patch_and_leave_the_rest(rng):
    # 7 context slices, each flat in plane, then one channel that is not intensity (a HOG map)
    slices = rng.normal(0, 50, 7).astype(np.float32)
    image = np.concatenate([np.broadcast_to(slices, (20, 22, 7)), rng.normal(0, 1, (20, 22, 1))], -1)
    image = image.astype(np.float32)
    label = np.zeros((20, 22), np.uint8)
    off = dict(flip_axes=[], rot90=False, p_affine=0.0, intensity_scale=(1, 1), intensity_shift=0.0, p_gamma=0.0,
               p_noise=0.0)
    thick, _ = augment_patch(image, label, tf.constant([3, 4]), spatial_dims=2, hu_channels=7, p_thick=1.0,
                             thick_range=(2.5, 2.5), **off)
    out = thick.numpy()
    np.testing.assert_array_equal(out[..., 7], image[..., 7])
    np.testing.assert_allclose(out[..., :7], np.broadcast_to(out[:1, :1, :7], (20, 22, 7)), atol=1e-4)  # flat
    assert np.abs(np.diff(out[0, 0, :7])).sum() < 0.7 * np.abs(np.diff(slices)).sum()  # z is smoother
    np.testing.assert_allclose(out[0, 0, :7].mean(), slices.mean(), atol=15.0)  # area averaging keeps the level
    one, _ = augment_patch(image[..., :1], label, tf.constant([3, 4]), spatial_dims=2, p_thick=1.0, **off)
    np.testing.assert_allclose(one.numpy(), image[..., :1], atol=1e-5)  # one slice: nothing to thicken


def test_textured_noise_keeps_its_level_and_correlates_neighbours():
    image = np.zeros((6, 40, 40, 1), np.float32)
    label = np.zeros((6, 40, 40), np.uint8)
    off = dict(flip_axes=[], rot90=False, p_affine=0.0, intensity_scale=(1, 1), intensity_shift=0.0, p_gamma=0.0)
    levels = {}
    for texture in (0.0, 1.0):
        out = augment_patch(image, label, tf.constant([5, 6]), noise_sigma=20.0, p_noise=1.0, p_texture=texture,
                            **off)[0].numpy()[1:-1, 2:-2, 2:-2, 0]  # away from the pooling's border
        neighbour = np.corrcoef(out[:, :, :-1].ravel(), out[:, :, 1:].ravel())[0, 1]
        levels[texture] = (out.std(), neighbour)
    assert abs(levels[0.0][1]) < 0.05 and levels[1.0][1] > 0.5  # white, then grain over neighbouring pixels
    np.testing.assert_allclose(levels[1.0][0], levels[0.0][0], rtol=0.15)  # the same standard deviation


def test_the_bias_field_is_smooth_and_bounded():
    image = np.full((5, 32, 30, 1), 60.0, np.float32)
    label = np.zeros((5, 32, 30), np.uint8)
    off = dict(flip_axes=[], rot90=False, p_affine=0.0, intensity_scale=(1, 1), intensity_shift=0.0, p_gamma=0.0,
               p_noise=0.0)
    fields = []
    for k in range(6):
        out = augment_patch(image, label, tf.constant([7, k]), p_bias=1.0, bias_hu=25.0, **off)[0].numpy()[..., 0]
        field = out - 60.0
        assert np.abs(field).max() <= 25.0 + 1e-3 and np.abs(field).max() > 1.0
        assert np.abs(np.diff(field, axis=2)).max() < 25.0 * 4 / 29  # smooth: a few HU per pixel at most
        fields.append(field)
    assert np.std([f.mean() for f in fields]) > 0.1 or np.std([f[0, 0, 0] for f in fields]) > 1.0  # random per seed
    np.testing.assert_allclose(augment_patch(image, label, tf.constant([7, 0]), **off)[0].numpy(), image)  # off


def test_hard_negative_patches_centre_on_liver_voxels_unlike_the_liver():
    rng = np.random.default_rng(2)
    label = np.zeros((9, 30, 31), np.uint8)
    label[1:8, 4:26, 3:27] = 1
    image = rng.normal(100, 4, label.shape).astype(np.float32)  # a 100 HU liver
    image[label == 0] = -100
    image[2:7, 14:17, 5:25] = 180  # a bright vessel inside the liver, labelled liver
    sampler = PatchSampler([image], [label], (5, 5), tumour_fraction=0.0, hard_fraction=1.0, seed=1)
    centres = [sampler.centre(np.random.default_rng([1, i])) for i in range(40)]
    assert {kind for _, _, kind in centres} == {"hard"}
    for _, (z, y, x), _ in centres:
        assert label[z, y, x] == 1 and 13 <= y <= 17  # on the vessel or its rim, never plain liver
    # without hard negatives the draws are the ones they always were
    plain = PatchSampler([image], [label], (5, 5), tumour_fraction=0.0, seed=1)
    assert plain.hard == [] and {plain.centre(np.random.default_rng([1, i]))[2] for i in range(40)} <= {"liver", "any"}
    with pytest.raises(ConfigError, match="hard_fraction"):
        PatchSampler([image], [label], (5, 5), hard_fraction=1.5)
    with pytest.raises(ConfigError, match="hard_fraction"):
        PatchSampler([np.zeros((3, 4, 8, 9), np.float32)], [np.zeros((4, 8, 9), np.uint8)], (2, 4, 4),
                     hard_fraction=0.2)


def test_outside_patches_centre_just_beside_the_liver_also_in_series():
    label = np.zeros((7, 30, 31), np.uint8)
    label[1:6, 8:20, 6:24] = 1
    label[3, 10:12, 10:12] = 2
    series = np.zeros((4,) + label.shape, np.float32)  # a DCE series: leading time axis
    sampler = PatchSampler([series], [label], (3, 5, 5), tumour_fraction=0.0, outside_fraction=1.0,
                           outside_voxels=2, seed=3)
    centres = [sampler.centre(np.random.default_rng([3, i])) for i in range(60)]
    assert {kind for _, _, kind in centres} == {"outside"}
    distance = ndimage.distance_transform_cdt(label == 0, metric="chessboard")
    for _, (z, y, x), _ in centres:
        assert label[z, y, x] == 0 and 1 <= distance[z, y, x] <= 2  # background, at most 2 voxels out
    image, lab = sampler(0)
    assert image.shape == (4, 3, 5, 5, 1) and lab.shape == (3, 5, 5)
    with pytest.raises(ConfigError, match="outside_fraction"):
        PatchSampler([series], [label], (3, 5, 5), outside_fraction=0.5, outside_voxels=0)


def test_mass_patches_centre_on_the_masses_and_fall_back_in_cases_without():
    label = np.zeros((5, 21, 23), np.uint8)
    label[1:4, 3:12, 3:12] = 1
    mass = np.zeros(label.shape, bool)
    mass[2, 13:15, 4:6] = True  # 4 voxels against the liver, labelled background
    image = np.zeros(label.shape, np.float32)
    sampler = PatchSampler([image, image], [label, label], (3, 5, 5), tumour_fraction=0.0, mass_fraction=0.5,
                           foreground_fraction=1.0, masses=[mass, None], seed=1)
    centres = [sampler.centre(np.random.default_rng([1, i])) for i in range(300)]
    kinds = {}
    for case, centre, kind in centres:
        kinds.setdefault((case, kind), 0)
        kinds[(case, kind)] += 1
        if kind == "mass":
            assert case == 0 and mass[tuple(centre)]
    assert set(kinds) == {(0, "mass"), (0, "liver"), (1, "liver")}  # the case without masses: liver draws
    assert 0.35 < kinds[(0, "mass")] / (kinds[(0, "mass")] + kinds[(0, "liver")]) < 0.65
    plain = PatchSampler([image], [label], (3, 5, 5), tumour_fraction=0.0, seed=1)
    # off by default, and then the draws are the same as before the option existed
    assert [plain.centre(np.random.default_rng([1, i]))[1].tolist() for i in range(20)] == \
        [PatchSampler([image], [label], (3, 5, 5), tumour_fraction=0.0, seed=1, masses=[mass])
         .centre(np.random.default_rng([1, i]))[1].tolist() for i in range(20)]
    with pytest.raises(ConfigError, match="mass_fraction"):
        PatchSampler([image], [label], (3, 5, 5), mass_fraction=0.5)
    with pytest.raises(ConfigError, match="mass map"):
        PatchSampler([image], [label], (3, 5, 5), mass_fraction=0.5, masses=[mass[:, :5]])


def test_lesion_sampling_draws_small_lesions_as_often_as_large_ones():
    label = np.ones((12, 40, 40), np.uint8)
    label[1:11, 2:30, 2:30] = 2  # a big lesion: 7,840 voxels
    label[5:7, 34:36, 34:36] = 2  # a small one: 8 voxels
    image = np.zeros(label.shape, np.float32)
    by_voxel = PatchSampler([image], [label], (3, 5, 5), tumour_fraction=1.0, seed=0)
    by_lesion = PatchSampler([image], [label], (3, 5, 5), tumour_fraction=1.0, seed=0, tumour_sampling="lesion")
    assert len(by_lesion.lesions) == 2 and sorted(len(v) for _, v in by_lesion.lesions) == [8, 7840]

    def small_share(sampler):
        centres = [sampler.centre(np.random.default_rng([0, i]))[1] for i in range(400)]
        assert all(label[tuple(c)] == 2 for c in centres)
        return np.mean([c[1] >= 34 for c in centres])

    assert small_share(by_voxel) < 0.02
    assert 0.4 < small_share(by_lesion) < 0.6
    with pytest.raises(ConfigError, match="tumour_sampling"):
        PatchSampler([image], [label], (3, 5, 5), tumour_sampling="case")


def test_tumour_jitter_places_a_one_voxel_lesion_anywhere_in_its_patch_but_never_outside():
    label = np.ones((9, 23, 21), np.uint8)
    label[4, 11, 10] = 2  # one lesion voxel
    series = np.zeros((3,) + label.shape, np.float32)
    patch = (7, 11, 9)  # odd sizes: half the patch minus one voxel is 2, 4, 3

    def positions(jitter):
        sampler = PatchSampler([series], [label], patch, tumour_fraction=1.0, tumour_sampling="lesion",
                               tumour_jitter=jitter, seed=3)
        out = []
        for i in range(300):
            image, lab = sampler(i)
            assert image.shape == (3,) + patch + (1,)
            hits = np.argwhere(lab == 2)
            assert len(hits) == 1  # the lesion is in every tumour patch
            out.append(hits[0])
        return np.array(out)

    centred = positions(0.0)
    assert (centred == np.array(patch) // 2).all()
    spread = positions(1.0)
    np.testing.assert_array_equal(spread.min(0), np.array(patch) // 2 - (2, 4, 3))  # every offset reached
    np.testing.assert_array_equal(spread.max(0), np.array(patch) // 2 + (2, 4, 3))
    half = positions(0.5)  # floor(0.5 * (2, 4, 3)) = (1, 2, 1)
    np.testing.assert_array_equal(np.abs(half - np.array(patch) // 2).max(0), (1, 2, 1))
    with pytest.raises(ConfigError, match="tumour_jitter"):
        PatchSampler([series], [label], patch, tumour_jitter=1.5)


@pytest.mark.parametrize("spatial", [(3, 5, 7), (5, 7)])
def test_series_augmentation_flips_series_and_label_together(spatial):
    import tensorflow as tf

    from keras_liver.data import augment_series

    rng = np.random.default_rng(0)
    label = rng.integers(0, 3, spatial).astype(np.uint8)
    series = np.repeat(label[None].astype(np.float32), 4, axis=0)[..., None] * 100.0  # every frame = label * 100
    seen = set()
    for k in range(12):
        out, lab = augment_series(tf.constant(series), tf.constant(label), tf.constant([k, 1], tf.int32))
        out, lab = out.numpy(), lab.numpy()
        assert out.shape == series.shape and lab.shape == label.shape
        np.testing.assert_allclose(np.round(out[0, ..., 0] / 100.0), lab)  # still aligned (noise is 3 % of std)
        flips = tuple(np.array_equal(lab, np.flip(label, axes)) for axes in ((-1,), (-2,), (-2, -1)))
        seen.add(flips)
    assert len(seen) > 1  # the flips do happen
