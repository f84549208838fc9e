import numpy as np
import pytest
from scipy import ndimage

from keras_liver.io import load_case
from keras_liver.phantoms import HU_RANGES, ct_case, write_ct_dataset

SHAPE = (13, 48, 45)


def test_same_seed_same_case_and_different_seed_differs():
    a, b, c = ct_case(3, SHAPE), ct_case(3, SHAPE), ct_case(4, SHAPE)
    np.testing.assert_array_equal(a.image.array, b.image.array)
    np.testing.assert_array_equal(a.label.array, b.label.array)
    assert a.info == b.info
    assert not np.array_equal(a.image.array, c.image.array)


@pytest.mark.parametrize("seed", [0, 1, 2, 7])
def test_labels_are_anatomically_plausible(seed):
    case = ct_case(seed, SHAPE)
    label, clean = case.label.array, case.clean.array
    assert case.image.array.dtype == np.int16 and label.dtype == np.uint8
    assert set(np.unique(label)) <= {0, 1, 2}
    assert (label == 1).sum() > 500
    # no label on air, lung or fat: everything labelled is soft tissue
    assert clean[label > 0].min() > -200
    # every tumour component touches the liver, and the liver is in the patient's right half (low x in LPS)
    comps, n = ndimage.label(label == 2)
    for k in range(1, n + 1):
        grown = ndimage.binary_dilation(comps == k, iterations=1)
        assert (label[grown] == 1).any()
    liver_x = np.argwhere(label == 1)[:, 2].mean()
    assert liver_x < SHAPE[2] / 2


def test_no_tumour_case_and_tumour_count():
    assert not (ct_case(5, SHAPE, n_tumours=0).label.array == 2).any()
    case = ct_case(5, (24, 96, 96), n_tumours=4)
    assert 1 <= len(case.info["lesions"]) <= 4
    for lesion in case.info["lesions"]:
        assert 5 <= lesion["diameter_mm"] <= 80
        assert lesion["kind"] in ("hypodense", "hyperdense", "cyst")


def test_intensities_lie_in_declared_ranges():
    case = ct_case(11, (20, 64, 64), n_tumours=0, noise_sigma=15.0)
    hu = case.info["hu"]
    for tissue, (lo, hi) in HU_RANGES.items():
        assert lo <= hu[tissue.name.lower()] <= hi
    liver_clean = case.clean.array[case.label.array == 1]
    # liver voxels (minus a few vessels) sit at the drawn liver HU, within texture amplitude
    assert abs(np.median(liver_clean) - hu["liver"]) < 6
    # the noise has the requested sigma: image minus the blurred clean image
    sig = case.info["blur_sigma_voxels"]
    residual = case.image.array - ndimage.gaussian_filter(case.clean.array, sig, mode="nearest")
    assert abs(residual.std() - 15.0) < 1.0
    assert case.image.spacing[1] == pytest.approx(case.image.spacing[2])
    assert 0.7 <= case.image.spacing[0] <= 5.0


def test_tumour_intensity_by_kind():
    case = ct_case(21, (24, 96, 96), n_tumours=6)
    for lesion in case.info["lesions"]:
        if lesion["kind"] == "hypodense":
            assert 30 <= lesion["hu"] <= 90 and lesion["hu"] < case.info["hu"]["liver"]
        elif lesion["kind"] == "hyperdense":
            assert 130 <= lesion["hu"] <= 190 and lesion["hu"] >= case.info["hu"]["liver"] + 20 - 0.1
        else:
            assert 0 <= lesion["hu"] <= 20


def test_written_dataset_reads_back_identically(tmp_path):
    write_ct_dataset(tmp_path, 3, seed=40, shape=SHAPE)
    for n in range(3):
        case = ct_case(40 + n, SHAPE)
        image, label = load_case(tmp_path / f"volume-{n}.nii.gz", tmp_path / f"segmentation-{n}.nii.gz")
        np.testing.assert_array_equal(image.array, case.image.array)
        np.testing.assert_array_equal(label.array, case.label.array)
        np.testing.assert_allclose(image.affine, case.image.affine, atol=1e-5)
        assert image.meta["source_orientation"] == case.info["file_orientation"]
    assert (tmp_path / "cases.json").is_file()


