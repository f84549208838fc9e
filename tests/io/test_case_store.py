import h5py
import numpy as np
import pytest

from keras_liver.errors import FileFormatError, GeometryError, MissingPathError
from keras_liver.io import CaseStore, CaseStoreWriter, Volume, load_volume


def _case(rng, shape=(5, 9, 11), origin=(1.0, 2.0, 3.0)):
    affine = np.diag([-0.7, -0.8, 2.5, 1.0])
    affine[:3, 3] = origin
    image = Volume(rng.integers(-1000, 1000, size=shape).astype(np.int16), affine, meta={"modality": "CT"})
    label = image.replace(rng.integers(0, 3, size=shape).astype(np.uint8))
    return image, label


def test_round_trip_and_lazy_region(tmp_path, rng):
    image, label = _case(rng)
    with CaseStoreWriter(tmp_path / "s.h5") as w:
        w.add("case-0", image, label, attrs={"n_tumours": 2})
    with CaseStore(tmp_path / "s.h5") as store:
        assert store.case_ids() == ["case-0"] and len(store) == 1
        assert store.keys("case-0") == ["image", "label"]
        assert store.attrs("case-0") == {"n_tumours": 2}
        back = store.read("case-0")
        np.testing.assert_array_equal(back.array, image.array)
        np.testing.assert_allclose(back.affine, image.affine)
        assert back.meta["modality"] == "CT"
        region = (slice(1, 4), slice(2, 7), slice(5, 11))
        patch = store.read_region("case-0", "label", region)
        np.testing.assert_array_equal(patch.array, label.array[region])
        # the patch stays in place in the world
        np.testing.assert_allclose(patch.world_coordinates((0, 0, 0)), image.world_coordinates((1, 2, 5)))
    with h5py.File(tmp_path / "s.h5") as f:
        ds = f["cases/case-0/image"]
        assert ds.chunks is not None and ds.compression == "gzip"


def test_append_keeps_existing_cases_in_order(tmp_path, rng):
    with CaseStoreWriter(tmp_path / "s.h5") as w:
        w.add("b", *_case(rng))
    with CaseStoreWriter(tmp_path / "s.h5", append=True) as w:
        w.add("a", _case(rng, (3, 4, 5))[0])
    with CaseStore(tmp_path / "s.h5") as store:
        assert store.case_ids() == ["b", "a"]
        assert store.shape("a") == (3, 4, 5)
        assert store.keys("a") == ["image"]
    assert load_volume(tmp_path / "s.h5", case="a", orientation=None).shape == (3, 4, 5)


def test_interrupted_write_leaves_old_store_intact(tmp_path, rng):
    image, label = _case(rng)
    with CaseStoreWriter(tmp_path / "s.h5") as w:
        w.add("keep", image, label)
    before = (tmp_path / "s.h5").read_bytes()
    with pytest.raises(RuntimeError, match="killed"):
        with CaseStoreWriter(tmp_path / "s.h5", append=True) as w:
            w.add("new", image, label)
            raise RuntimeError("killed")
    assert (tmp_path / "s.h5").read_bytes() == before
    assert sorted(p.name for p in tmp_path.iterdir()) == ["s.h5"]


def test_duplicate_case_and_mismatched_label_are_refused(tmp_path, rng):
    image, label = _case(rng)
    with pytest.raises(FileFormatError, match="already stored"):
        with CaseStoreWriter(tmp_path / "s.h5") as w:
            w.add("x", image)
            w.add("x", image)
    assert not (tmp_path / "s.h5").exists()
    with pytest.raises(GeometryError, match="label shape"):
        with CaseStoreWriter(tmp_path / "s.h5") as w:
            w.add("x", image, Volume(np.zeros((2, 2, 2), np.uint8)))


def test_missing_store_and_case_and_foreign_hdf5(tmp_path, rng):
    with pytest.raises(MissingPathError, match="no such case store"):
        CaseStore(tmp_path / "none.h5")
    with CaseStoreWriter(tmp_path / "s.h5") as w:
        w.add("x", _case(rng)[0])
    with CaseStore(tmp_path / "s.h5") as store, pytest.raises(MissingPathError, match="no case 'y'"):
        store.read("y")
    with h5py.File(tmp_path / "other.h5", "w") as f:
        f["data"] = np.zeros(3)
    with pytest.raises(FileFormatError, match="not a keras-liver case store"):
        CaseStore(tmp_path / "other.h5")
