"""`PatchSampler`: deterministic random patches with foreground and tumour oversampling."""

import numpy as np
from scipy import ndimage

from keras_liver.errors import ConfigError


TUMOUR_SAMPLING = ("voxel", "lesion")
TISSUE_FACTOR = 8  # label + 8 * tissue code: one uint8 carries both (labels 0..7, tissue codes 0..31)


def split_tissue(combined):
    """``(label, tissue)`` of a patch label that carries tissue codes (NumPy or TensorFlow integers)."""
    return combined % TISSUE_FACTOR, combined // TISSUE_FACTOR


class PatchSampler:
    """Draws image/label patches from in-memory cases; patch ``i`` depends only on ``(seed, i)``.

    Each patch's centre is a random tumour voxel with probability
    ``tumour_fraction`` (from a case that has tumour), else a random liver
    voxel with probability ``foreground_fraction``, else any voxel. With the
    default ``tumour_fraction = 0.34`` at least a third of the patches
    contain tumour. Patches near the border are padded (image with its
    minimum, label with 0).

    Images may carry leading axes before ``(z, y, x)``, for example the time
    axis of a DCE series ``(t, z, y, x)``: every leading index is cut at the
    same place, so a series patch is ``(t, *patch, 1)``.

    Tumour draws (``tumour_sampling``): ``"voxel"`` picks a random tumour
    voxel of a random case with tumour, so a 60 mm lesion is drawn about 200
    times as often as a 10 mm one; ``"lesion"`` picks one lesion (a
    26-connected tumour component) uniformly among all lesions of all cases,
    then a voxel in it, so small lesions are seen as often as large ones.

    Hard negatives (``hard_fraction``, CT images without leading axes): that
    share of the draws that are not tumour-centred is centred on a liver
    voxel that does not look like liver, one whose locally averaged HU
    (the mean of its liver-labelled 3 x 3 x 3 neighbours) is more than
    ``hard_hu`` from the case's median liver HU:
    vessels cut across (bright in contrast phases, dark unenhanced), the
    structures a tumour model most often calls tumour. Cases without such
    voxels fall back to a liver-centred draw.

    Masses beside the liver (``mass_fraction``, CT with ``masses``): that share of the draws
    that are neither tumour- nor hard-negative-centred is centred on a voxel of a mass outside
    the liver (a phantom's ``Tissue.MASS``, labelled background): tumour-like tissue a liver
    model absorbs where it lies against the liver. ``masses`` gives each case's mass voxels as
    a boolean map or ``None``; cases without any fall back to the next draw.

    Beside the liver (``outside_fraction``, CT or series): that share of the draws that are
    neither tumour-, hard-negative- nor mass-centred is centred on a background voxel at most
    ``outside_voxels`` from the liver (26-connected dilation): the gallbladder, bowel, kidney
    and vessels at the liver's border, which a model trained mostly inside the liver calls
    lesion. Cases without liver fall back to the next draw.

    2.5D: with ``context_slices = k`` a 2D patch carries the ``k`` slices
    on each side of its centre slice as channels, ``(y, x, 2k + 1)`` in
    z order (centre at channel ``k``), repeating the first or last slice
    beyond the volume's ends; the label is the centre slice's.

    Where a lesion lies in its patch (``tumour_jitter``): with 0 a tumour draw's patch is
    centred on the drawn tumour voxel, so a lesion smaller than the patch is always near the
    patch's centre, which a model can learn as a prior that inference's sliding windows (where a
    lesion lies anywhere in a window) break. With ``j`` in (0, 1] the centre moves by a uniform
    random offset of up to ``j`` times half the patch (minus one voxel) along each axis, so the
    drawn voxel may lie anywhere in the patch (``j = 1``), never outside it.

    Args:
        images: List of ``(z, y, x)`` arrays (HU) or ``(..., z, y, x)`` series.
        labels: List of label arrays on the same grids.
        patch_size: ``(z, y, x)``; a 2-tuple samples ``(y, x)`` axial slices.
        tumour_fraction: Share of tumour-centred patches.
        foreground_fraction: Share of liver-centred patches among the rest.
        seed: Seed.
        context_slices: Neighbouring slices on each side as channels (2D patches only).
        tumour_sampling: ``"voxel"`` (default) or ``"lesion"`` (every lesion equally often).
        hard_fraction: Share of hard-negative-centred patches among the non-tumour draws.
        hard_hu: HU distance from the median liver that makes a liver voxel a hard negative.
        outside_fraction: Share of the remaining draws centred just outside the liver.
        outside_voxels: How far outside (voxels) such a centre may lie.
        tumour_jitter: How far from the patch's centre a tumour draw's voxel may lie, as a
            share of half the patch (0: centred).
        mass_fraction: Share of the draws after the hard negatives centred on a mass voxel.
        masses: Per-case boolean maps of mass voxels (or ``None`` for a case without), needed
            when ``mass_fraction > 0``.
        tissues: Optional per-case phantom tissue maps (``uint8``, like the labels): each
            patch's label then carries its tissue codes as ``label + TISSUE_FACTOR * tissue``
            (`split_tissue`), for per-tissue intensity randomisation (`augment_patch`).
    """

    def __init__(self, images, labels, patch_size, *, tumour_fraction: float = 0.34,
                 foreground_fraction: float = 0.5, seed: int = 0, context_slices: int = 0,
                 hard_fraction: float = 0.0, hard_hu: float = 25.0, tumour_sampling: str = "voxel",
                 outside_fraction: float = 0.0, outside_voxels: int = 4, tissues=None,
                 tumour_jitter: float = 0.0, mass_fraction: float = 0.0, masses=None):
        if len(images) != len(labels) or not images:
            raise ConfigError("PatchSampler: need as many label maps as images, at least one")
        if tissues is not None and len(tissues) != len(labels):
            raise ConfigError("PatchSampler: need one tissue map per case")
        self.tissues = None if tissues is None else [np.asarray(t, np.uint8) for t in tissues]
        if self.tissues is not None and any(t.shape != lab.shape for t, lab in zip(self.tissues, labels)):
            raise ConfigError("PatchSampler: every tissue map must match its label map's shape")
        if self.tissues is not None and max(int(t.max(initial=0)) for t in self.tissues) >= 256 // TISSUE_FACTOR:
            raise ConfigError(f"PatchSampler: tissue codes must stay under {256 // TISSUE_FACTOR}")
        self.images = [np.asarray(a) for a in images]
        self.labels = [np.asarray(a, np.uint8) for a in labels]
        self.two_d = len(patch_size) == 2
        self.patch = (1,) + tuple(int(p) for p in patch_size) if self.two_d else tuple(int(p) for p in patch_size)
        if len(self.patch) != 3:
            raise ConfigError(f"patch_size: (y, x) or (z, y, x), got {patch_size}")
        self.context = int(context_slices)
        if self.context < 0 or (self.context and not self.two_d):
            raise ConfigError(f"context_slices: a count >= 0 for 2D patches only, got {context_slices} with patch "
                              f"{tuple(patch_size)}")
        self.channels = 2 * self.context + 1
        self.tumour_fraction, self.foreground_fraction, self.seed = float(tumour_fraction), float(
            foreground_fraction), int(seed)
        self.tumour = [np.argwhere(lab == 2) for lab in self.labels]
        self.organ = [np.argwhere(lab > 0) for lab in self.labels]
        self.with_tumour = [k for k, t in enumerate(self.tumour) if len(t)]
        self.pad = [float(a.min()) for a in self.images]
        for k, (a, lab) in enumerate(zip(self.images, self.labels)):
            if a.shape[-3:] != lab.shape or lab.ndim != 3:
                raise ConfigError(f"PatchSampler: case {k} has image {a.shape} but label {lab.shape}; the label "
                                  f"must be (z, y, x) and match the image's last three axes")
        self.lead = self.images[0].shape[:-3]
        if any(a.shape[:-3] != self.lead for a in self.images):
            raise ConfigError("PatchSampler: every image needs the same leading (non-spatial) axes")
        if tumour_sampling not in TUMOUR_SAMPLING:
            raise ConfigError(f"tumour_sampling: one of {list(TUMOUR_SAMPLING)}, got {tumour_sampling!r}")
        self.tumour_sampling = tumour_sampling
        self.lesions = self._lesions() if tumour_sampling == "lesion" else []
        self.hard_fraction, self.hard_hu = float(hard_fraction), float(hard_hu)
        if not 0 <= self.hard_fraction <= 1:
            raise ConfigError(f"hard_fraction: a share in [0, 1], got {hard_fraction}")
        if self.hard_fraction and self.lead:
            raise ConfigError("hard_fraction: for CT volumes (z, y, x) only, not series")
        self.hard = [self._hard_voxels(a, lab) for a, lab in zip(self.images, self.labels)] if self.hard_fraction \
            else []
        self.outside_fraction, self.outside_voxels = float(outside_fraction), int(outside_voxels)
        if not 0 <= self.outside_fraction <= 1 or self.outside_voxels < 1:
            raise ConfigError(f"outside_fraction: a share in [0, 1] and outside_voxels >= 1, got {outside_fraction} "
                              f"and {outside_voxels}")
        self.outside = [self._outside_voxels(lab) for lab in self.labels] if self.outside_fraction else []
        self.mass_fraction = float(mass_fraction)
        if not 0 <= self.mass_fraction <= 1:
            raise ConfigError(f"mass_fraction: a share in [0, 1], got {mass_fraction}")
        if self.mass_fraction and (masses is None or len(masses) != len(labels)):
            raise ConfigError("mass_fraction: needs one mass map (or None) per case")
        if self.mass_fraction and any(m is not None and np.shape(m) != lab.shape for m, lab in zip(masses, labels)):
            raise ConfigError("PatchSampler: every mass map must match its label map's shape")
        self.masses = [np.zeros((0, 3), np.int64) if m is None else np.argwhere(np.asarray(m, bool))
                       for m in masses] if self.mass_fraction else []
        self.tumour_jitter = float(tumour_jitter)
        if not 0 <= self.tumour_jitter <= 1:
            raise ConfigError(f"tumour_jitter: a share of half the patch in [0, 1], got {tumour_jitter}")
        # largest offset per axis: the drawn voxel stays inside the patch
        self.jitter = np.floor(self.tumour_jitter * np.maximum(np.array(self.patch) // 2 - 1, 0)).astype(np.int64)

    def _lesions(self):
        """``[(case, voxels (n, 3))]``: every 26-connected tumour component of every case."""
        out = []
        for case, label in enumerate(self.labels):
            components, n = ndimage.label(label == 2, structure=np.ones((3, 3, 3), bool))
            if not n:
                continue
            order = np.argsort(components, axis=None, kind="stable")
            flat = components.ravel()[order]
            bounds = np.searchsorted(flat, np.arange(1, n + 2))
            for k in range(n):
                idx = order[bounds[k]:bounds[k + 1]]
                out.append((case, np.stack(np.unravel_index(idx, label.shape), axis=1)))
        return out

    def _outside_voxels(self, label):
        """``(n, 3)`` background voxels at most ``outside_voxels`` from the liver (liver and tumour)."""
        organ = label > 0
        if not organ.any():
            return np.zeros((0, 3), np.int64)
        near = ndimage.binary_dilation(organ, np.ones((3, 3, 3), bool), iterations=self.outside_voxels)
        return np.argwhere(near & ~organ)

    def _hard_voxels(self, image, label):
        """``(n, 3)`` liver-labelled voxels whose local mean HU is far from the case's median liver HU."""
        liver = label == 1
        if not liver.any():
            return np.zeros((0, 3), np.int64)
        # mean over the liver-labelled neighbours only, so the liver's border with fat is not "unlike liver"
        weight = ndimage.uniform_filter(liver.astype(np.float32), size=3, mode="nearest")
        local = ndimage.uniform_filter(np.where(liver, image, 0).astype(np.float32), size=3, mode="nearest")
        local = local / np.maximum(weight, 1e-6)
        median = float(np.median(local[liver]))
        return np.argwhere(liver & (np.abs(local - median) > self.hard_hu))

    def _jittered(self, rng, voxel):
        """A tumour draw's patch centre: the voxel, moved by up to ``self.jitter`` per axis."""
        if not self.jitter.any():
            return voxel
        return np.asarray(voxel) + rng.integers(-self.jitter, self.jitter + 1)

    def centre(self, rng):
        """``(case, centre, kind)`` of one draw."""
        u = rng.random()
        if u < self.tumour_fraction and self.lesions:
            case, voxels = self.lesions[rng.integers(len(self.lesions))]
            return case, self._jittered(rng, voxels[rng.integers(len(voxels))]), "tumour"
        if u < self.tumour_fraction and self.with_tumour:
            case = self.with_tumour[rng.integers(len(self.with_tumour))]
            return case, self._jittered(rng, self.tumour[case][rng.integers(len(self.tumour[case]))]), "tumour"
        case = int(rng.integers(len(self.images)))
        if self.hard_fraction and rng.random() < self.hard_fraction and len(self.hard[case]):
            return case, self.hard[case][rng.integers(len(self.hard[case]))], "hard"
        if self.mass_fraction and rng.random() < self.mass_fraction and len(self.masses[case]):
            return case, self.masses[case][rng.integers(len(self.masses[case]))], "mass"
        if self.outside_fraction and rng.random() < self.outside_fraction and len(self.outside[case]):
            return case, self.outside[case][rng.integers(len(self.outside[case]))], "outside"
        if rng.random() < self.foreground_fraction and len(self.organ[case]):
            return case, self.organ[case][rng.integers(len(self.organ[case]))], "liver"
        return case, np.array([rng.integers(n) for n in self.labels[case].shape]), "any"

    def __call__(self, index):
        """Patch ``index``: ``(image float32 (*lead, *patch, channels), label uint8 (*patch))``."""
        rng = np.random.default_rng([self.seed, int(index)])
        case, centre, _ = self.centre(rng)
        image, label = self.images[case], self.labels[case]
        start = [int(c) - p // 2 for c, p in zip(centre, self.patch)]
        src, dst = [], []
        for s, p, n in zip(start, self.patch, label.shape):
            a, b = max(s, 0), min(s + p, n)
            src.append(slice(a, b))
            dst.append(slice(a - s, b - s))
        lead = (Ellipsis,)
        lab = np.zeros(self.patch, np.uint8)
        lab[tuple(dst)] = label[tuple(src)]
        if self.tissues is not None:  # carried in the label's high bits (`split_tissue` undoes it)
            lab[tuple(dst)] += TISSUE_FACTOR * self.tissues[case][tuple(src)]
        if self.context:  # 2.5D: the centre slice and its neighbours (edges repeated) as channels
            z = np.clip(np.arange(-self.context, self.context + 1) + int(centre[0]), 0, label.shape[0] - 1)
            img = np.full(self.lead + (self.channels,) + self.patch[1:], self.pad[case], np.float32)
            img[lead + (slice(None),) + tuple(dst[1:])] = image[lead + (z,) + tuple(src[1:])]
            return np.moveaxis(img, -3, -1), lab[0]
        img = np.full(self.lead + self.patch, self.pad[case], np.float32)
        img[lead + tuple(dst)] = image[lead + tuple(src)]
        if self.two_d:
            img, lab = img[..., 0, :, :], lab[0]
        return img[..., None], lab
