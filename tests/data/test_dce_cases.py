"""DCE series prepared for training: baseline normalisation, liver boxes, one crop per lesion."""

import json

import numpy as np
import pytest

from keras_liver.data import baseline_normalize, crop_centred, lesion_mask_crops, load_dce_cases, load_lesion_crops
from keras_liver.errors import ConfigError, ImageValueError, MissingPathError
from keras_liver.io import load_volume
from keras_liver.phantoms import LESION_CLASSES, write_dce_dataset


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("dce") / "series"
    write_dce_dataset(out, 6, seed=3, balanced=True, shape=(7, 24, 20), n_frames=4)
    return out


def test_baseline_normalisation_uses_the_first_frame_for_every_frame():
    series = np.stack([np.full((2, 3, 4), 10.0), np.full((2, 3, 4), 30.0)]).astype(np.float32)
    series[0, 0, 0, 0] = 20.0
    out = baseline_normalize(series)
    base = series[0]
    np.testing.assert_allclose(out, (series - base.mean()) / (base.std() + 1e-6), rtol=1e-5)
    assert out[1].mean() > out[0].mean() + 9  # enhancement kept (20 units over a baseline std of 2.04)
    with pytest.raises(ConfigError, match="series"):
        baseline_normalize(series[0])


def test_cases_are_cropped_to_their_liver_and_resampled(folder):
    cases = load_dce_cases(folder, crop_margin_mm=0.0, target_spacing=None)
    for n, image, label in zip(cases["ids"], cases["series"], cases["labels"]):
        truth = load_volume(folder / f"dce-seg-{n}.nii.gz").array
        assert image.shape[1:] == label.shape and label.sum() > 0
        assert (label > 0).sum() == (truth > 0).sum()  # the whole liver, nothing cut
        assert label.shape <= truth.shape and all(np.any(label > 0, axis=a).any() for a in range(3))
    from keras_liver.preprocess.spatial import resampled_shape

    coarse = load_dce_cases(folder, target_spacing=(40.0, 30.0, 30.0))
    for image, label, spacing in zip(coarse["series"], coarse["labels"], coarse["spacings"]):
        assert image.shape[1:] == label.shape == resampled_shape((7, 24, 20), spacing, (40.0, 30.0, 30.0))


def test_every_lesion_gets_its_own_crop_and_class(folder):
    crops = load_lesion_crops(folder, (3, 7, 7))
    assert crops["series"].shape[1:] == (4, 3, 7, 7) and len(crops["case_ids"]) == 6
    n_lesions = sum(len(json.loads((folder / f"dce-{n}.json").read_text())["lesions"]) for n in crops["case_ids"])
    assert len(crops["cases"]) == n_lesions >= 6
    assert crops["masks"].shape == (len(crops["cases"]), 3, 7, 7, 2) and crops["masks"].dtype == np.uint8
    for case, lesion, lab, cls, diameter, masks in zip(crops["cases"], crops["lesion_ids"], crops["labels"],
                                                       crops["classes"], crops["diameters_mm"], crops["masks"]):
        np.testing.assert_array_equal(masks[..., 1], lab == 1)  # the liver parenchyma
        assert masks[..., 0].any() and np.all(lab[masks[..., 0] > 0] == 2)  # its own lesion, inside the lesion label
        sidecar = {r["id"]: r for r in json.loads((folder / f"dce-{case}.json").read_text())["lesions"]}
        assert LESION_CLASSES[cls] == sidecar[lesion]["class"]
        assert diameter == pytest.approx(sidecar[lesion]["diameter_mm"], rel=1e-6)
        assert lab[1, 3, 3] == 2 or (lab == 2).any()  # a lesion at (or next to) the crop's centre
    with pytest.raises(MissingPathError, match="lesion-id map"):
        (folder / "dce-0.json").rename(folder / "moved.json")
        try:
            load_lesion_crops(folder, (3, 7, 7))
        finally:
            (folder / "moved.json").rename(folder / "dce-0.json")


def test_crops_own_their_memory():
    from keras_liver.data import lesion_crop
    from keras_liver.data import lesion_crops

    series = np.zeros((3, 6, 10, 10), np.float32)
    label = np.zeros((6, 10, 10), np.uint8)
    label[2:4, 3:6, 3:6] = 2
    crop, lab = lesion_crop(series, label, (2, 4, 4))
    assert crop.base is None and lab.base is None  # not views into a padded copy of the whole series
    (one,) = lesion_crops(series, (label == 2).astype(np.int32), (2, 4, 4))
    assert one.base is None and one.shape == (3, 2, 4, 4)


@pytest.mark.parametrize("mode", ["edge", "constant"])
def test_a_centred_crop_equals_padding_the_whole_array_then_slicing(mode, rng):
    from keras_liver.data import crop_centred

    array = rng.normal(size=(2, 5, 7, 6)).astype(np.float32)
    size = (4, 5, 9)
    whole = np.pad(array, [(0, 0)] + [(s, s) for s in size], mode=mode)
    for centre in [(0, 0, 0), (4, 6, 5), (2.4, 3.6, 0.2), (1, 6, 3)]:
        start = [int(round(c)) - s // 2 + s for c, s in zip(centre, size)]
        want = whole[(slice(None),) + tuple(slice(a, a + s) for a, s in zip(start, size))]
        got = crop_centred(array, centre, size, mode=mode)
        np.testing.assert_array_equal(got, want)


def test_lesion_mask_crops_keep_each_lesion_apart_from_its_neighbour():
    instance = np.zeros((5, 9, 11), np.int32)
    instance[2, 3:5, 3:5] = 1
    instance[2, 3:5, 6:8] = 2  # a neighbour inside the first lesion's crop
    liver = np.zeros_like(instance, bool)
    liver[:, :, :9] = True
    liver[instance > 0] = False
    first, second = lesion_mask_crops(instance, liver, (3, 5, 7))
    assert first.shape == (3, 5, 7, 2) and first.dtype == np.uint8
    assert first[..., 0].sum() == 4 and second[..., 0].sum() == 4  # only its own voxels
    np.testing.assert_array_equal(first[1, 1:3, 2:4, 0], 1)  # centred: lesion 1 at the crop's middle
    np.testing.assert_array_equal(first[..., 1], crop_centred(liver, (2, 3.5, 3.5), (3, 5, 7), mode="constant"))
    with pytest.raises(ImageValueError, match="liver: shape"):
        lesion_mask_crops(instance, liver[:2], (3, 5, 7))


def test_register_frames_leaves_the_labelled_frame_and_moves_the_others_back_to_it(folder):
    plain = load_dce_cases(folder, normalize=False)
    aligned = load_dce_cases(folder, normalize=False, register_frames=True)
    moved = 0
    for n, raw, out in zip(plain["ids"], plain["series"], aligned["series"]):
        reference = json.loads((folder / f"dce-{n}.json").read_text())["parameters"]["reference_frame"]
        np.testing.assert_array_equal(out[reference], raw[reference])  # the labels' frame stays put
        assert out.shape == raw.shape
        moved += int(not np.allclose(out, raw))
    assert moved == len(plain["ids"])  # every phantom breathes
    sidecar = folder / f"dce-{plain['ids'][0]}.json"
    saved = sidecar.read_text()
    try:
        info = json.loads(saved)
        info["parameters"]["reference_frame"] = 9
        sidecar.write_text(json.dumps(info))
        with pytest.raises(ConfigError, match="reference_frame 9 is not one of the 4 frames"):
            load_dce_cases(folder, register_frames=True)
    finally:
        sidecar.write_text(saved)
