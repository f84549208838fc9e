import numpy as np
import pytest

from keras_liver.phantoms import parker_aif, spgr_signal
from keras_liver.phantoms.kinetics import PARKER, KineticGrid


def test_parker_aif_first_pass_peak():
    t = np.linspace(0, 1, 2001)
    cb = parker_aif(t)
    assert t[np.argmax(cb)] == pytest.approx(PARKER["T1"], abs=0.01)
    peak = PARKER["A1"] / (PARKER["sigma1"] * np.sqrt(2 * np.pi))
    assert cb.max() == pytest.approx(peak, rel=0.1)
    assert parker_aif(-0.3) < 1e-3
    assert 0.3 < parker_aif(5.0) < 1.0


def test_exponential_convolution_matches_closed_form():
    grid = KineticGrid([0.0, 1.0, 2.0], 0.1, 0.3)
    step = (grid.t >= 0).astype(float)
    k = 1.7
    got = grid.sample(grid.exp_conv(step, k))
    want = (1 - np.exp(-k * np.array([0.0, 1.0, 2.0]))) / k
    np.testing.assert_allclose(got, want, atol=2e-3)


def test_tofts_limits_and_portal_delay():
    grid = KineticGrid(np.linspace(0, 5, 11), 0.15, 0.3)
    np.testing.assert_allclose(grid.tofts(0.0, 0.3, 0.2), 0.2 * grid.sample(grid.plasma))
    # the portal input peaks later than the arterial one
    assert grid.t[np.argmax(grid.portal)] > grid.t[np.argmax(grid.plasma)] + 0.1


def test_spgr_signal_rises_with_concentration():
    s = spgr_signal(1.0, 600.0, np.array([0.0, 0.5, 1.0, 3.0]), tr_ms=4.0, flip_deg=15.0)
    assert np.all(np.diff(s) > 0)
    e1 = np.exp(-4.0 / 600.0)
    a = np.deg2rad(15)
    assert s[0] == pytest.approx(np.sin(a) * (1 - e1) / (1 - np.cos(a) * e1))
