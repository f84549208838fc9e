"""Painting a `Variety` into an anatomy's tissue map (called by `build_anatomy`).

Nothing here overwrites the liver, its vessels or the spine: a mass beside the liver stays
background in the label, however liver-like it looks.
"""

import numpy as np
from scipy import ndimage

from keras_liver.phantoms.anatomy import Tissue, _paint
from keras_liver.phantoms.grid import capsule_distance, ellipsoid_level, random_rotation, smooth_noise


def _kidney_centre(side, a, b):
    return np.array([side * 0.36 * a, 0.45 * b, -60.0 + 10 * side])


def _mass_centre(rng, site, ctx):
    a, b = ctx["a"], ctx["b"]
    vy, vr = ctx["spine"]
    side = float(rng.choice([-1, 1]))
    if site == "renal":
        return _kidney_centre(side, a, b) + np.array([side * rng.uniform(0, 15), rng.uniform(-10, 10),
                                                      rng.uniform(-25, 25)])
    if site == "adrenal":
        return _kidney_centre(side, a, b) + np.array([-side * 0.08 * a, -0.1 * b, rng.uniform(50, 65)])
    if site == "pancreatic":
        return np.array([rng.uniform(-0.05, 0.3) * a, rng.uniform(0.0, 0.2) * b, rng.uniform(-45, -15)])
    if site == "lymph_node":
        return np.array([0.08 * a + rng.uniform(-30, 30), vy - vr - 14 + rng.uniform(-20, 5), rng.uniform(-90, 10)])
    return np.array([rng.uniform(-0.5, 0.5) * a, rng.uniform(-0.55, 0.1) * b, rng.uniform(-130, -30)])  # bowel


def _paint_masses(rng, grid, tissue, variety, ctx):
    mass_id = np.zeros(grid.shape, np.uint8)
    placed = []
    for k, (site, kind, diameter) in enumerate(variety.masses, start=1):
        if site == "lymph_node":
            diameter = min(diameter, 35.0)
        _paint_mass(rng, grid, tissue, ctx, mass_id, placed, k, site, kind, diameter, _mass_centre(rng, site, ctx))
    return mass_id, placed


def _paint_hilar_masses(rng, grid, tissue, variety, ctx, mass_id, placed):
    """Masses pressed against the liver near its hilum (ids after the other masses').

    Each is centred just outside a liver edge voxel within 45 mm of the porta hepatis, so the
    protected liver flattens its inner face: a liver-like mass with no gap to the liver.
    """
    hilum = ctx["hilum"]  # where `build_anatomy` starts the portal tree
    sl, _ = grid.window(hilum, (60.0, 60.0, 50.0))
    if sl is None:
        return
    liver = tissue[sl] == Tissue.LIVER
    edge = ndimage.binary_dilation(liver) & ~liver & ctx["cavity"][sl] & ~np.isin(tissue[sl], ctx["protect"])
    idx = np.argwhere(edge)
    if not len(idx):
        return
    offset = np.array([s.start for s in sl])
    points = np.stack([grid.x[idx[:, 2] + offset[2]], grid.y[idx[:, 1] + offset[1]], grid.z[idx[:, 0] + offset[0]]], 1)
    near = np.linalg.norm(points - hilum, axis=1) < 45.0
    points = points[near] if near.any() else points
    inward = np.argwhere(liver).mean(0) + offset
    liver_mid = np.array([np.interp(inward[2], np.arange(grid.shape[2]), grid.x),
                          np.interp(inward[1], np.arange(grid.shape[1]), grid.y),
                          np.interp(inward[0], np.arange(grid.shape[0]), grid.z)])
    for k, (kind, diameter) in enumerate(variety.hilar_masses, start=len(variety.masses) + 1):
        point = points[rng.integers(len(points))]
        away = point - liver_mid
        away /= max(np.linalg.norm(away), 1e-6)
        _paint_mass(rng, grid, tissue, ctx, mass_id, placed, k, "hilar", kind, diameter, point + 0.35 * diameter * away)


def _paint_mass(rng, grid, tissue, ctx, mass_id, placed, k, site, kind, diameter, centre):
    """Paint one mass (never over the liver, its vessels, the spine or another mass) and describe it."""
    radii = diameter / 2 * rng.uniform(0.8, 1.2, 3)
    sl, coords = grid.window(centre, radii * 1.4 + max(grid.spacing))
    if sl is None:
        return
    box = tuple(s.stop - s.start for s in sl)
    level = np.broadcast_to(ellipsoid_level(coords, radii, random_rotation(rng, 40)), box)
    level = level + 0.12 * smooth_noise(rng, box, cells=3)
    inside = (level < 1) & ctx["cavity"][sl] & ~np.isin(tissue[sl], ctx["protect"] + (Tissue.MASS,))
    if not inside.any():
        return
    _paint(tissue, sl, inside, Tissue.MASS)
    mass_id[sl][inside] = k
    placed.append({"id": k, "site": site, "kind": kind, "diameter_mm": round(float(diameter), 1),
                   "centre_mm": [round(float(c), 1) for c in centre], "voxels": int(inside.sum())})


