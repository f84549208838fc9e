"""Abdominal CT phantoms in LiTS conventions, in four contrast phases.

Per-case HU ranges of the portal-venous phase (the default), drawn uniformly:

| tissue | HU | source |
|---|---|---|
| air / bowel gas | -1000 / -990..-900 | physics; gas not pure air |
| lung | -870..-830 | typical aerated lung |
| fat | -120..-80 | standard CT tissue table |
| muscle, skin | 40..60 | standard |
| liver (portal phase) | 90..130 | portal-venous liver enhancement (issue 3 table) |
| spleen | 100..130 | |
| kidney cortex / medulla | 150..200 / 90..130 | |
| vessels (aorta, IVC, portal, hepatic) | 150..220 | |
| hypodense tumour | 30..90, at least 15 below liver | |
| hyperdense tumour | 130..170, at least 20 above liver (so up to 190) | |
| cyst, gallbladder, fluid | 0..20 | |
| bone cortex / marrow | 700..1200 / 300..450 | |
| CSF | 5..15 | |

Acquisition: partial-volume blur (Gaussian, sigma 0.5 to 0.8 voxel in plane,
0.3 to 0.5 along z), spatially correlated noise (white noise smoothed with
sigma 0.6 to 1.0 voxel, rescaled to sigma 8 to 25 HU), rounding to int16.
The stated ranges are those of the issue that specified the phantoms; they
agree with common CT teaching tables (assumption, not a measured data set).

Other phases (``phase=``; ``"mixed"`` draws one per case from `MIXED_PHASES` with
a generator of its own, so a seed keeps its anatomy in every phase). Only the
tissues that change are listed; the rest keep the portal-venous ranges:

| tissue | non-contrast | late arterial | delayed (3-5 min) |
|---|---|---|---|
| liver | 40..70 | 70..95 | 75..100 |
| spleen | 40..55 | 110..150 | 90..115 |
| kidney cortex / medulla | 25..40 / 25..40 | 180..250 / 60..100 | 120..170 / 130..180 |
| aorta | 35..50 | 250..350 | 110..150 |
| IVC / portal / hepatic veins | 35..50 | 70..110 / 130..180 / 60..90 | 110..150 |
| muscle, skin, heart | 40..55 | 45..65 | 45..60 |

Tumours per phase (contrast against this case's liver, drawn per lesion):

| kind | non-contrast | late arterial | portal-venous | delayed |
|---|---|---|---|---|
| hyperdense (hypervascular, HCC-like) | -8..-20 (mildly hypodense) | +40..+90 (arterial hyperenhancement) | +20 or more (130..170) | -10..-30 (washout) |
| hypodense (hypovascular, metastasis-like) | -10..-35 | -20..-50 | -15..-60 (30..90) | -15..-45 |
| cyst | 0..20 HU | 0..20 HU | 0..20 HU | 0..20 HU |

Hypodense tumours are never below 10 HU (water) in any phase. Enhancing rims are
drawn in the contrast phases only. Sources of the pattern: unenhanced liver
about 55-65 HU and at least the spleen's (Kodama et al., AJR 2007;188:1307-12);
aortic and hepatic enhancement against time after injection (Bae, Radiology
2010;256:32-61); arterial-phase hyperenhancement and washout of HCC (ACR
LI-RADS CT/MRI v2018). The numbers are teaching values chosen within those
patterns (assumption), widened to cover the fattier liver of the real
unenhanced scan in ../shared/data/real (46 HU).
"""

import numpy as np
from scipy import ndimage

from keras_liver.io.volume import Volume
from keras_liver.phantoms.anatomy import Tissue, build_anatomy
from keras_liver.phantoms.grid import smooth_noise
from keras_liver.phantoms.phantom_case import PhantomCase
from keras_liver.phantoms.variety import Variety

