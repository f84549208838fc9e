"""Abdominal anatomy shared by the CT and the DCE-MRI phantoms.

The body is drawn as a tissue map (one code per voxel, see `Tissue`) on a
`Grid` in patient millimetres; each modality then turns tissues into
intensities (HU for CT, contrast kinetics and T1 for MR). Shapes are
implicit functions evaluated only inside their bounding boxes, so a
512 x 512 x 100 case stays fast.
"""

import dataclasses
import enum

import numpy as np

from keras_liver.phantoms.grid import Grid, capsule_distance, ellipsoid_level, random_rotation, smooth_noise
from keras_liver.phantoms.variety import Variety


class Tissue(enum.IntEnum):
    """Tissue codes of the anatomy map."""

    AIR = 0
    LUNG = 1
    FAT = 2
    SKIN = 3
    MUSCLE = 4
    BONE_CORTEX = 5
    BONE_MARROW = 6
    CSF = 7
    LIVER = 8
    SPLEEN = 9
    KIDNEY_CORTEX = 10
    KIDNEY_MEDULLA = 11
    STOMACH_WALL = 12
    GAS = 13
    FLUID = 14
    BOWEL_CONTENT = 15
    AORTA = 16
    IVC = 17
    PORTAL_VEIN = 18
    HEPATIC_VEIN = 19
    GALLBLADDER = 20
    HEART = 21
    TUMOUR = 22
    TUMOUR_CORE = 23
    TUMOUR_RIM = 24
    MASS = 25  # a mass outside the liver (label: background)
    TABLE = 26
    METAL = 27


LIVER_LABEL_TISSUES = (Tissue.LIVER, Tissue.PORTAL_VEIN, Tissue.HEPATIC_VEIN)
TUMOUR_TISSUES = (Tissue.TUMOUR, Tissue.TUMOUR_CORE, Tissue.TUMOUR_RIM)


@dataclasses.dataclass
class Lesion:
    """One lesion: where it is and its normalised radius inside its box."""

    lesion_id: int
    kind: str
    centre_mm: tuple
    diameter_mm: float
    slices: tuple
    level: np.ndarray  # normalised radius in the box; >= 1 outside the lesion
    mask: np.ndarray  # lesion voxels in the box (clipped to the liver)
    touches_surface: bool
    parts: dict = dataclasses.field(default_factory=dict)

    def info(self) -> dict:
        """JSON-friendly description."""
        return {
            "id": self.lesion_id,
            "kind": self.kind,
            "centre_mm": [round(float(c), 2) for c in self.centre_mm],
            "diameter_mm": round(float(self.diameter_mm), 2),
            "touches_surface": bool(self.touches_surface),
            "voxels": int(self.mask.sum()),
            **self.parts,
        }


@dataclasses.dataclass
class Anatomy:
    """The drawn body: tissue codes, lesion ids, a texture field and the geometry.

    ``mass_id`` (with a `Variety`) holds the ids of the masses outside the liver (0: none),
    ``masses`` their descriptions.
    """

    grid: Grid
    tissue: np.ndarray
    lesion_id: np.ndarray
    texture: np.ndarray
    lesions: list
    params: dict
    mass_id: np.ndarray | None = None
    masses: list = dataclasses.field(default_factory=list)

    def label(self) -> np.ndarray:
        """LiTS labels: 0 background, 1 liver (with its vessels), 2 tumour."""
        label = np.isin(self.tissue, LIVER_LABEL_TISSUES).astype(np.uint8)
        label[self.lesion_id > 0] = 2
        return label


def _soft_min(levels, k: float = 0.25):
    """Polynomial smooth minimum: a union of shapes without a crease where they meet."""
    out = levels[0]
    for other in levels[1:]:
        h = np.clip(0.5 + 0.5 * (other - out) / k, 0.0, 1.0)
        out = other + (out - other) * h - k * h * (1.0 - h)
    return out


def _paint(tissue, slices, mask, code, protect=()):
    region = tissue[slices]
    if protect:
        mask = mask & ~np.isin(region, protect)
    region[mask] = code


