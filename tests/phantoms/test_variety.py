"""Wider phantoms (issue 18): masses outside the liver stay background, shapes and disease change what they should."""

import dataclasses

import numpy as np
from scipy import ndimage

from keras_liver.cli.main import main
from keras_liver.io import find_lits_cases, load_volume
from keras_liver.phantoms import Tissue, Variety, ct_case

SHAPE = (30, 96, 104)
BASE = Variety(body_half_mm=(150.0, 110.0), fat_mm=20.0, arms="up", table=False)


def test_masses_outside_the_liver_are_background_with_tumour_like_attenuation():
    found = 0
    for seed in range(8):
        case = ct_case(seed, SHAPE, variety=True, n_tumours=2)
        masses = case.masses.array
        for mass in case.info["masses"]:
            inside = masses == mass["id"]
            assert inside.sum() == mass["voxels"] > 0
            assert not case.label.array[inside].any()  # never liver, never tumour
            assert np.all(case.tissue.array[inside] == Tissue.MASS)
            liver = case.info["hu"]["liver"]
            contrast = mass["hu"] - liver
            assert (mass["kind"] == "cyst" and 0 <= mass["hu"] <= 20) or abs(contrast) >= 15 or mass["hu"] >= 130
            found += 1
    assert found >= 4


def test_without_a_variety_the_case_has_none_and_a_variety_is_deterministic():
    plain, again = ct_case(3, SHAPE), ct_case(3, SHAPE, variety=None)
    np.testing.assert_array_equal(plain.image.array, again.image.array)
    assert plain.masses is None and "variety" not in plain.info["anatomy"]
    one, two = ct_case(3, SHAPE, variety=True), ct_case(3, SHAPE, variety=True)
    np.testing.assert_array_equal(one.image.array, two.image.array)
    assert not np.array_equal(one.image.array, plain.image.array)
    assert one.info["anatomy"]["variety"] == Variety.draw(np.random.default_rng([3, 18])).info()


def _liver_voxels(shape_name, seed=5, **changes):
    variety = dataclasses.replace(BASE, liver_shape=shape_name, **changes)
    return ct_case(seed, SHAPE, spacing=(8.0, 3.5, 3.5), variety=variety, n_tumours=0).label.array == 1


def test_liver_shapes_change_the_liver_as_named():
    normal = _liver_voxels("normal")
    assert _liver_voxels("hepatomegaly").sum() > 1.3 * normal.sum()
    assert _liver_voxels("atrophic_left").sum() < normal.sum()
    riedel = _liver_voxels("riedel")
    lowest = lambda m: int(np.nonzero(m.any(axis=(1, 2)))[0].min())  # noqa: E731 (slice 0 is inferior)
    assert lowest(riedel) < lowest(normal) and riedel.sum() > normal.sum()


def test_fatty_liver_is_under_40_hu_unenhanced_and_arms_and_table_lie_outside_the_body():
    for seed in range(6):
        fatty = ct_case(seed, SHAPE, phase="non-contrast", n_tumours=4,
                        variety=dataclasses.replace(BASE, liver_state="fatty"))
        liver = fatty.info["hu"]["liver"]
        assert liver <= 40
        for lesion in fatty.info["lesions"]:  # however dark the liver, its lesions stay visible
            assert abs(lesion["hu"] - liver) >= 15 - 1e-6, (seed, lesion["kind"], lesion["hu"], liver)
    armed = ct_case(2, SHAPE, spacing=(8.0, 4.5, 4.5), variety=dataclasses.replace(BASE, arms="side", table=True))
    plain = ct_case(2, SHAPE, spacing=(8.0, 4.5, 4.5), variety=BASE)
    tissue, bare = armed.tissue.array, plain.tissue.array
    assert (tissue == Tissue.TABLE).any() and not (bare == Tissue.TABLE).any()
    gained = (tissue != Tissue.AIR) & (bare == Tissue.AIR)  # only outside the body
    assert np.isin(tissue[gained], [Tissue.SKIN, Tissue.FAT, Tissue.MUSCLE, Tissue.BONE_CORTEX, Tissue.BONE_MARROW,
                                    Tissue.TABLE]).all()
    assert (tissue[gained] == Tissue.BONE_MARROW).any()  # a humerus on each side
    np.testing.assert_array_equal(armed.label.array, plain.label.array)