HU_RANGES = {
    Tissue.AIR: (-1000, -1000),
    Tissue.LUNG: (-870, -830),
    Tissue.FAT: (-120, -80),
    Tissue.SKIN: (40, 60),
    Tissue.MUSCLE: (40, 60),
    Tissue.BONE_CORTEX: (700, 1200),
    Tissue.BONE_MARROW: (300, 450),
    Tissue.CSF: (5, 15),
    Tissue.LIVER: (90, 130),
    Tissue.SPLEEN: (100, 130),
    Tissue.KIDNEY_CORTEX: (150, 200),
    Tissue.KIDNEY_MEDULLA: (90, 130),
    Tissue.STOMACH_WALL: (40, 60),
    Tissue.GAS: (-990, -900),
    Tissue.FLUID: (0, 20),
    Tissue.BOWEL_CONTENT: (10, 40),
    Tissue.AORTA: (150, 220),
    Tissue.IVC: (150, 220),
    Tissue.PORTAL_VEIN: (150, 220),
    Tissue.HEPATIC_VEIN: (150, 220),
    Tissue.GALLBLADDER: (0, 20),
    Tissue.HEART: (40, 60),
    Tissue.MASS: (30, 90),  # redrawn per mass like a liver tumour (`_tumour_hu`)
    Tissue.TABLE: (-150, 0),  # carbon-fibre table top with foam core (assumption)
    Tissue.METAL: (2500, 3071),  # steel / titanium implants saturate the 12-bit range
}
PHASE_HU = {
    "portal-venous": {},
    "non-contrast": {
        Tissue.LIVER: (40, 70), Tissue.SPLEEN: (40, 55), Tissue.KIDNEY_CORTEX: (25, 40),
        Tissue.KIDNEY_MEDULLA: (25, 40), Tissue.AORTA: (35, 50), Tissue.IVC: (35, 50),
        Tissue.PORTAL_VEIN: (35, 50), Tissue.HEPATIC_VEIN: (35, 50), Tissue.MUSCLE: (40, 55),
        Tissue.SKIN: (40, 55), Tissue.HEART: (40, 55),
    },
    "arterial": {
        Tissue.LIVER: (70, 95), Tissue.SPLEEN: (110, 150), Tissue.KIDNEY_CORTEX: (180, 250),
        Tissue.KIDNEY_MEDULLA: (60, 100), Tissue.AORTA: (250, 350), Tissue.IVC: (70, 110),
        Tissue.PORTAL_VEIN: (130, 180), Tissue.HEPATIC_VEIN: (60, 90), Tissue.MUSCLE: (45, 65),
        Tissue.SKIN: (45, 65), Tissue.HEART: (45, 65),
    },
    "delayed": {
        Tissue.LIVER: (75, 100), Tissue.SPLEEN: (90, 115), Tissue.KIDNEY_CORTEX: (120, 170),
        Tissue.KIDNEY_MEDULLA: (130, 180), Tissue.AORTA: (110, 150), Tissue.IVC: (110, 150),
        Tissue.PORTAL_VEIN: (110, 150), Tissue.HEPATIC_VEIN: (110, 150), Tissue.MUSCLE: (45, 60),
        Tissue.SKIN: (45, 60), Tissue.HEART: (45, 60),
    },
}
PHASES = tuple(PHASE_HU)
# Phase weights of phase="mixed": the portal-venous phase of LiTS-like data most often,
# the unenhanced scan (the real example in ../shared/data/real is one) next.
MIXED_PHASES = {"portal-venous": 0.55, "non-contrast": 0.25, "arterial": 0.1, "delayed": 0.1}
TEXTURE_HU = {Tissue.LIVER: 4.0, Tissue.SPLEEN: 3.0, Tissue.MUSCLE: 3.0, Tissue.FAT: 5.0, Tissue.KIDNEY_CORTEX: 4.0,
              Tissue.BONE_MARROW: 40.0, Tissue.LUNG: 15.0, Tissue.BOWEL_CONTENT: 15.0}
TUMOUR_KINDS = ("hypodense", "hyperdense", "cyst")
REFERENCE_MATRIX = 512


def ct_geometry(rng, shape, spacing=None):
    """Spacing and first-slice z for a CT case.

    In-plane spacing is drawn for a 512-pixel matrix (0.55 to 0.95 mm) and
    scaled by ``512 / nx`` so that a smaller matrix covers the same field
    of view at coarser resolution; slice spacing covers 170 to 260 mm of
    the abdomen, clipped to 0.7 to 5 mm.
    """
    nz, ny, nx = shape
    if spacing is None:
        in_plane = rng.uniform(0.55, 0.95) * REFERENCE_MATRIX / max(ny, nx)
        sz = float(np.clip(rng.uniform(170, 260) / nz, 0.7, 5.0))
        spacing = (sz, in_plane, in_plane)
    spacing = tuple(float(s) for s in spacing)
    extent = spacing[0] * (nz - 1)
    z0 = -extent / 2 + rng.uniform(-15, 15) + 5.0
    return spacing, z0


