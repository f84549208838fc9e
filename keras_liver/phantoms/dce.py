"""4D DCE-MRI liver phantoms at clinical resolution: one to four focal lesions per series, five lesion classes.

Parameter table (drawn uniformly per case; ``lit`` marks values taken from
the literature, ``assumed`` marks values chosen here to give the textbook
enhancement pattern while overlapping between classes):

| tissue / class | model and parameters | T10 (ms, 1.5 T) |
|---|---|---|
| normal liver | dual input: flow 1.0-1.6 /min (assumed), arterial fraction 0.20-0.30 (lit: Materne 2000), ve 0.22-0.32 (assumed) | 550-620 (lit: de Bazelaire 2004, 586) |
| HCC | Tofts: Ktrans 0.40-1.20, ve 0.12-0.25, vp 0.08-0.25 (assumed); capsule Ktrans 0.05-0.15, ve 0.30-0.50 | 900-1300 (assumed) |
| metastasis | rim: Ktrans 0.20-0.70, ve 0.20-0.45, vp 0.02-0.08; core: Ktrans 0.01-0.08, ve 0.20-0.50 (assumed) | 1000-1400 (assumed) |
| haemangioma | blood pool vp 0.30-0.70 filling centripetally over 1.5-4 min, nodular front (assumed) | 1400-2000 (assumed) |
| cyst | no enhancement | 2500-3500 (assumed) |
| FNH | Tofts: Ktrans 0.60-1.40, ve 0.20-0.30, vp 0.10-0.25; central scar Ktrans 0.03-0.10, ve 0.30-0.50 (assumed) | 650-900 (assumed) |
| spleen, kidney, muscle, fat, marrow | Tofts with literature-typical orders of magnitude (assumed) | 1057, 966, 1008, 343, 549 (lit: de Bazelaire 2004) |
| blood | arterial: Parker AIF; portal/hepatic veins and IVC: portal input | 1441 (lit: Stanisz 2005, approx.) |

Portal-venous input: delay 0.15-0.30 min, dispersion 0.25-0.45 min (assumed).

Geometry (default 32 x 128 x 128): in-plane field of view 340-384 mm (2.7-3.0 mm
pixels at 128), 150-190 mm craniocaudal (4.7-5.9 mm slices at 32), the ranges of
liver DCE protocols (assumed: a 3D T1 gradient echo at 1.5 T, FOV 350-400 mm,
3-6 mm slices; the Liver Imaging Reporting and Data System's technical
recommendations ask for slices of 5 mm or thinner, ACR LI-RADS v2018).

Lesions: 1 to 4 per series (probabilities 0.4, 0.3, 0.2, 0.1). The first is the
index lesion (its class is the series' ``lesion_class``; 20-60 mm); the others
are of classes drawn independently, log-uniform 8 mm to 0.8 x the index
lesion's diameter, so the index lesion is the largest. ``instance`` holds each
lesion's id (1 = index) and ``info["lesions"]`` each lesion's class and kinetic
parameters.

Acquisition: SPGR, TR 3.5-4.5 ms, flip 12-18 degrees, r1 4.5 /s/mM (lit);
frames: one pre-contrast, then arterial to delayed over about 5 minutes;
respiratory misregistration (per-frame shift up to 4 mm craniocaudal, 2 mm
antero-posterior, 1 mm left-right, and up to 2 % craniocaudal scaling);
smooth multiplicative coil bias (about +-15 %); Rician noise with SNR 15 to
40 in pre-contrast liver.
"""

import numpy as np
from scipy import ndimage

from keras_liver.errors import ConfigError
from keras_liver.io.volume import Volume
from keras_liver.phantoms.anatomy import Tissue, build_anatomy
from keras_liver.phantoms.grid import smooth_noise
from keras_liver.phantoms.kinetics import KineticGrid, spgr_signal
from keras_liver.phantoms.phantom_case import PhantomCase

LESION_CLASSES = ("hcc", "metastasis", "haemangioma", "cyst", "fnh")