def build_anatomy(rng, shape, spacing, z0, lesions=(), gallbladder=None, variety: Variety | None = None,
                  variety_rng=None) -> Anatomy:
    """Draw the abdomen.

    Args:
        rng: NumPy generator (all randomness comes from it).
        shape: ``(nz, ny, nx)``.
        spacing: ``(sz, sy, sx)`` mm.
        z0: z (mm) of slice 0; the liver centre is near z = 0.
        lesions: Lesion requests ``(kind, diameter_mm, touches_surface)``.
        gallbladder: Draw a gallbladder (``None``: with probability 0.6).
        variety: Wider anatomy and pathology (`Variety`); ``None``: the base phantom.
        variety_rng: The generator of the variety's own shapes (required with ``variety``),
            so ``rng``'s draws, and the base anatomy, stay those of the seed.

    Returns:
        The `Anatomy`.
    """
    grid = Grid(shape, spacing, z0)
    if variety is not None:
        grid.x = grid.x - variety.offset_mm[0]  # the patient's axis sits off the field's centre
        grid.y = grid.y - variety.offset_mm[1]
    nz, ny, nx = grid.shape
    tissue = np.zeros(grid.shape, np.uint8)
    a = rng.uniform(135, 170)  # body half-width (mm)
    b = rng.uniform(95, 125)  # body half-depth
    skin_mm, fat_mm, muscle_mm = 2.0, rng.uniform(10, 30), rng.uniform(8, 14)
    if variety is not None:
        a, b = variety.body_half_mm
        fat_mm = min(variety.fat_mm, 0.45 * min(a, b))
    params = {"body_half_width_mm": a, "body_half_depth_mm": b, "subcutaneous_fat_mm": fat_mm}

    # Body wall: one 2D ellipse, scaled slightly along z.
    y2, x2 = grid.y[:, None], grid.x[None, :]
    theta = np.arctan2(y2 / b, x2 / a)
    wobble = 1 + 0.03 * np.sin(3 * theta + rng.uniform(0, 2 * np.pi))
    rn2d = np.sqrt((x2 / a) ** 2 + (y2 / b) ** 2) / wobble
    zscale = (1 + 0.04 * np.sin(grid.z / 90.0 + rng.uniform(0, 2 * np.pi)))[:, None, None]
    rn = rn2d[None] / zscale  # normalised radius, 1 at the skin
    depth = (1 - rn) * min(a, b)  # approximate depth below the skin, mm
    fat2d = fat_mm * (1 + 0.4 * np.cos(theta)) * (y2 < 0.6 * b) + 0.5 * fat_mm * (y2 >= 0.6 * b)
    fat_here = fat2d[None]
    body = rn <= 1
    tissue[body] = Tissue.SKIN
    tissue[depth > skin_mm] = Tissue.FAT
    wall = (depth > skin_mm + fat_here) & (depth <= skin_mm + fat_here + muscle_mm)
    tissue[wall] = Tissue.MUSCLE
    cavity = depth > skin_mm + fat_here + muscle_mm
    params["cavity_fraction"] = float(cavity.mean())

    # Spine: vertebral body with cortex, canal, paraspinal muscles.
    vy, vr = 0.55 * b, rng.uniform(16, 20)
    sl, coords = grid.window((0.0, vy + 10, grid.z.mean()), (4 * vr, 3 * vr, 1e6))
    if sl is not None:
        z, y, x = coords
        r_body = np.sqrt(x**2 + (y + 10) ** 2)
        r_canal = np.sqrt(x**2 + (y - vr + 2) ** 2)
        shape_b = np.broadcast_shapes(r_body.shape, z.shape)
        para = ((np.abs(x) - 1.6 * vr) / (0.9 * vr)) ** 2 + ((y - vr) / (1.2 * vr)) ** 2 < 1
        _paint(tissue, sl, np.broadcast_to(para, shape_b), Tissue.MUSCLE)
        _paint(tissue, sl, np.broadcast_to(r_body < vr, shape_b), Tissue.BONE_CORTEX)
        _paint(tissue, sl, np.broadcast_to(r_body < vr - 2.5, shape_b), Tissue.BONE_MARROW)
        arch = (r_canal < 0.75 * vr) & (y > vr - 8)
        _paint(tissue, sl, np.broadcast_to(arch, shape_b), Tissue.BONE_CORTEX)
        _paint(tissue, sl, np.broadcast_to(r_canal < 0.45 * vr, shape_b), Tissue.CSF)
    spine_protect = (Tissue.BONE_CORTEX, Tissue.BONE_MARROW, Tissue.CSF)

    # Liver: smooth union of deformed lobes, kept inside the cavity.
    liver_c = np.array([-0.18 * a, -0.05 * b, 0.0])
    lobes = [
        (np.array([-0.42 * a, 0.0 * b, -5.0]), (0.40 * a, 0.62 * b, 78.0)),
        (np.array([0.10 * a, -0.38 * b, 25.0]), (0.33 * a, 0.30 * b, 42.0)),
        (np.array([-0.08 * a, 0.22 * b, 15.0]), (0.12 * a, 0.18 * b, 35.0)),
    ]
    lobes = [(c * rng.uniform(0.9, 1.1, 3) + rng.normal(0, 4, 3), np.array(r) * rng.uniform(0.88, 1.12, 3))
             for c, r in lobes]
    if variety is not None:
        lobes = _liver_shape(lobes, variety.liver_shape, a, b)
    half = np.array([0.75 * a, 0.85 * b, 110.0 if variety is None else 150.0])
    sl, coords = grid.window(liver_c, half)
    z, y, x = coords
    levels = [ellipsoid_level((z - (c[2] - liver_c[2]), y - (c[1] - liver_c[1]), x - (c[0] - liver_c[0])), r,
                              random_rotation(rng, 12)) for c, r in lobes]
    box_shape = tuple(s.stop - s.start for s in sl)
    deform = smooth_noise(rng, box_shape, cells=5)
    liver_level = _soft_min([np.broadcast_to(lv, box_shape) for lv in levels]) + 0.09 * deform
    if variety is not None and variety.liver_shape == "cirrhotic":  # a nodular surface
        liver_level = liver_level + 0.06 * smooth_noise(variety_rng, box_shape, cells=16)
    liver = (liver_level < 1) & cavity[sl]
    liver &= ~np.isin(tissue[sl], spine_protect)
    _paint(tissue, sl, liver, Tissue.LIVER)
    liver_box = sl

    # Neighbouring organs never overwrite the liver.
    protect = (Tissue.LIVER,) + spine_protect

    def organ(centre, radii, code, rot=15, inner=None):
        sl_o, c_o = grid.window(centre, np.asarray(radii) * 1.3)
        if sl_o is None:
            return None, None
        level = ellipsoid_level(c_o, radii, random_rotation(rng, rot))
        box = tuple(s.stop - s.start for s in sl_o)
        level = level + 0.05 * smooth_noise(rng, box, cells=3)
        inside = (level < 1) & cavity[sl_o]
        _paint(tissue, sl_o, inside, code, protect)
        if inner is not None:
            _paint(tissue, sl_o, inside & (level < inner[0]), inner[1], protect)
        return sl_o, level

    spleen = 1.0 if variety is None else variety.spleen_scale
    organ((0.55 * a, 0.30 * b, 25.0), (0.17 * a * spleen, 0.30 * b * min(spleen, 1.3), 50.0 * spleen), Tissue.SPLEEN)
    for side in (-1, 1):
        organ((side * 0.36 * a, 0.45 * b, -60.0 + 10 * side), (27.0, 30.0, 52.0), Tissue.KIDNEY_CORTEX,
              inner=(0.62, Tissue.KIDNEY_MEDULLA))
    sl_s, lv_s = organ((0.28 * a, -0.30 * b, 30.0), (0.22 * a, 0.24 * b, 48.0), Tissue.STOMACH_WALL)
    if sl_s is not None:
        region = tissue[sl_s]
        lumen = (lv_s < 0.86) & (region == Tissue.STOMACH_WALL)
        yy = np.broadcast_to(grid.y[sl_s[1]][None, :, None], lumen.shape)
        gas_line = -0.30 * b - rng.uniform(0.1, 0.5) * 0.24 * b
        below = Tissue.BOWEL_CONTENT if variety is not None and variety.stomach_food else Tissue.FLUID
        region[lumen] = np.where(yy[lumen] < gas_line, Tissue.GAS, below)
    for _ in range(rng.integers(6, 13)):
        centre = (rng.uniform(-0.6, 0.6) * a, rng.uniform(-0.6, 0.2) * b, rng.uniform(-130, -20))
        r = rng.uniform(12, 24)
        sl_b, lv_b = organ(centre, (r, r * rng.uniform(0.7, 1.3), r * rng.uniform(1, 2.5)), Tissue.STOMACH_WALL, rot=60)
        if sl_b is not None:
            region = tissue[sl_b]
            lumen = (lv_b < 0.8) & (region == Tissue.STOMACH_WALL)
            region[lumen] = rng.choice([Tissue.GAS, Tissue.FLUID, Tissue.BOWEL_CONTENT], p=[0.3, 0.35, 0.35])

    # Lungs and heart above the diaphragm domes.
    dome_r, dome_l = 75 + rng.uniform(0, 15), 65 + rng.uniform(0, 15)
    above = grid.z[:, None, None] - np.where(x2 < 0, dome_r, dome_l)[None] + 0.0025 * (x2**2 + (y2 + 20) ** 2)[None] > 0
    thorax = above & cavity & ~np.isin(tissue, protect)
    heart_top = max(dome_r, dome_l) + 60.0
    heart_level = np.sqrt(((x2 - 0.08 * a) / (0.3 * a)) ** 2 + ((y2 + 0.2 * b) / (0.5 * b)) ** 2)[None] + np.abs(
        grid.z[:, None, None] - heart_top) / 90.0
    heart = thorax & (heart_level < 1)
    tissue[thorax] = Tissue.LUNG
    tissue[heart] = Tissue.HEART

    # Ribs: tubes in the wall, sloping down anteriorly (computed on the wall ring only).
    rib_r = rng.uniform(4.0, 6.0)
    rib_depth2d = skin_mm + fat2d + 0.5 * muscle_mm
    allowed = ~((np.abs(x2) < 0.28 * a) & (y2 < 0)) & ~((np.abs(x2) < 30) & (y2 > 0))
    depth2d = (1 - rn2d) * min(a, b)
    ring_y, ring_x = np.nonzero((np.abs(depth2d - rib_depth2d) < rib_r + 0.06 * min(a, b)) & allowed)
    zs = grid.z[:, None]
    ring_depth = (1 - rn2d[ring_y, ring_x][None] / zscale[:, :, 0]) * min(a, b)
    ring_target = rib_depth2d[ring_y, ring_x][None]
    ring_slope = (1 - grid.y[ring_y] / b)[None] * 22.0
    ring = tissue[:, ring_y, ring_x]
    for z_k in np.arange(-40, grid.z[-1] + 60, rng.uniform(22, 28)):
        dz = zs - (z_k - ring_slope)
        dist = np.sqrt((ring_depth - ring_target) ** 2 + dz**2)
        ring[dist < rib_r] = Tissue.BONE_CORTEX
        ring[dist < rib_r - 1.8] = Tissue.BONE_MARROW
    tissue[:, ring_y, ring_x] = ring

    # Great vessels.
    for code, xc, yc, r in ((Tissue.AORTA, 0.08 * a, vy - vr - 14, rng.uniform(10, 13)),
                            (Tissue.IVC, -0.14 * a, vy - vr - 12, rng.uniform(9, 12))):
        sl_v, coords = grid.window((xc, yc, grid.z.mean()), (r + 1, r + 1, 1e6))
        if sl_v is not None:  # a very coarse grid can miss a thin vessel entirely
            _, y, x = coords
            tube = np.broadcast_to((x**2 + y**2) < r**2, tuple(s.stop - s.start for s in sl_v))
            _paint(tissue, sl_v, tube & body[sl_v], code, spine_protect)

    # Portal tree from the hilum; hepatic veins from the top of the IVC.
    segments = []

    def branch(start, direction, length, radius, depth_left, code):
        end = start + direction * length
        segments.append((start, end, radius, code))
        if depth_left == 0:
            return
        for _ in range(2):
            d = direction + rng.normal(0, 0.55, 3)
            d /= np.linalg.norm(d)
            branch(end, d, length * rng.uniform(0.6, 0.85), radius * 0.72, depth_left - 1, code)

    hilum = np.array([-0.20 * a, 0.05 * b, -15.0])
    for d in ([-1, 0.1, 0.2], [0.9, -0.6, 0.3]):
        d = np.array(d, float) / np.linalg.norm(d)
        branch(hilum, d, rng.uniform(25, 40), rng.uniform(5, 7), 3, Tissue.PORTAL_VEIN)
    top = np.array([-0.14 * a, vy - vr - 12, 55.0])
    for d in ([-1, -0.6, 0.3], [0.1, -1, 0.3], [1, -0.7, 0.2]):
        d = np.array(d, float) / np.linalg.norm(d)
        branch(top, d, rng.uniform(25, 40), rng.uniform(4, 6), 2, Tissue.HEPATIC_VEIN)
    for start, end, radius, code in segments:
        centre = (start + end) / 2
        half_v = np.abs(end - start) / 2 + radius + 1
        sl_v, coords = grid.window(centre, half_v)
        if sl_v is None:
            continue
        dist = capsule_distance(coords, start - centre, end - centre)
        inside = (dist < radius) & (tissue[sl_v] == Tissue.LIVER)
        _paint(tissue, sl_v, inside, code)

    if gallbladder is None:
        gallbladder = bool(rng.random() < 0.6)
    if gallbladder:
        sl_g, c_g = grid.window((-0.22 * a, -0.42 * b, -35.0), (25.0, 25.0, 45.0))
        if sl_g is not None:
            gb = ellipsoid_level(c_g, (14.0, 16.0, 34.0), random_rotation(rng, 20)) < 1
            _paint(tissue, sl_g, gb & cavity[sl_g], Tissue.GALLBLADDER, spine_protect)
    params["gallbladder"] = gallbladder

    mass_id, masses = None, []
    if variety is not None:
        from keras_liver.phantoms.variety_paint import paint_variety

        mass_id, masses = paint_variety(variety_rng, grid, tissue, variety,
                                        {"a": a, "b": b, "rn": rn, "rn2d": rn2d, "depth": depth, "cavity": cavity,
                                         "wall_mm": skin_mm + fat_here + muscle_mm, "spine": (vy, vr), "hilum": hilum,
                                         "protect": (Tissue.LIVER, Tissue.PORTAL_VEIN, Tissue.HEPATIC_VEIN)
                                         + spine_protect})
        params["variety"] = variety.info()
    texture = smooth_noise(rng, grid.shape, cells=12)
    lesion_id = np.zeros(grid.shape, np.uint8)
    placed = []
    for n, (kind, diameter, surface) in enumerate(lesions, start=1):
        lesion = _place_lesion(rng, grid, tissue, liver_box, n, kind, diameter, surface)
        if lesion is not None:
            lesion_id[lesion.slices][lesion.mask] = lesion.lesion_id
            tissue[lesion.slices][lesion.mask] = Tissue.TUMOUR
            placed.append(lesion)
    return Anatomy(grid, tissue, lesion_id, texture, placed, params, mass_id, masses)