def _draw_tumours(rng, n_tumours):
    if n_tumours is None:
        n_tumours = 0 if rng.random() < 0.15 else int(rng.integers(1, 11))
    out = []
    for _ in range(n_tumours):
        diameter = float(np.exp(rng.uniform(np.log(5), np.log(80))))
        kind = rng.choice(TUMOUR_KINDS, p=[0.72, 0.16, 0.12])
        out.append((str(kind), diameter, bool(rng.random() < 0.25)))
    return out


def ct_phase(seed: int, phase: str = "portal-venous") -> str:
    """The contrast phase of case ``seed``: ``phase`` itself, or for ``"mixed"`` a draw from `MIXED_PHASES`.

    The draw uses a generator of its own (``default_rng([seed, 1])``), so the case's
    anatomy, lesions and noise are those of the same seed in any phase.
    """
    if phase == "mixed":
        names = list(MIXED_PHASES)
        return str(np.random.default_rng([int(seed), 1]).choice(names, p=list(MIXED_PHASES.values())))
    if phase not in PHASE_HU:
        raise ValueError(f"phase: one of {list(PHASES) + ['mixed']}, got {phase!r}")
    return phase


def ct_case(seed: int, shape=(48, 128, 128), *, spacing=None, n_tumours=None, noise_sigma=None,
            gallbladder=None, phase: str = "portal-venous", variety=None) -> PhantomCase:
    """An abdominal CT with liver and tumour labels, portal-venous unless ``phase`` says otherwise.

    Args:
        seed: Everything is drawn from ``numpy.random.default_rng(seed)``.
        shape: ``(nz, ny, nx)``; small by default for CPU training,
            ``(100, 512, 512)`` for full resolution.
        spacing: ``(sz, sy, sx)`` mm; drawn when ``None`` (see `ct_geometry`).
        n_tumours: Number of tumours (0 to 10 drawn when ``None``; 15 % of
            cases have none).
        noise_sigma: Noise standard deviation in HU (8 to 25 drawn when ``None``).
        gallbladder: Force a gallbladder on or off.
        phase: ``"portal-venous"``, ``"non-contrast"``, ``"arterial"``, ``"delayed"``
            (see the module's tables), or ``"mixed"`` (drawn per case, `ct_phase`).
        variety: Wider anatomy and pathology (`keras_liver.phantoms.variety`): ``True``
            draws a `Variety` from ``default_rng([seed, 18])`` (the base anatomy stays the
            seed's), ``"extended"`` adds hilar masses and full stomachs (`Variety.draw`), a
            `Variety` uses that one, ``None`` draws the base phantom only. With
            it the field of view is 300 to 500 mm, a fatty liver is 0 to 40 HU unenhanced,
            and metal throws streaks.

    Returns:
        A `PhantomCase` with ``image`` int16 HU, ``label`` uint8 0/1/2 and
        ``clean`` (float32 HU before blur and noise), all in LPS voxel order; with a
        variety, ``masses`` holds the ids of the masses outside the liver.

    Example:
        >>> case = ct_case(0)
        >>> case.image.array.dtype, case.label.array.max() <= 2
        (dtype('int16'), True)
    """
    phase = ct_phase(seed, phase)
    rng = np.random.default_rng(seed)
    shape = tuple(int(n) for n in shape)
    fixed_spacing = spacing is not None
    spacing, z0 = ct_geometry(rng, shape, spacing)
    if variety is True or variety == "extended":
        variety = Variety.draw(np.random.default_rng([int(seed), 18]), extended=variety == "extended")
    variety_rng = np.random.default_rng([int(seed), 19]) if variety is not None else None
    if variety is not None and not fixed_spacing:  # fields of view of 300 to 500 mm
        in_plane = variety_rng.uniform(300, 500) / max(shape[1:])
        spacing = (spacing[0], in_plane, in_plane)
    requests = _draw_tumours(rng, n_tumours)
    anatomy = build_anatomy(rng, shape, spacing, z0, lesions=requests, gallbladder=gallbladder, variety=variety,
                            variety_rng=variety_rng)
    ranges = {**HU_RANGES, **PHASE_HU[phase]}
    hu = {t: float(rng.uniform(*r)) for t, r in ranges.items()}
    if variety is not None and variety.liver_state == "fatty":  # steatosis: unenhanced liver under 40 HU
        hu[Tissue.LIVER] = float(np.clip(hu[Tissue.LIVER] - variety_rng.uniform(30, 70), 0, None))
    lut = np.zeros(len(Tissue), np.float32)
    for t, v in hu.items():
        lut[t] = v
    clean = lut[anatomy.tissue]
    texture_lut = np.zeros(len(Tissue), np.float32)
    for t, v in TEXTURE_HU.items():
        texture_lut[t] = v
    if variety is not None and variety.liver_state == "cirrhotic":
        texture_lut[Tissue.LIVER] = 9.0  # a coarse, heterogeneous parenchyma
    clean += texture_lut[anatomy.tissue] * anatomy.texture
    # with a fatty liver, lesions (and masses, which look like them) keep at least 15 HU of contrast to it
    min_contrast = 15.0 if variety is not None and variety.liver_state == "fatty" else None
    hilar_rng = np.random.default_rng(variety.extra_seed + 1) if variety is not None else None
    for mass in anatomy.masses:  # liver-tumour-like attenuation, but outside the liver (label background)
        mass_rng = hilar_rng if mass["site"] == "hilar" else variety_rng
        mass["hu"] = round(_tumour_hu(mass_rng, mass["kind"], hu[Tissue.LIVER], phase, min_contrast), 1)
        inside = anatomy.mass_id == mass["id"]
        clean[inside] = mass["hu"] + 6.0 * anatomy.texture[inside]

    lesion_info = []
    for lesion in anatomy.lesions:
        lesion_info.append(_paint_tumour(rng, clean, lesion, hu[Tissue.LIVER], anatomy.grid.spacing, phase,
                                         min_contrast))

    sigma_blur = (rng.uniform(0.3, 0.5), rng.uniform(0.5, 0.8), rng.uniform(0.5, 0.8))
    blurred = ndimage.gaussian_filter(clean, sigma_blur, mode="nearest")
    noise_sigma = float(rng.uniform(8, 25)) if noise_sigma is None else float(noise_sigma)
    corr = rng.uniform(0.6, 1.0)
    noise = rng.standard_normal(shape).astype(np.float32)
    noise = ndimage.gaussian_filter(noise, (0.0, corr, corr), mode="wrap")
    noise *= noise_sigma / float(noise.std())
    streaks = {}
    if variety is not None and (anatomy.tissue == Tissue.METAL).any():
        streaks = _metal_artefacts(variety_rng, blurred, anatomy.tissue == Tissue.METAL, anatomy.tissue,
                                   hu[Tissue.METAL])
    image = np.clip(np.rint(blurred + noise), -1024, 3071).astype(np.int16)

    affine = anatomy.grid.affine()
    orientation = str(rng.choice(["RAS", "LPS", "LAS", "RPS", "LPI"]))
    meta = {"modality": "CT", "phase": phase, "source_orientation": orientation}
    info = {
        "seed": int(seed),
        "shape": list(shape),
        "phase": phase,
        "spacing_zyx_mm": [round(s, 4) for s in spacing],
        "file_orientation": orientation,
        "noise_sigma_hu": round(noise_sigma, 2),
        "noise_correlation_voxels": round(float(corr), 3),
        "blur_sigma_voxels": [round(float(s), 3) for s in sigma_blur],
        "hu": {t.name.lower(): round(v, 1) for t, v in hu.items()},
        "anatomy": {k: (round(v, 3) if isinstance(v, float) else v) for k, v in anatomy.params.items()},
        "lesions": lesion_info,
    }
    if variety is not None:
        info["masses"] = anatomy.masses
        info["metal_artefacts"] = streaks
    return PhantomCase(
        image=Volume(image, affine, meta=meta),
        label=Volume(anatomy.label(), affine, meta={**meta, "kind": "label"}),
        clean=Volume(clean, affine, meta={**meta, "kind": "clean"}),
        lesion_class=None,
        info=info,
        tissue=Volume(anatomy.tissue, affine, meta={**meta, "kind": "tissue"}),
        masses=None if anatomy.mass_id is None else Volume(anatomy.mass_id, affine, meta={**meta, "kind": "masses"}),
    )