# (T10 ms range, M0 range, (Ktrans, ve, vp) ranges) for background tissues
_BACKGROUND = {
    Tissue.FAT: ((320, 370), (0.9, 1.0), ((0.01, 0.03), (0.08, 0.12), (0.0, 0.01))),
    Tissue.SKIN: ((950, 1050), (0.6, 0.7), ((0.05, 0.1), (0.1, 0.15), (0.01, 0.03))),
    Tissue.MUSCLE: ((950, 1050), (0.6, 0.7), ((0.05, 0.1), (0.1, 0.15), (0.01, 0.03))),
    Tissue.BONE_CORTEX: ((1000, 1200), (0.02, 0.05), ((0.0, 0.0), (0.1, 0.1), (0.0, 0.0))),
    Tissue.BONE_MARROW: ((520, 580), (0.7, 0.8), ((0.08, 0.15), (0.1, 0.15), (0.03, 0.06))),
    Tissue.CSF: ((3500, 4500), (1.0, 1.0), ((0.0, 0.0), (0.1, 0.1), (0.0, 0.0))),
    Tissue.SPLEEN: ((1000, 1100), (0.8, 0.9), ((0.9, 1.5), (0.2, 0.3), (0.10, 0.20))),
    Tissue.KIDNEY_CORTEX: ((930, 1000), (0.8, 0.9), ((1.2, 2.0), (0.25, 0.35), (0.2, 0.35))),
    Tissue.KIDNEY_MEDULLA: ((1350, 1450), (0.85, 0.95), ((0.3, 0.6), (0.25, 0.35), (0.05, 0.1))),
    Tissue.STOMACH_WALL: ((900, 1000), (0.65, 0.75), ((0.2, 0.4), (0.25, 0.35), (0.03, 0.06))),
    Tissue.FLUID: ((3000, 4000), (1.0, 1.0), ((0.0, 0.0), (0.1, 0.1), (0.0, 0.0))),
    Tissue.BOWEL_CONTENT: ((600, 1500), (0.5, 0.8), ((0.0, 0.0), (0.1, 0.1), (0.0, 0.0))),
    Tissue.GALLBLADDER: ((2500, 3500), (1.0, 1.0), ((0.0, 0.0), (0.1, 0.1), (0.0, 0.0))),
    Tissue.HEART: ((1000, 1100), (0.7, 0.8), ((0.5, 0.8), (0.15, 0.25), (0.3, 0.5))),
}
_ZERO_SIGNAL = (Tissue.AIR, Tissue.GAS)
_LUNG_M0 = 0.05


def _u(rng, lo_hi):
    lo, hi = lo_hi
    return float(rng.uniform(lo, hi)) if hi > lo else float(lo)


def frame_schedule(rng, n_frames: int) -> np.ndarray:
    """Frame times in minutes after injection: pre-contrast, then denser early, to about 5 min."""
    if not 3 <= n_frames <= 40:
        raise ConfigError(f"n_frames={n_frames}: need 3 to 40 time points")
    u = np.linspace(0.0, 1.0, n_frames - 1)
    post = 0.25 + 4.75 * u**1.8
    post = post * rng.uniform(0.95, 1.05, post.shape)
    post = np.maximum.accumulate(np.sort(post) + np.arange(len(post)) * 1e-3)
    return np.concatenate([[-0.2], post])


DEFAULT_SHAPE = (32, 128, 128)
N_LESIONS_P = (0.4, 0.3, 0.2, 0.1)  # probabilities of 1, 2, 3 and 4 lesions per series


def dce_geometry(rng, shape, spacing=None):
    """Spacing (z, y, x) and first-slice z for a DCE case: a 340-384 mm field of view over ``nx``, 150-190 mm in z."""
    nz, ny, nx = shape
    if spacing is None:
        in_plane = rng.uniform(340, 384) / max(ny, nx)
        sz = float(np.clip(rng.uniform(150, 190) / nz, 1.5, 12.0))
        spacing = (sz, in_plane, in_plane)
    spacing = tuple(float(s) for s in spacing)
    z0 = -spacing[0] * (nz - 1) / 2 + rng.uniform(-10, 10) + 5.0
    return spacing, z0