def test_dataset_writing_cleans_stale_temporaries_and_never_leaves_a_volume_alone(tmp_path, monkeypatch):
    import pytest

    from keras_liver.phantoms import datasets

    out = tmp_path / "ct"
    out.mkdir()
    for name in (".volume-0.nii.gz.k3j2x9", ".cases.json.a1b2c3", ".keep"):  # two left by a kill, one not ours
        (out / name).write_text("x")
    real = datasets.write_nifti

    def killed_at_the_second_volume(volume, path):
        if path.name == "volume-1.nii.gz":
            raise KeyboardInterrupt  # as if killed between the label and the image of case 1
        return real(volume, path)

    monkeypatch.setattr(datasets, "write_nifti", killed_at_the_second_volume)
    with pytest.raises(KeyboardInterrupt):
        datasets.write_ct_dataset(out, 3, shape=(6, 24, 24))
    volumes = sorted(p.name for p in out.glob("volume-*"))
    assert volumes == ["volume-0.nii.gz"]  # case 1 is not visible: its volume was never renamed into place
    assert all((out / v.replace("volume", "segmentation")).exists() for v in volumes)
    assert not (out / ".volume-0.nii.gz.k3j2x9").exists() and not (out / ".cases.json.a1b2c3").exists()
    assert (out / ".keep").exists()


def test_the_tissue_map_explains_the_label():
    from keras_liver.phantoms.anatomy import LIVER_LABEL_TISSUES, Tissue

    case = ct_case(7, (12, 48, 48), n_tumours=3)
    tissue, label = case.tissue.array, case.label.array
    assert tissue.shape == label.shape and np.allclose(case.tissue.affine, case.label.affine)
    np.testing.assert_array_equal(label == 1, np.isin(tissue, LIVER_LABEL_TISSUES))
    assert np.all(np.isin(tissue[label == 2], [Tissue.TUMOUR, Tissue.TUMOUR_CORE, Tissue.TUMOUR_RIM]))


def test_every_phase_keeps_the_anatomy_and_moves_the_contrast():
    from keras_liver.phantoms.anatomy import Tissue
    from keras_liver.phantoms.ct import PHASE_HU, PHASES

    cases = {phase: ct_case(21, (24, 96, 96), n_tumours=6, phase=phase) for phase in PHASES}
    portal = cases["portal-venous"]
    np.testing.assert_array_equal(portal.image.array, ct_case(21, (24, 96, 96), n_tumours=6).image.array)
    for phase, case in cases.items():
        assert case.image.meta["phase"] == case.info["phase"] == phase
        np.testing.assert_array_equal(case.label.array, portal.label.array)  # same seed, same anatomy
        for tissue, (lo, hi) in {**HU_RANGES, **PHASE_HU[phase]}.items():
            assert lo <= case.info["hu"][tissue.name.lower()] <= hi, (phase, tissue)
    hu = {phase: case.info["hu"] for phase, case in cases.items()}
    # unenhanced blood is darker than the liver; in the arterial phase the aorta outshines the portal phase
    assert hu["non-contrast"]["aorta"] < hu["non-contrast"]["liver"] + 10
    assert hu["arterial"]["aorta"] > hu["portal-venous"]["aorta"]
    assert Tissue.LIVER in PHASE_HU["delayed"]


def test_hypervascular_lesions_enhance_in_the_arterial_phase_and_wash_out_later():
    seen = 0
    for seed in range(20, 40):
        by_phase = {p: ct_case(seed, (24, 96, 96), n_tumours=6, phase=p) for p in ("arterial", "delayed", "non-contrast")}
        for n, lesion in enumerate(by_phase["arterial"].info["lesions"]):
            if lesion["kind"] != "hyperdense":
                continue
            seen += 1
            liver = {p: c.info["hu"]["liver"] for p, c in by_phase.items()}
            assert lesion["hu"] >= liver["arterial"] + 40 - 0.1
            assert by_phase["delayed"].info["lesions"][n]["hu"] <= liver["delayed"] - 10 + 0.1
            assert by_phase["non-contrast"].info["lesions"][n]["hu"] < liver["non-contrast"]
        for case in by_phase.values():
            for lesion in case.info["lesions"]:
                assert lesion["hu"] >= 0 and (lesion["kind"] == "cyst" or lesion["hu"] >= 10 - 0.1)
        if seen >= 2:
            break
    assert seen >= 2


def test_mixed_phase_draws_every_phase_and_bad_phase_is_refused():
    from keras_liver.phantoms.ct import PHASES, ct_phase

    drawn = [ct_phase(seed, "mixed") for seed in range(120)]
    assert set(drawn) == set(PHASES)
    assert drawn.count("portal-venous") > drawn.count("arterial")
    assert ct_case(3, SHAPE, phase="mixed").info["phase"] == ct_phase(3, "mixed")
    with pytest.raises(ValueError, match="phase"):
        ct_case(3, SHAPE, phase="venous")