def _metal_artefacts(rng, image, metal, tissue, metal_hu):
    """Streaks from each slice's metal and a beam-hardening cupping, added to ``image`` in place.

    The metal itself stays at ``metal_hu`` through the partial-volume blur (it saturates).

    Streaks: alternating bright and dark rays from the metal's centre in its slice,
    ``amplitude * cos(n * angle + phase) * exp(-r / length)`` (n 6 to 16 rays, 150 to 500 HU,
    60 to 150 mm); dark bands along the line between metal pieces are not drawn. Cupping:
    the body's centre 5 to 25 HU darker than its edge. Teaching approximations of the
    artefacts' look (assumption), not a simulation of the physics.
    """
    rays, amplitude, length = int(rng.integers(6, 17)), float(rng.uniform(150, 500)), float(rng.uniform(60, 150))
    cup = float(rng.uniform(5, 25))
    body = tissue != Tissue.AIR
    ny, nx = image.shape[1:]
    yy, xx = np.mgrid[0:ny, 0:nx].astype(np.float32)
    for z in np.nonzero(metal.any(axis=(1, 2)))[0]:
        cy, cx = (c.mean() for c in np.nonzero(metal[z]))
        r = np.hypot(yy - cy, xx - cx) + 1.0
        angle = np.arctan2(yy - cy, xx - cx)
        streak = amplitude * np.cos(rays * angle + rng.uniform(0, 2 * np.pi)) * np.exp(-r / (length * nx / 512))
        image[z] += np.where(body[z] & ~metal[z], streak, 0).astype(np.float32)
    image[metal] = metal_hu
    rows, cols = np.nonzero(body.any(axis=0))
    if len(rows):
        cy, cx, ry, rx = rows.mean(), cols.mean(), max(np.ptp(rows), 1) / 2, max(np.ptp(cols), 1) / 2
        rn2 = np.clip(((yy - cy) / ry) ** 2 + ((xx - cx) / rx) ** 2, 0, 1)
        image -= (cup * (1 - rn2))[None] * body
    return {"rays": rays, "amplitude_hu": round(amplitude, 1), "length_mm": round(length, 1),
            "cupping_hu": round(cup, 1)}


