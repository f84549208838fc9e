"""Small phantom data sets shared by the training tests (made once per session)."""

import pytest

from keras_liver.phantoms import write_ct_dataset, write_dce_dataset


@pytest.fixture(scope="session")
def ct_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "ct"
    write_ct_dataset(folder, 3, seed=0, shape=(12, 40, 40))
    return folder


@pytest.fixture(scope="session")
def dce_folder(tmp_path_factory):
    folder = tmp_path_factory.mktemp("data") / "dce"
    write_dce_dataset(folder, 10, seed=0, balanced=True, shape=(6, 16, 16), n_frames=4)
    return folder
