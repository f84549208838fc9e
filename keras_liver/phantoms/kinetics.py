"""Contrast kinetics for the DCE-MRI phantoms (times in minutes, concentrations in mM).

* Arterial input: Parker population AIF (Parker et al., Magn Reson Med 56:993,
  2006), blood concentration, with the published parameters below; plasma
  concentration is blood / (1 - Hct).
* Portal-venous input: the arterial plasma curve delayed and dispersed by a
  unit-area exponential (the gut and spleen transit), as in dual-input liver
  models (Materne et al., Clin Sci 99:517, 2000).
* Normal liver: dual-input single-compartment model,
  ``dC/dt = k1a Ca(t) + k1p Cpv(t) - k2 C``, with arterial fraction
  ``k1a / (k1a + k1p)``.
* Lesions and other tissues: extended Tofts,
  ``C = vp Cp + Ktrans (Cp * exp(-kep t))``, ``kep = Ktrans / ve``
  (Tofts et al., J Magn Reson Imaging 10:223, 1999).
* Signal: spoiled gradient echo,
  ``S = M0 sin(a) (1 - E1) / (1 - cos(a) E1)``, ``E1 = exp(-TR R1)``,
  ``R1 = 1/T10 + r1 C``.
"""

import numpy as np
from scipy import signal

PARKER = {"A1": 0.809, "A2": 0.330, "T1": 0.17046, "T2": 0.365, "sigma1": 0.0563, "sigma2": 0.132,
          "alpha": 1.050, "beta": 0.1685, "s": 38.078, "tau": 0.483}
HAEMATOCRIT = 0.45  # assumption: a typical large-vessel haematocrit
DT = 1.0 / 1200.0  # integration step, minutes (0.05 s)


def parker_aif(t_min) -> np.ndarray:
    """Parker population AIF: blood Gd concentration (mM) at times ``t_min`` (minutes after injection)."""
    t = np.asarray(t_min, dtype=np.float64)
    p = PARKER
    gauss = (p["A1"] / (p["sigma1"] * np.sqrt(2 * np.pi)) * np.exp(-((t - p["T1"]) ** 2) / (2 * p["sigma1"] ** 2))
             + p["A2"] / (p["sigma2"] * np.sqrt(2 * np.pi)) * np.exp(-((t - p["T2"]) ** 2) / (2 * p["sigma2"] ** 2)))
    modulated = p["alpha"] * np.exp(-p["beta"] * t) / (1 + np.exp(-p["s"] * (t - p["tau"])))
    return gauss + modulated


class KineticGrid:
    """A fine time grid on which inputs are built and convolved, sampled at the frames.

    Args:
        frame_times_min: Acquisition times in minutes after injection.
        portal_delay_min: Delay of the portal-venous input.
        portal_dispersion_min: Mean transit time of the dispersion kernel.
    """

    def __init__(self, frame_times_min, portal_delay_min: float, portal_dispersion_min: float):
        self.frame_times = np.asarray(frame_times_min, dtype=np.float64)
        start = min(-0.5, float(self.frame_times.min()) - 0.1)
        self.t = np.arange(start, float(self.frame_times.max()) + 2 * DT, DT)
        self.index = np.clip(np.rint((self.frame_times - start) / DT).astype(int), 0, len(self.t) - 1)
        self.blood = parker_aif(self.t)
        self.plasma = self.blood / (1 - HAEMATOCRIT)
        delayed = np.interp(self.t - portal_delay_min, self.t, self.plasma, left=0.0)
        self.portal = self.exp_conv(delayed, 1.0 / portal_dispersion_min) / portal_dispersion_min

    def exp_conv(self, x, k: float) -> np.ndarray:
        """``integral x(s) exp(-k (t - s)) ds`` on the fine grid (first-order recursion)."""
        decay = np.exp(-k * DT)
        return signal.lfilter([DT], [1.0, -decay], x)

    def sample(self, fine) -> np.ndarray:
        """Values of a fine-grid curve at the frame times."""
        return np.asarray(fine)[self.index]

    def tofts(self, ktrans: float, ve: float, vp: float, source=None, delay_min: float = 0.0) -> np.ndarray:
        """Extended Tofts tissue concentration at the frames."""
        cp = self.plasma if source is None else source
        if delay_min:
            cp = np.interp(self.t - delay_min, self.t, cp, left=0.0)
        c = vp * cp
        if ktrans > 0:
            c = c + ktrans * self.exp_conv(cp, ktrans / ve)
        return self.sample(c)

    def dual_input(self, flow: float, arterial_fraction: float, ve: float) -> np.ndarray:
        """Dual-input single-compartment liver concentration at the frames."""
        k1a, k1p = arterial_fraction * flow, (1 - arterial_fraction) * flow
        inflow = k1a * self.plasma + k1p * self.portal
        return self.sample(self.exp_conv(inflow, flow / ve))


def spgr_signal(m0, t10_ms, conc_mm, tr_ms: float, flip_deg: float, r1: float = 4.5):
    """Spoiled gradient-echo signal.

    Args:
        m0: Equilibrium magnetisation (arbitrary units).
        t10_ms: Native T1 in ms.
        conc_mm: Gd concentration in mM (broadcasts with the others).
        tr_ms: Repetition time in ms.
        flip_deg: Flip angle in degrees.
        r1: Longitudinal relaxivity, /s/mM (about 4.5 for Gd-DTPA at 1.5 T).
    """
    r1_total = 1000.0 / np.asarray(t10_ms, dtype=np.float64) + r1 * np.asarray(conc_mm, dtype=np.float64)
    e1 = np.exp(-tr_ms / 1000.0 * r1_total)
    a = np.deg2rad(flip_deg)
    return m0 * np.sin(a) * (1 - e1) / (1 - np.cos(a) * e1)
