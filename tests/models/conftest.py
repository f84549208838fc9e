"""Fixtures for model tests: a clean Keras state and a mixed-precision switch."""

import keras
import pytest


@pytest.fixture(autouse=True)
def _fresh_keras():
    keras.utils.clear_session()
    yield
    keras.config.set_dtype_policy("float32")


@pytest.fixture
def mixed_precision():
    """Build under ``mixed_float16``, restored afterwards."""
    keras.config.set_dtype_policy("mixed_float16")
    yield
    keras.config.set_dtype_policy("float32")
