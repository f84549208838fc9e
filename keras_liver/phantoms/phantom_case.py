"""`PhantomCase`: one synthetic case with its exact ground truth."""

import dataclasses

from keras_liver.io.volume import Volume


@dataclasses.dataclass(frozen=True, eq=False)
class PhantomCase:
    """A synthetic CT volume or DCE-MRI series with exact ground truth.

    Attributes:
        image: The acquired image: ``int16`` HU ``(z, y, x)`` for CT,
            ``float32`` signal ``(t, z, y, x)`` for DCE.
        label: ``uint8`` LiTS labels ``(z, y, x)``: 0 background, 1 liver,
            2 tumour / lesion.
        clean: The same image before partial-volume blur, noise, bias field
            and motion (``float32``).
        lesion_class: DCE: the lesion class name; CT: ``None``.
        info: Everything drawn: seed, spacing, per-tissue intensities or
            kinetic parameters, and the lesion list (centre, diameter, kind).
        tissue: ``uint8`` tissue codes (`keras_liver.phantoms.anatomy.Tissue`)
            on the label's grid, or ``None``: what each voxel is, for
            diagnostics (which organ a false positive sits on) and per-tissue
            augmentation. Not written to disk by the data-set writers.
        instance: DCE: ``uint8`` lesion ids on the label's grid (0 none,
            ``k`` the lesion with ``id`` k in ``info["lesions"]``), or ``None``.
        masses: CT with a `Variety`: ``uint8`` ids of the masses outside the liver
            (``k``: the mass with ``id`` k in ``info["masses"]``; label background), or ``None``.
    """

    image: Volume
    label: Volume
    clean: Volume
    lesion_class: str | None = None
    info: dict = dataclasses.field(default_factory=dict)
    tissue: Volume | None = None
    instance: Volume | None = None
    masses: Volume | None = None