def test_metal_saturates_and_throws_streaks():
    case = ct_case(4, SHAPE, spacing=(6.0, 3.5, 3.5), variety=dataclasses.replace(BASE, metal="spine"))
    metal = case.tissue.array == Tissue.METAL
    assert metal.any() and case.image.array[metal].max() >= 2000
    assert case.info["metal_artefacts"]["rays"] >= 6
    calm = ct_case(4, SHAPE, spacing=(6.0, 3.5, 3.5), variety=BASE)
    z = int(np.nonzero(metal.any(axis=(1, 2)))[0][0])
    fat = (case.tissue.array[z] == Tissue.FAT) & (calm.tissue.array[z] == Tissue.FAT)
    change = case.image.array[z][fat].astype(float) - calm.image.array[z][fat]  # the same noise: streaks only
    assert change.std() > 15 and change.max() > 50 and change.min() < -50  # bright and dark rays


def test_the_cli_writes_masses_beside_each_case(tmp_path, capsys):
    assert main(["phantoms", "ct", "--cases", "3", "--seed", "2", "--shape", "20,64,64", "--variety",
                 "--out", str(tmp_path)]) == 0
    cases = find_lits_cases(tmp_path)
    assert len(cases) == 3
    masses = sorted(tmp_path.glob("masses-*.nii.gz"))
    assert masses
    for path in masses:
        n = path.name.split("-")[1].split(".")[0]
        seg = load_volume(tmp_path / f"segmentation-{n}.nii.gz").array
        assert not seg[load_volume(path).array > 0].any()
    assert main(["phantoms", "dce", "--cases", "1", "--variety", "--out", str(tmp_path / "d")]) != 0
    assert "--variety: for CT phantoms only" in capsys.readouterr().err


def test_hilar_masses_press_against_the_liver_and_stay_background():
    hilar = dataclasses.replace(BASE, hilar_masses=(("hypodense", 20.0), ("hyperdense", 15.0)), extra_seed=7)
    case = ct_case(2, (40, 128, 128), variety=hilar, spacing=(2.5, 2.5, 2.5))
    liver = case.label.array > 0
    placed = [m for m in case.info["masses"] if m["site"] == "hilar"]
    assert placed and [m["id"] for m in placed] == list(range(1, len(placed) + 1))
    for mass in placed:
        inside = case.masses.array == mass["id"]
        assert inside.sum() == mass["voxels"] > 0 and not liver[inside].any()
        # no gap: a voxel of the mass is face-adjacent to the liver
        assert (inside & ndimage.binary_dilation(liver)).any()
    # the same case without them: every other voxel as it was
    plain = ct_case(2, (40, 128, 128), variety=dataclasses.replace(hilar, hilar_masses=()), spacing=(2.5, 2.5, 2.5))
    outside = case.masses.array == 0
    assert np.array_equal(case.label.array, plain.label.array)
    assert np.abs(case.clean.array[outside] - plain.clean.array[outside]).max() < 1e-3


def test_a_stomach_with_food_holds_bowel_content_below_its_gas():
    fluid = ct_case(4, SHAPE, variety=BASE)
    food = ct_case(4, SHAPE, variety=dataclasses.replace(BASE, stomach_food=True))
    gained = (food.tissue.array == Tissue.BOWEL_CONTENT) & (fluid.tissue.array == Tissue.FLUID)
    assert gained.sum() > 50
    assert np.array_equal(food.tissue.array[~gained], fluid.tissue.array[~gained])
    plain, extended = (Variety.draw(np.random.default_rng([4, 18]), extended=e) for e in (False, True))
    assert not plain.hilar_masses and not plain.stomach_food  # --variety alone: the data sets made before them
    assert dataclasses.replace(extended, hilar_masses=(), stomach_food=False, extra_seed=0) == plain
