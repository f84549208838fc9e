"""Per-tissue intensity randomisation (issue 18): each tissue moves by its own shift, tumours keep their contrast."""

import numpy as np
import pytest
import tensorflow as tf

from keras_liver.data import PatchSampler, build_ct_cache, load_store, patch_dataset
from keras_liver.data.augment import remap_tissues
from keras_liver.data.patch_sampler import split_tissue
from keras_liver.errors import ConfigError
from keras_liver.phantoms import Tissue, write_ct_dataset


def _blocks(shape=(7, 12, 18)):
    tissue = np.full(shape, int(Tissue.MUSCLE), np.uint8)
    tissue[:, :, :9] = Tissue.LIVER
    tissue[2:5, 3:8, 2:6] = Tissue.TUMOUR
    tissue[:, :2, 12:] = Tissue.AIR
    return tissue


def test_each_tissue_moves_by_one_shift_and_the_tumour_stays_near_the_liver():
    tissue = _blocks()
    image = np.full(tissue.shape + (1,), 100.0, np.float32)
    seen = []
    for k in range(6):
        seed = tf.constant([7, k], tf.int32)
        out = remap_tissues(tf.constant(image), tf.constant(tissue), seed, p=1.0, shift_hu=40.0,
                            tumour_delta_hu=5.0).numpy()[..., 0]
        again = remap_tissues(tf.constant(image), tf.constant(tissue), seed, p=1.0, shift_hu=40.0,
                              tumour_delta_hu=5.0).numpy()[..., 0]
        np.testing.assert_array_equal(out, again)  # stateless
        liver, muscle, tumour = out[3, 9, 1], out[3, 6, 15], out[3, 5, 4]  # voxels away from any border
        assert abs(liver - 100) <= 40 and abs(muscle - 100) <= 40
        assert abs(tumour - liver) <= 5 + 1e-4
        assert out[3, 0, 17] == 100.0  # air keeps its value
        seen.append((liver, muscle))
    assert len({round(float(v), 3) for v, _ in seen}) == 6  # every seed draws anew
    off = remap_tissues(tf.constant(image), tf.constant(tissue), tf.constant([7, 0]), p=0.0).numpy()
    np.testing.assert_array_equal(off, image)


def test_the_sampler_carries_tissue_in_the_label_and_the_pipeline_strips_it():
    tissue = _blocks()
    label = np.where(tissue == Tissue.LIVER, 1, 0).astype(np.uint8)
    label[tissue == Tissue.TUMOUR] = 2
    image = np.where(label > 0, 100.0, 40.0).astype(np.float32)
    sampler = PatchSampler([image], [label], (5, 8, 8), tissues=[tissue], seed=3)
    _, combined = sampler(4)
    lab, codes = split_tissue(combined)
    assert set(np.unique(lab)) <= {0, 1, 2} and set(np.unique(codes)) <= {0, int(Tissue.LIVER), int(Tissue.MUSCLE),
                                                                             int(Tissue.TUMOUR)}
    assert np.all((codes == Tissue.TUMOUR) == (lab == 2))
    plain = patch_dataset(PatchSampler([image], [label], (5, 8, 8), seed=3), 2, seed=1, count=4,
                          augment_options={"p_affine": 0.0, "p_noise": 0.0, "p_gamma": 0.0,
                                           "intensity_scale": (1, 1), "intensity_shift": 0.0})
    remapped = patch_dataset(sampler, 2, seed=1, count=4,
                             augment_options={"p_affine": 0.0, "p_noise": 0.0, "p_gamma": 0.0,
                                              "intensity_scale": (1, 1), "intensity_shift": 0.0,
                                              "tissue_remap": {"p": 1.0}})
    for (xa, ya), (xb, yb) in zip(plain, remapped):
        np.testing.assert_array_equal(ya["probabilities"].numpy(), yb["probabilities"].numpy())
        assert set(np.unique(yb["probabilities"].numpy())) <= {0, 1, 2}
        assert not np.allclose(xa["image"].numpy(), xb["image"].numpy())
    with pytest.raises(ConfigError, match="tissue map"):
        PatchSampler([image], [label], (5, 8, 8), tissues=[tissue[:, :, :5]])


def test_the_cache_holds_tissue_maps_of_variety_phantoms_and_asks_for_them(tmp_path):
    write_ct_dataset(tmp_path / "v", 2, seed=1, shape=(12, 40, 40), variety=True)
    store = build_ct_cache(tmp_path / "v", tmp_path / "v.h5", target_spacing=(6.0, 5.0, 5.0), tissue=True)
    ids, images, labels, tissues = load_store(store, tissue=True)
    for label, codes in zip(labels, tissues):
        assert codes.shape == label.shape
        assert np.all(np.isin(codes[label == 1], [Tissue.LIVER, Tissue.PORTAL_VEIN, Tissue.HEPATIC_VEIN]))
    write_ct_dataset(tmp_path / "plain", 1, seed=1, shape=(12, 40, 40))
    with pytest.raises(ConfigError, match="--variety"):
        build_ct_cache(tmp_path / "plain", tmp_path / "p.h5", tissue=True)


def test_a_config_with_tissue_remap_trains_on_variety_phantoms(tmp_path):
    from keras_liver.training import TrainConfig, build_data

    write_ct_dataset(tmp_path / "v", 3, seed=4, shape=(12, 40, 40), variety=True)
    config = TrainConfig.from_dict({"task": "ct_segmentation", "data": str(tmp_path / "v"), "model": "FusedUNet",
                                    "patch_size": [16, 16], "batch_size": 2, "val_fraction": 0.34,
                                    "augment_args": {"tissue_remap": {"p": 1.0}}, "seed": 0})
    (tmp_path / "run").mkdir()
    built = build_data(config, tmp_path / "run")
    assert built["steps"] > 0
    inputs, targets = next(iter(built["train"]))
    assert inputs["image"].shape == (2, 16, 16, 1)
    assert set(np.unique(targets["probabilities"].numpy())) <= {0, 1, 2}  # the tissue codes stripped


def test_mass_centred_patches_read_the_tissue_maps_without_the_remapping(tmp_path):
    from keras_liver.training import TrainConfig
    from keras_liver.training.datasets import ct_patch_samplers

    write_ct_dataset(tmp_path / "v", 3, seed=4, shape=(12, 48, 48), variety="extended")
    config = TrainConfig.from_dict({"task": "ct_segmentation", "data": str(tmp_path / "v"), "model": "FusedUNet",
                                    "patch_size": [16, 16], "batch_size": 2, "val_fraction": 0.34,
                                    "mass_fraction": 1.0, "tumour_fraction": 0.0, "seed": 0})
    samplers = ct_patch_samplers(config, tmp_path / "cache.h5")
    train = samplers["train"]
    assert train.tissues is None  # no remapping asked for: labels stay plain
    with_masses = [k for k, m in enumerate(train.masses) if len(m)]
    assert with_masses, "the extended phantoms should leave a mass inside the cached volume"
    case, centre, kind = next(c for c in (train.centre(np.random.default_rng([0, i])) for i in range(200))
                              if c[0] in with_masses)
    assert kind == "mass" and train.labels[case][tuple(centre)] == 0  # a mass is background
    assert samplers["val"].mass_fraction == 0.0
    image, label = train(0)
    assert set(np.unique(label)) <= {0, 1, 2}
    with pytest.raises(ConfigError, match="mass_fraction"):
        TrainConfig.from_dict({"task": "dce_segmentation", "data": "x", "model": "DCESegmenter", "mass_fraction": 0.2})
