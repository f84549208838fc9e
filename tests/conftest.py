"""Shared fixtures."""

import numpy as np
import pytest

from helpers import REAL, TOTALSEG


@pytest.fixture
def real_data():
    """The folder of real scans, or a skip with the reason."""
    if not TOTALSEG.is_dir():
        pytest.skip(f"real sample scans not found at {REAL} (see shared/data/real/README.md)")
    return REAL


@pytest.fixture
def real_data_or_none():
    """The folder of real scans, or ``None`` where it is absent (for checks that add to others)."""
    return REAL if TOTALSEG.is_dir() else None


@pytest.fixture
def rng():
    """A seeded generator so failures reproduce."""
    return np.random.default_rng(1234)
