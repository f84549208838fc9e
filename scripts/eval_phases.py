"""Liver (and tumour) Dice of a CT model or cascade on held-out phantoms of each contrast phase (issue 18).

    python scripts/eval_phases.py --model runs/ct_cascade_variety/cascade.keras [--cases 10] [--seed 10000]
        [--shape 100,512,512] [--variety] [--data-root data] [--out phases.json]

For each phase (non-contrast, arterial, portal-venous, delayed) the held-out folder
``DATA_ROOT/ct_phase_<phase>_<seed>`` is written once (``keras-liver phantoms ct --phase P``,
seeds from ``--seed``; reused when it holds ``--cases`` cases), then `scripts/eval_ct.py`'s
held-out scoring runs on it (no ``--spacing``; masks into ``<folder>_preds``). Prints one table
row per phase: liver Dice per case, tumour Dice per case, recall of lesions >= 10 mm, and with
``--variety`` the share of the masses outside the liver called liver or tumour.
"""

import argparse
import json
import pathlib
import sys

from eval_ct import _held_out

from keras_liver.io import find_lits_cases
from keras_liver.models import load_model
from keras_liver.phantoms import write_ct_dataset
from keras_liver.phantoms.ct import PHASES


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True)
    parser.add_argument("--cases", type=int, default=10)
    parser.add_argument("--seed", type=int, default=10000)
    parser.add_argument("--shape", default="100,512,512")
    parser.add_argument("--variety", action="store_true")
    parser.add_argument("--data-root", default="data")
    parser.add_argument("--out", default=None)
    args = parser.parse_args(argv)
    if args.seed < 10000:
        parser.error("--seed: held-out phantoms use seeds 10000 and up")
    shape = tuple(int(v) for v in args.shape.split(","))
    model = load_model(args.model, compile=False)
    rows = {}
    for phase in PHASES:
        folder = pathlib.Path(args.data_root) / f"ct_phase_{phase}_{args.seed}{'_variety' if args.variety else ''}"
        have = len(find_lits_cases(folder)) if folder.is_dir() and any(folder.glob("volume-*")) else 0
        if have != args.cases:
            write_ct_dataset(folder, args.cases, seed=args.seed, shape=shape, phase=phase,
                             variety=True if args.variety else None)
        result = _held_out(model, folder, folder.with_name(folder.name + "_preds"), None)
        rows[phase] = result
        print(f"{phase}: liver {result['liver_dice_per_case']:.3f}, tumour {result['tumour_dice_per_case']:.3f}, "
              f"recall {result['recall_10mm']:.2f}", file=sys.stderr, flush=True)
    print("| phase | liver Dice per case | tumour Dice per case | recall >= 10 mm | masses called liver or tumour |")
    print("|---|---|---|---|---|")
    for phase, r in rows.items():
        masses = r.get("masses_called_liver_or_tumour")
        print(f"| {phase} | {r['liver_dice_per_case']:.3f} | {r['tumour_dice_per_case']:.3f} | {r['recall_10mm']:.2f} | "
              f"{'-' if masses is None else f'{100 * masses:.2f} %'} |")
    if args.out:
        pathlib.Path(args.out).write_text(json.dumps(rows, indent=1, default=float) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