# Tumour contrast against the liver per phase and kind, (low, high) HU added to the liver's;
# the portal-venous phase keeps its absolute ranges (see `_paint_tumour`).
TUMOUR_CONTRAST = {
    "non-contrast": {"hypodense": (-35, -10), "hyperdense": (-20, -8)},
    "arterial": {"hypodense": (-50, -20), "hyperdense": (40, 90)},
    "delayed": {"hypodense": (-45, -15), "hyperdense": (-30, -10)},
}


def _tumour_hu(rng, kind, liver_hu, phase, min_contrast_hu=None):
    value = _drawn_tumour_hu(rng, kind, liver_hu, phase)
    if min_contrast_hu is not None and abs(value - liver_hu) < min_contrast_hu:
        # A fatty liver (0-40 HU) can be as dark as a cyst or a hypodense tumour: keep the lesion visible,
        # darker when it can be, else brighter than the liver (as lesions look in severe steatosis).
        below = liver_hu - min_contrast_hu
        value = below if kind != "hyperdense" and below >= -5 else liver_hu + min_contrast_hu
    return float(value)


def _drawn_tumour_hu(rng, kind, liver_hu, phase):
    if kind == "cyst":
        return float(rng.uniform(0, 20))
    if phase == "portal-venous":
        if kind == "hypodense":
            return float(np.clip(liver_hu - rng.uniform(15, 60), 30, 90))
        # Hyperdense means denser than this liver: a draw of 130 in a 130 HU liver would be an
        # isodense lesion no reader (or model) can see, labelled as a lesion.
        return max(float(rng.uniform(130, 170)), liver_hu + 20.0)
    return max(liver_hu + float(rng.uniform(*TUMOUR_CONTRAST[phase][kind])), 10.0)


def _paint_tumour(rng, clean, lesion, liver_hu, spacing, phase="portal-venous", min_contrast_hu=None):
    region = clean[lesion.slices]
    mask, level = lesion.mask, lesion.level
    kind = lesion.kind
    base = _tumour_hu(rng, kind, liver_hu, phase, min_contrast_hu)
    values = np.full(mask.shape, base, np.float32)
    parts = {"hu": round(base, 1)}
    if kind != "cyst":
        values += rng.uniform(4, 12) * smooth_noise(rng, mask.shape, cells=4)
        min_voxels = lesion.diameter_mm / max(spacing[1:])
        if lesion.diameter_mm > 25 and rng.random() < 0.4 and min_voxels > 4:
            core_hu = float(rng.uniform(10, 30))
            values[level < 0.45] = core_hu
            parts["necrotic_core_hu"] = round(core_hu, 1)
        if rng.random() < 0.3 and min_voxels > 4 and phase != "non-contrast":
            rim_hu = base + float(rng.uniform(30, 60))
            values[level > 0.8] = rim_hu
            parts["enhancing_rim_hu"] = round(rim_hu, 1)
    region[mask] = values[mask]
    lesion.parts.update(parts)
    return lesion.info()