def dce_case(seed: int, lesion_class: str | None = None, shape=DEFAULT_SHAPE, *, n_frames: int | None = 8,
             spacing=None, snr=None, motion: bool = True, lesion_diameter_mm=None,
             n_lesions: int | None = None) -> PhantomCase:
    """A 4D DCE-MRI series of the upper abdomen with one to four focal liver lesions.

    Args:
        seed: Everything is drawn from ``numpy.random.default_rng(seed)``.
        lesion_class: Class of the index (first, largest) lesion, one of
            `LESION_CLASSES`; drawn uniformly when ``None``.
        shape: Spatial ``(nz, ny, nx)``.
        n_frames: Time points (default 8, the DCEClassifier's default);
            ``None`` draws 6 to 12.
        spacing: ``(sz, sy, sx)`` mm; drawn when ``None``.
        snr: Pre-contrast liver signal over the Rician noise sigma (15 to 40
            drawn when ``None``).
        motion: Apply respiratory misregistration between frames.
        lesion_diameter_mm: Index lesion diameter (20 to 60 mm drawn when ``None``).
        n_lesions: Lesions in the series, 1 to 4 (drawn with `N_LESIONS_P` when ``None``).

    Returns:
        A `PhantomCase`: ``image`` float32 ``(t, z, y, x)`` with
        ``meta["frame_times_s"]`` (seconds from the pre-contrast frame),
        ``label`` uint8 on the reference (unmoved) anatomy, ``clean`` the
        series without noise, bias or motion, ``lesion_class`` (the index
        lesion's), ``instance`` (uint8 lesion ids on the label's grid, 1 =
        index lesion), ``info`` (kinetic parameters, frame times, motion, and
        per lesion its class and parameters in ``info["lesions"]``).
    """
    rng = np.random.default_rng(seed)
    if lesion_class is None:
        lesion_class = str(rng.choice(LESION_CLASSES))
    if lesion_class not in LESION_CLASSES:
        raise ConfigError(f"lesion_class={lesion_class!r}: choose one of {list(LESION_CLASSES)}")
    if n_frames is None:
        n_frames = int(rng.integers(6, 13))
    shape = tuple(int(n) for n in shape)
    spacing, z0 = dce_geometry(rng, shape, spacing)
    diameter = float(rng.uniform(20, 60)) if lesion_diameter_mm is None else float(lesion_diameter_mm)
    if n_lesions is None:
        n_lesions = int(rng.choice(len(N_LESIONS_P), p=N_LESIONS_P)) + 1
    if not 1 <= int(n_lesions) <= 4:
        raise ConfigError(f"n_lesions={n_lesions}: a series holds 1 to 4 lesions")
    requests = [(lesion_class, diameter, False)]
    for _ in range(int(n_lesions) - 1):
        extra = float(np.exp(rng.uniform(np.log(8.0), np.log(max(8.0, 0.8 * diameter)))))
        requests.append((str(rng.choice(LESION_CLASSES)), extra, bool(rng.random() < 0.2)))
    anatomy = build_anatomy(rng, shape, spacing, z0, lesions=requests)
    times = frame_schedule(rng, n_frames)
    kin = KineticGrid(times, portal_delay_min=rng.uniform(0.15, 0.3), portal_dispersion_min=rng.uniform(0.25, 0.45))
    tr, flip = rng.uniform(3.5, 4.5), rng.uniform(12, 18)
    scale = 1000.0

    n_tissue = len(Tissue)
    conc = np.zeros((n_tissue, n_frames))
    t10 = np.full(n_tissue, 1000.0)
    m0 = np.zeros(n_tissue)
    params = {}
    for tissue, (t10_r, m0_r, (k_r, ve_r, vp_r)) in _BACKGROUND.items():
        t10[tissue], m0[tissue] = _u(rng, t10_r), _u(rng, m0_r)
        k, ve, vp = _u(rng, k_r), _u(rng, ve_r), _u(rng, vp_r)
        conc[tissue] = kin.tofts(k, ve, vp) if (k or vp) else 0.0
    liver = {"flow_per_min": _u(rng, (1.0, 1.6)), "arterial_fraction": _u(rng, (0.2, 0.3)), "ve": _u(rng, (0.22, 0.32)),
             "t10_ms": _u(rng, (550, 620))}
    params["liver"] = liver
    for tissue in (Tissue.LIVER, Tissue.TUMOUR, Tissue.TUMOUR_CORE, Tissue.TUMOUR_RIM):
        t10[tissue], m0[tissue] = liver["t10_ms"], 0.75
        conc[tissue] = kin.dual_input(liver["flow_per_min"], liver["arterial_fraction"], liver["ve"])
    blood_t10 = _u(rng, (1350, 1500))
    for tissue, curve in ((Tissue.AORTA, kin.sample(kin.blood)),
                          (Tissue.IVC, kin.sample(kin.portal) * (1 - 0.45)),
                          (Tissue.PORTAL_VEIN, kin.sample(kin.portal) * (1 - 0.45)),
                          (Tissue.HEPATIC_VEIN, kin.sample(kin.portal) * (1 - 0.45))):
        t10[tissue], m0[tissue], conc[tissue] = blood_t10, 0.9, curve
    t10[Tissue.LUNG], m0[Tissue.LUNG] = 1200.0, _LUNG_M0
    for tissue in _ZERO_SIGNAL:
        m0[tissue] = 0.0

    table = scale * spgr_signal(m0[:, None], t10[:, None], conc, tr, flip)  # (tissue, t)
    clean = np.moveaxis(table[anatomy.tissue], -1, 0).astype(np.float32)  # (t, z, y, x)
    texture = (1 + 0.04 * anatomy.texture).astype(np.float32)
    clean *= texture[None]

    lesion_params = {}
    for lesion in anatomy.lesions:
        params_k = _paint_lesion(rng, kin, clean, lesion, lesion.kind, tr, flip, scale, texture)
        lesion.parts.update({"class": lesion.kind,
                             "kinetics": {k: round(v, 4) for k, v in params_k.items()}})
        if lesion.lesion_id == 1:
            lesion_params = params_k

    # Acquisition: motion, bias field, Rician noise.
    liver_pre = float(np.median(clean[0][anatomy.tissue == Tissue.LIVER])) if np.any(anatomy.tissue == Tissue.LIVER) else scale * 0.1
    snr = _u(rng, (15, 40)) if snr is None else float(snr)
    sigma = liver_pre / snr
    bias = np.exp(0.15 * smooth_noise(rng, shape, cells=2)).astype(np.float32)
    ref = int(np.argmin(np.abs(times - 1.2)))  # portal-venous frame carries the labels
    shifts = []
    image = np.empty_like(clean)
    for f in range(n_frames):
        frame = clean[f] * bias
        if motion and f != ref:
            shift_mm = np.array([rng.uniform(-4, 4), rng.uniform(-2, 2), rng.uniform(-1, 1)])
            zscale = 1 + rng.uniform(-0.02, 0.02)
            matrix = np.array([zscale, 1.0, 1.0])
            centre = (np.array(shape) - 1) / 2
            offset = centre - matrix * centre - shift_mm / np.array(spacing)
            frame = ndimage.affine_transform(frame, matrix, offset=offset, order=1, mode="nearest")
            shifts.append([round(float(v), 3) for v in shift_mm] + [round(float(zscale), 4)])
        else:
            shifts.append([0.0, 0.0, 0.0, 1.0])
        n1 = rng.standard_normal(shape).astype(np.float32) * sigma
        n2 = rng.standard_normal(shape).astype(np.float32) * sigma
        image[f] = np.sqrt((frame + n1) ** 2 + n2**2)

    affine = anatomy.grid.affine()
    frame_times_s = [round(float((t - times[0]) * 60.0), 3) for t in times]
    orientation = str(rng.choice(["RAS", "LPS", "LAS"]))
    meta = {"modality": "MR", "sequence": "DCE T1 SPGR", "frame_times_s": frame_times_s,
            "source_orientation": orientation}
    info = {
        "seed": int(seed),
        "lesion_class": lesion_class,
        "shape": [n_frames, *shape],
        "spacing_zyx_mm": [round(s, 4) for s in spacing],
        "file_orientation": orientation,
        "frame_times_s": frame_times_s,
        "injection_time_s": round(float(-times[0] * 60.0), 3),
        "reference_frame": ref,
        "tr_ms": round(float(tr), 3),
        "flip_deg": round(float(flip), 3),
        "snr": round(snr, 2),
        "noise_sigma": round(sigma, 3),
        "motion_shift_zyx_mm_and_zscale": shifts,
        "liver": {k: round(v, 4) for k, v in liver.items()},
        "lesion": {k: (round(v, 4) if isinstance(v, float) else v) for k, v in lesion_params.items()},
        "lesions": [lesion.info() for lesion in anatomy.lesions],
    }
    label_meta = {k: v for k, v in meta.items() if k != "frame_times_s"}
    return PhantomCase(
        image=Volume(image, affine, meta=meta),
        label=Volume(anatomy.label(), affine, meta={**label_meta, "kind": "label"}),
        clean=Volume(clean, affine, meta={**meta, "kind": "clean"}),
        lesion_class=lesion_class,
        info=info,
        instance=Volume(anatomy.lesion_id.copy(), affine, meta={**label_meta, "kind": "instance"}),
    )


