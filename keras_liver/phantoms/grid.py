"""The physical grid a phantom is drawn on, and shape primitives evaluated on it."""

import numpy as np


class Grid:
    """Voxel centres in patient millimetres, array order (z, y, x).

    Axes follow the package's canonical LPS voxel order: ``x`` grows towards
    the patient's left, ``y`` towards posterior, ``z`` towards superior. The
    body axis passes through ``x = y = 0``.

    Args:
        shape: ``(nz, ny, nx)``.
        spacing: ``(sz, sy, sx)`` in mm.
        z0: Position (mm) of slice 0.
    """

    def __init__(self, shape, spacing, z0: float):
        self.shape = tuple(int(n) for n in shape)
        self.spacing = tuple(float(s) for s in spacing)
        nz, ny, nx = self.shape
        sz, sy, sx = self.spacing
        self.z = z0 + np.arange(nz) * sz
        self.y = (np.arange(ny) - (ny - 1) / 2) * sy
        self.x = (np.arange(nx) - (nx - 1) / 2) * sx

    def affine(self) -> np.ndarray:
        """Voxel (x, y, z) index to RAS world (LPS axes, so x and y columns are negative)."""
        sz, sy, sx = self.spacing
        affine = np.diag([-sx, -sy, sz, 1.0])
        affine[:3, 3] = [-self.x[0], -self.y[0], self.z[0]]
        return affine

    def window(self, center, half):
        """Index box around ``center`` (x, y, z mm) of half-size ``half`` (mm), clipped.

        Returns:
            ``(slices, (Z, Y, X))`` with broadcastable local coordinate arrays
            relative to ``center``, or ``(None, None)`` when the box misses the grid.
        """
        slices, coords = [], []
        for axis_coords, c, h in ((self.z, center[2], half[2]), (self.y, center[1], half[1]),
                                  (self.x, center[0], half[0])):
            lo = np.searchsorted(axis_coords, c - h, side="left")
            hi = np.searchsorted(axis_coords, c + h, side="right")
            if hi <= lo:
                return None, None
            slices.append(slice(lo, hi))
            coords.append(axis_coords[lo:hi] - c)
        z, y, x = coords
        return tuple(slices), (z[:, None, None], y[None, :, None], x[None, None, :])


def _hat_weights(n: int, cells: int) -> np.ndarray:
    """(n, cells + 1) linear-interpolation weights from a coarse lattice to n samples."""
    pos = np.linspace(0, cells, n) if n > 1 else np.zeros(1)
    knots = np.arange(cells + 1)
    return np.clip(1 - np.abs(pos[:, None] - knots[None, :]), 0, None).astype(np.float32)


def smooth_noise(rng, shape, cells: int = 6) -> np.ndarray:
    """Zero-mean, unit-std low-frequency noise of ``shape``.

    White noise on a coarse lattice of about ``cells`` cells along the
    longest axis, interpolated linearly by separable matrix products (fast
    for 512 x 512 x N grids).
    """
    counts = [max(1, int(round(cells * n / max(shape)))) for n in shape]
    coarse = rng.standard_normal([c + 1 for c in counts]).astype(np.float32)
    wz, wy, wx = (_hat_weights(n, c) for n, c in zip(shape, counts))
    field = np.einsum("abc,xc->abx", coarse, wx)
    field = np.einsum("abx,yb->ayx", field, wy)
    field = np.tensordot(wz, field, axes=(1, 0))
    field -= field.mean()
    std = float(field.std()) or 1.0
    field /= std
    return field


def ellipsoid_level(coords, radii, rotation=None) -> np.ndarray:
    """Normalised radius of an ellipsoid: < 1 inside, 1 on the surface.

    Args:
        coords: ``(Z, Y, X)`` local coordinates (mm) relative to the centre.
        radii: Semi-axes ``(rx, ry, rz)`` in mm.
        rotation: Optional 3 x 3 rotation (applied to x, y, z).
    """
    z, y, x = coords
    if rotation is not None:
        r = rotation
        x, y, z = (r[0, 0] * x + r[0, 1] * y + r[0, 2] * z,
                   r[1, 0] * x + r[1, 1] * y + r[1, 2] * z,
                   r[2, 0] * x + r[2, 1] * y + r[2, 2] * z)
    return np.sqrt((x / radii[0]) ** 2 + (y / radii[1]) ** 2 + (z / radii[2]) ** 2)


def random_rotation(rng, max_angle_deg: float = 25.0) -> np.ndarray:
    """A rotation about a random axis by up to ``max_angle_deg``."""
    axis = rng.standard_normal(3)
    axis /= np.linalg.norm(axis)
    angle = np.deg2rad(rng.uniform(-max_angle_deg, max_angle_deg))
    k = np.array([[0, -axis[2], axis[1]], [axis[2], 0, -axis[0]], [-axis[1], axis[0], 0]])
    return np.eye(3) + np.sin(angle) * k + (1 - np.cos(angle)) * (k @ k)


def capsule_distance(coords, a, b) -> np.ndarray:
    """Distance (mm) from each voxel to the segment ``a``-``b`` (points relative to the window centre)."""
    z, y, x = coords
    a = np.asarray(a, dtype=np.float64)
    d = np.asarray(b, dtype=np.float64) - a
    length2 = float(d @ d) or 1e-9
    t = ((x - a[0]) * d[0] + (y - a[1]) * d[1] + (z - a[2]) * d[2]) / length2
    t = np.clip(t, 0.0, 1.0)
    return np.sqrt((x - a[0] - t * d[0]) ** 2 + (y - a[1] - t * d[1]) ** 2 + (z - a[2] - t * d[2]) ** 2)