def _paint_kidney_cysts(rng, grid, tissue, variety, ctx):
    for side, diameter in variety.kidney_cysts:
        centre = _kidney_centre(side, ctx["a"], ctx["b"]) + rng.uniform(-15, 15, 3) * np.array([1, 1, 2])
        r = diameter / 2
        sl, coords = grid.window(centre, (r + 2, r + 2, r + 2))
        if sl is not None:
            ball = np.broadcast_to(ellipsoid_level(coords, (r, r, r)) < 1, tuple(s.stop - s.start for s in sl))
            _paint(tissue, sl, ball & ctx["cavity"][sl], Tissue.FLUID, ctx["protect"] + (Tissue.MASS,))


def _paint_columns(tissue, mask2d, code, where=(Tissue.AIR,)):
    """Paint ``code`` in every slice's voxels of a 2D mask that hold one of ``where``."""
    ys, xs = np.nonzero(mask2d)
    if not len(ys):
        return
    column = tissue[:, ys, xs]
    column[np.isin(column, where)] = code
    tissue[:, ys, xs] = column


def _paint_arms_and_table(rng, grid, tissue, variety, ctx):
    a, b = ctx["a"], ctx["b"]
    y2, x2 = grid.y[:, None], grid.x[None, :]
    if variety.arms == "side":
        for side in (-1, 1):
            rx, ry = rng.uniform(35, 50), rng.uniform(40, 55)
            cx, cy = side * (a + rng.uniform(5, 30) + rx), rng.uniform(-0.3, 0.2) * b
            level = np.sqrt(((x2 - cx) / rx) ** 2 + ((y2 - cy) / ry) ** 2)
            bone = np.hypot(x2 - cx - side * rng.uniform(-8, 8), y2 - cy - rng.uniform(-8, 8))
            _paint_columns(tissue, level < 1, Tissue.SKIN)
            _paint_columns(tissue, level < 0.95, Tissue.FAT, (Tissue.SKIN,))
            _paint_columns(tissue, level < 0.75, Tissue.MUSCLE, (Tissue.FAT,))
            _paint_columns(tissue, bone < 12, Tissue.BONE_CORTEX, (Tissue.MUSCLE,))
            _paint_columns(tissue, bone < 8, Tissue.BONE_MARROW, (Tissue.BONE_CORTEX,))
    if variety.table:
        top = b * 1.02 + rng.uniform(2, 15) - 0.0008 * x2**2
        slab = (y2 > top) & (y2 < top + rng.uniform(8, 15)) & (np.abs(x2) < 0.5 * rng.uniform(420, 520))
        _paint_columns(tissue, slab, Tissue.TABLE)


def _paint_ascites(tissue, variety, ctx):
    if variety.ascites_mm <= 0:
        return
    depth, wall = ctx["depth"], ctx["wall_mm"]
    rim = ctx["cavity"] & (depth < wall + variety.ascites_mm) & (tissue == Tissue.FAT)
    tissue[rim] = Tissue.FLUID


def _paint_metal(rng, grid, tissue, variety, ctx):
    a, b = ctx["a"], ctx["b"]
    vy, _ = ctx["spine"]
    pieces = []
    if variety.metal == "spine":  # pedicle screws, two levels
        z = rng.uniform(-70, 10)
        for dz in (0.0, rng.uniform(25, 35)):
            for side in (-1, 1):
                start = np.array([side * 6.0, vy + 14, z + dz])
                pieces.append((start, start + np.array([side * 4.0, -30.0, 0.0]), 2.8))
    elif variety.metal == "clip":
        start = ctx["hilum"] + rng.uniform(-15, 15, 3)
        pieces.append((start, start + rng.normal(0, 1, 3) / 3 * 8, 1.2))
    elif variety.metal == "hip":
        side = float(rng.choice([-1, 1]))
        centre = np.array([side * 0.42 * a, 0.15 * b, grid.z[0] - rng.uniform(-10, 15)])
        pieces.append((centre, centre + np.array([0.0, 0.0, 1.0]), 25.0))
    for start, end, radius in pieces:
        centre = (start + end) / 2
        sl, coords = grid.window(centre, np.abs(end - start) / 2 + radius + 1)
        if sl is None:
            continue
        rod = capsule_distance(coords, start - centre, end - centre) < radius
        _paint(tissue, sl, rod, Tissue.METAL, ctx["protect"][:3])


def paint_variety(rng, grid, tissue, variety, ctx):
    """Paint masses, kidney cysts, arms, the table, ascites, metal and hilar masses into ``tissue`` in place.

    Args:
        rng: The variety's own generator.
        grid: The anatomy's `Grid`.
        tissue: ``(z, y, x)`` tissue codes (changed in place).
        variety: The `Variety`.
        ctx: Body geometry from `build_anatomy` (``a``, ``b``, ``depth``, ``cavity``, ``wall_mm``,
            ``spine``, ``hilum``, ``protect``).

    Returns:
        ``(mass_id uint8 (z, y, x), [mass descriptions])``.
    """
    mass_id, masses = _paint_masses(rng, grid, tissue, variety, ctx)
    _paint_kidney_cysts(rng, grid, tissue, variety, ctx)
    _paint_ascites(tissue, variety, ctx)
    _paint_arms_and_table(rng, grid, tissue, variety, ctx)
    _paint_metal(rng, grid, tissue, variety, ctx)
    if variety.hilar_masses:  # their own generator: the draws above stay those of a case without them
        _paint_hilar_masses(np.random.default_rng(variety.extra_seed), grid, tissue, variety, ctx, mass_id, masses)
    return mass_id, masses
