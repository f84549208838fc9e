"""Wider anatomy and pathology for the phantoms (issue 18): `Variety`, drawn once per case.

SynthSeg (Billot et al., Medical Image Analysis 2023) and label-free tumour synthesis (Hu et
al., CVPR 2023) generalise from synthetic to real scans because the synthetic data vary far
more than one hospital's. A `Variety` is what a case varies beyond the base phantom:

| what | drawn | why |
|---|---|---|
| body half-width / half-depth | 120..200 / 85..150 mm | thin to obese habitus |
| subcutaneous fat | 5..60 mm | |
| patient off-centre | up to 40 mm in x and y | positioning |
| arms | beside the body 55 %, above the head 45 % | arms-down scans put bone and muscle beside the field |
| scanner table | 85 % | a curved slab under the back |
| liver shape | normal 50 %, Riedel's lobe 12 %, atrophic left lobe 12 %, hepatomegaly 13 %, cirrhotic 13 % | |
| diffuse liver disease | none, fatty (CT 0..40 HU), cirrhotic (nodular surface, smaller right lobe) | |
| ascites | 25 % (35 % with cirrhosis), 5..25 mm of fluid at the cavity's rim | |
| splenomegaly | 15 % (40 % with cirrhosis), spleen 1.3..1.8 times | |
| masses outside the liver | 0..3 of: renal, adrenal, pancreatic, para-aortic lymph node, bowel wall; 10..60 mm; label background | what a liver model must not call liver |
| masses at the liver hilum (``extended``) | 0..2 (none 50 %), lymph-node-like, 12..35 mm, pressed against the liver at the porta hepatis; label background | the held-out masses a liver model absorbed lay against the liver |
| stomach content (``extended``) | fluid below the gas 60 %, food (bowel-content HU, 10..40) 40 % | a full stomach beside an unenhanced liver is close to it in HU |
| kidney cysts | 0..2, 8..30 mm, fluid | |
| metal | 12 %: a spinal implant, a surgical clip, or a hip prosthesis edge | streaks and beam hardening on CT |

The numbers are teaching-level choices within the ranges the issue names (assumption, not a
measured population). All draws come from the generator passed in, so a case's base anatomy
(drawn from its own seed) is unchanged by its variety.
"""

import dataclasses

import numpy as np

LIVER_SHAPES = ("normal", "riedel", "atrophic_left", "hepatomegaly", "cirrhotic")
LIVER_SHAPE_P = (0.50, 0.12, 0.12, 0.13, 0.13)
MASS_SITES = ("renal", "adrenal", "pancreatic", "lymph_node", "bowel")
MASS_KINDS = ("hypodense", "hyperdense", "cyst")


@dataclasses.dataclass(frozen=True)
class Variety:
    """The anatomy and pathology a case varies by (see the module table).

    Attributes:
        body_half_mm: Body half-width and half-depth ``(a, b)`` in mm.
        fat_mm: Subcutaneous fat thickness in mm.
        offset_mm: Patient offset ``(x, y)`` from the scanner's centre in mm.
        arms: ``"side"`` or ``"up"``.
        table: Draw the scanner table.
        liver_shape: One of `LIVER_SHAPES`.
        liver_state: ``"normal"``, ``"fatty"`` or ``"cirrhotic"``.
        ascites_mm: Fluid rim thickness (0: none).
        spleen_scale: Spleen size factor (1: normal).
        masses: ``((site, kind, diameter_mm), ...)`` outside the liver.
        kidney_cysts: ``((side, diameter_mm), ...)``.
        metal: ``None``, ``"spine"``, ``"clip"`` or ``"hip"``.
        hilar_masses: ``((kind, diameter_mm), ...)`` against the liver at its hilum (site ``"hilar"``).
        stomach_food: The stomach holds food (bowel-content HU) instead of water below its gas.
        extra_seed: Seed of the generator that paints the hilar masses and draws their HU, so that
            adding them leaves every other draw of a case as it was.
    """

    body_half_mm: tuple = (150.0, 110.0)
    fat_mm: float = 20.0
    offset_mm: tuple = (0.0, 0.0)
    arms: str = "up"
    table: bool = False
    liver_shape: str = "normal"
    liver_state: str = "normal"
    ascites_mm: float = 0.0
    spleen_scale: float = 1.0
    masses: tuple = ()
    kidney_cysts: tuple = ()
    metal: str | None = None
    hilar_masses: tuple = ()
    stomach_food: bool = False
    extra_seed: int = 0

    @classmethod
    def draw(cls, rng, extended: bool = False) -> "Variety":
        """One case's variety from ``rng`` (its own generator, not the anatomy's).

        ``extended`` also draws the hilar masses and the full stomach (issue 18's design 2),
        after everything else, so a seed's other draws are the same either way.
        """
        shape = str(rng.choice(LIVER_SHAPES, p=LIVER_SHAPE_P))
        state = "cirrhotic" if shape == "cirrhotic" else str(rng.choice(["normal", "fatty"], p=[0.75, 0.25]))
        cirrhotic = state == "cirrhotic"
        masses = tuple((str(rng.choice(MASS_SITES)), str(rng.choice(MASS_KINDS, p=[0.6, 0.25, 0.15])),
                        float(np.exp(rng.uniform(np.log(10), np.log(60)))))
                       for _ in range(int(rng.choice(4, p=[0.3, 0.35, 0.2, 0.15]))))
        cysts = tuple((int(rng.choice([-1, 1])), float(rng.uniform(8, 30)))
                      for _ in range(int(rng.choice(3, p=[0.6, 0.3, 0.1]))))
        base = cls(
            body_half_mm=(float(rng.uniform(120, 200)), float(rng.uniform(85, 150))),
            fat_mm=float(np.exp(rng.uniform(np.log(5), np.log(60)))),
            offset_mm=(float(rng.uniform(-40, 40)), float(rng.uniform(-30, 30))),
            arms="side" if rng.random() < 0.55 else "up",
            table=bool(rng.random() < 0.85),
            liver_shape=shape,
            liver_state=state,
            ascites_mm=float(rng.uniform(5, 25)) if rng.random() < (0.35 if cirrhotic else 0.25) else 0.0,
            spleen_scale=float(rng.uniform(1.3, 1.8)) if rng.random() < (0.4 if cirrhotic else 0.15) else 1.0,
            masses=masses,
            kidney_cysts=cysts,
            metal=str(rng.choice(["spine", "clip", "hip"])) if rng.random() < 0.12 else None,
        )
        if not extended:
            return base
        # drawn after everything above, so that a seed keeps the rest of its variety
        hilar = tuple((str(rng.choice(MASS_KINDS, p=[0.6, 0.25, 0.15])),
                       float(np.exp(rng.uniform(np.log(12), np.log(35)))))
                      for _ in range(int(rng.choice(3, p=[0.5, 0.35, 0.15]))))
        return dataclasses.replace(base, hilar_masses=hilar, stomach_food=bool(rng.random() < 0.4),
                                   extra_seed=int(rng.integers(2**31)))

    def info(self) -> dict:
        """JSON-friendly description."""
        out = dataclasses.asdict(self)
        out["masses"] = [{"site": s, "kind": k, "diameter_mm": round(d, 1)} for s, k, d in self.masses]
        out["hilar_masses"] = [{"kind": k, "diameter_mm": round(d, 1)} for k, d in self.hilar_masses]
        out["kidney_cysts"] = [{"side": int(s), "diameter_mm": round(d, 1)} for s, d in self.kidney_cysts]
        return {k: (round(v, 2) if isinstance(v, float) else v) for k, v in out.items()}
