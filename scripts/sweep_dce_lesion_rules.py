"""Sweep the rules that keep or drop predicted DCE lesions, offline, from `eval_dce_pipeline.py --lesions` rows.

    python scripts/sweep_dce_lesion_rules.py runs/dce_v3/lesions_val9000.json [--min-mm 10]

The rows must come from a run without a probability floor (``--min-lesion-probability none``),
so every candidate is there. For each rule (peak lesion probability at least ``p``; mean
probability at least ``m``; the classifier's probability for its class at least ``c``; the share of the shell around it labelled liver or lesion at least
``s``; and peak together with class or shell) and
threshold, a predicted lesion is kept or dropped; a true lesion stays detected when the predicted
lesion that covers most of it (its ``match``) is kept. Prints recall and precision of lesions of
``--min-mm`` and more (the issue-17 targets: recall >= 0.90, precision >= 0.85), one row per rule
and threshold, and marks the rows that meet both. Choose on validation rows; score held-out once.
"""

import argparse
import json
import sys


RULES = {"peak": ("peak_probability", (0.5, 0.8, 0.9, 0.95, 0.97, 0.98, 0.99, 0.995)),
         "mean": ("mean_probability", (0.3, 0.4, 0.5, 0.6, 0.7)),
         "class": ("class_probability", (0.5, 0.6, 0.7, 0.8, 0.9)),
         "shell": ("shell_labelled", (0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9))}


def score(rows, keep, min_mm: float) -> tuple:
    """(recall, precision, detected, true lesions, true positives, kept) for lesions of ``min_mm`` and more."""
    kept = {(r["case"], r["id"]) for r in rows if r.get("kind") == "pred" and keep(r)}
    preds = [r for r in rows if r.get("kind") == "pred" and (r["diameter_mm"] or 0) >= min_mm]
    truth = [r for r in rows if r.get("kind") == "truth" and (r["diameter_mm"] or 0) >= min_mm]
    detected = sum(1 for r in truth if r["detected"] and (r["case"], r.get("match")) in kept)
    chosen = [r for r in preds if (r["case"], r["id"]) in kept]
    hits = sum(1 for r in chosen if r["true_positive"])
    return (detected / max(len(truth), 1), hits / max(len(chosen), 1), detected, len(truth), hits, len(chosen))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("rows")
    parser.add_argument("--min-mm", type=float, default=10.0)
    args = parser.parse_args(argv)
    rows = json.load(open(args.rows))
    if not any(r.get("kind") == "pred" for r in rows):
        sys.exit(f"{args.rows}: no predicted-lesion rows (rerun eval_dce_pipeline.py --lesions)")
    if any(r.get("kind") == "truth" and r["detected"] and "match" not in r for r in rows):
        sys.exit(f"{args.rows}: rows without 'match' (older eval_dce_pipeline.py); rerun it")
    print("| rule | threshold | recall | precision | detected / true | TP / kept | both targets |")
    print("|---|---|---|---|---|---|---|")
    combos = [(name, key, t) for name, (key, values) in RULES.items() for t in values]
    pairs = {"peak & class": "class_probability", "peak & shell": "shell_labelled"}
    combos += [(name, key, (p, c)) for name, key in pairs.items()
               for p in (0.8, 0.9, 0.95, 0.98) for c in (0.5, 0.6, 0.7, 0.8)]
    for name, key, t in combos:
        if not any(key in r for r in rows if r.get("kind") == "pred"):
            continue  # rows from an older eval_dce_pipeline.py without this column
        if isinstance(t, tuple):
            keep = lambda r, key=key, t=t: r["peak_probability"] >= t[0] and (r.get(key) or 0) >= t[1]  # noqa: E731
        else:
            keep = lambda r, key=key, t=t: (r.get(key) if r.get(key) is not None else 0.0) >= t  # noqa: E731
        recall, precision, det, n, hits, kept = score(rows, keep, args.min_mm)
        ok = "yes" if recall >= 0.9 and precision >= 0.85 else ""
        print(f"| {name} | {t} | {recall:.3f} | {precision:.3f} | {det} / {n} | {hits} / {kept} | {ok} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