def _liver_shape(lobes, shape, a, b):
    """The three lobes ``[(centre, radii)]`` (right, left, caudate) changed for a liver shape."""
    (rc, rr), (lc, lr), (cc, cr) = lobes
    if shape == "riedel":  # a tongue of the right lobe reaching down towards the pelvis
        return lobes + [(rc + np.array([-0.05 * a, 0.12 * b, -70.0]), np.array([0.14 * a, 0.2 * b, 48.0]))]
    if shape == "atrophic_left":
        return [(rc, rr), (lc, lr * np.array([0.6, 0.6, 0.7])), (cc, cr)]
    if shape == "hepatomegaly":
        return [(c, r * 1.2) for c, r in lobes]
    if shape == "cirrhotic":  # a shrunken right lobe, an enlarged caudate
        return [(rc, rr * 0.85), (lc, lr), (cc, cr * 1.35)]
    return lobes


def _place_lesion(rng, grid, tissue, liver_box, lesion_id, kind, diameter, surface):
    """Put one irregular lesion inside the liver (touching its surface if asked)."""
    liver_idx = np.argwhere(tissue[liver_box] == Tissue.LIVER)
    if len(liver_idx) == 0:
        return None
    offset = np.array([s.start for s in liver_box])
    radius = diameter / 2
    best = None
    for _ in range(40):
        zi, yi, xi = liver_idx[rng.integers(len(liver_idx))] + offset
        centre = np.array([grid.x[xi], grid.y[yi], grid.z[zi]])
        radii = radius * rng.uniform(0.8, 1.2, 3)
        sl, coords = grid.window(centre, radii * 1.4 + max(grid.spacing))
        box = tuple(s.stop - s.start for s in sl)
        level = np.broadcast_to(ellipsoid_level(coords, radii, random_rotation(rng, 40)), box)
        inside = level < 1
        n_in = int(inside.sum())
        if n_in == 0:
            continue
        in_liver = np.isin(tissue[sl], LIVER_LABEL_TISSUES) | np.isin(tissue[sl], TUMOUR_TISSUES)
        frac = float((inside & in_liver).sum()) / n_in
        ok = (0.45 <= frac <= 0.92) if surface else frac >= 0.97
        if ok or best is None or (not surface and frac > best[0]):
            best = (frac, centre, sl, level, inside & in_liver)
        if ok:
            break
    frac, centre, sl, level, mask = best
    level = level + 0.12 * smooth_noise(rng, level.shape, cells=3)
    in_liver = np.isin(tissue[sl], LIVER_LABEL_TISSUES) | np.isin(tissue[sl], TUMOUR_TISSUES)
    mask = (level < 1) & in_liver
    if not mask.any():
        return None
    return Lesion(lesion_id, kind, tuple(centre), diameter, sl, np.asarray(level), mask, frac < 0.97)