def _paint_lesion(rng, kin, clean, lesion, lesion_class, tr, flip, scale, texture):
    sl = lesion.slices
    mask, level = lesion.mask, lesion.level
    box_tex = texture[sl]
    out = clean[(slice(None),) + sl]  # view (t, bz, by, bx)

    def put(part_mask, curve, t10_ms, m0=0.75):
        if not part_mask.any():
            return
        sig = scale * spgr_signal(m0, t10_ms, curve, tr, flip)
        out[:, part_mask] = sig[:, None].astype(np.float32) * box_tex[part_mask][None]

    p = {}
    if lesion_class == "hcc":
        p = {"ktrans": _u(rng, (0.4, 1.2)), "ve": _u(rng, (0.12, 0.25)), "vp": _u(rng, (0.08, 0.25)),
             "t10_ms": _u(rng, (900, 1300)), "capsule_ktrans": _u(rng, (0.05, 0.15)), "capsule_ve": _u(rng, (0.3, 0.5))}
        capsule = mask & (level >= 0.93)
        put(mask & ~capsule, kin.tofts(p["ktrans"], p["ve"], p["vp"]), p["t10_ms"])
        put(capsule, kin.tofts(p["capsule_ktrans"], p["capsule_ve"], 0.0), p["t10_ms"])
    elif lesion_class == "metastasis":
        p = {"rim_ktrans": _u(rng, (0.2, 0.7)), "rim_ve": _u(rng, (0.2, 0.45)), "rim_vp": _u(rng, (0.02, 0.08)),
             "core_ktrans": _u(rng, (0.01, 0.08)), "core_ve": _u(rng, (0.2, 0.5)), "t10_ms": _u(rng, (1000, 1400)),
             "rim_fraction": _u(rng, (0.25, 0.45))}
        rim = mask & (level >= 1 - p["rim_fraction"])
        put(rim, kin.tofts(p["rim_ktrans"], p["rim_ve"], p["rim_vp"]), p["t10_ms"])
        put(mask & ~rim, kin.tofts(p["core_ktrans"], p["core_ve"], 0.0), p["t10_ms"])
    elif lesion_class == "haemangioma":
        p = {"vp": _u(rng, (0.3, 0.7)), "fill_time_min": _u(rng, (1.5, 4.0)), "t10_ms": _u(rng, (1400, 2000))}
        nodular = np.clip(level + 0.25 * smooth_noise(rng, level.shape, cells=4), 0.0, 1.0)
        delay = p["fill_time_min"] * (1.0 - nodular)
        bins = np.minimum((delay / p["fill_time_min"] * 12).astype(int), 11)
        for b in range(12):
            put(mask & (bins == b), kin.tofts(0.0, 1.0, p["vp"], delay_min=(b + 0.5) / 12 * p["fill_time_min"]),
                p["t10_ms"], m0=0.9)
    elif lesion_class == "cyst":
        p = {"t10_ms": _u(rng, (2500, 3500))}
        put(mask, np.zeros(len(kin.frame_times)), p["t10_ms"], m0=1.0)
    elif lesion_class == "fnh":
        p = {"ktrans": _u(rng, (0.6, 1.4)), "ve": _u(rng, (0.2, 0.3)), "vp": _u(rng, (0.10, 0.25)),
             "t10_ms": _u(rng, (650, 900)), "scar_ktrans": _u(rng, (0.03, 0.10)), "scar_ve": _u(rng, (0.3, 0.5))}
        scar = mask & (level < 0.3)
        put(mask & ~scar, kin.tofts(p["ktrans"], p["ve"], p["vp"]), p["t10_ms"])
        put(scar, kin.tofts(p["scar_ktrans"], p["scar_ve"], 0.0), p["t10_ms"] * 1.3)
    return p
