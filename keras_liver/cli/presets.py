"""``keras-liver presets``: the pretrained presets shipped in the package, with their measured figures."""

import json
import sys


def _flat(figures, prefix="") -> dict:
    """``{"heldout": {"liver_dice": 0.95}}`` -> ``{"heldout.liver_dice": 0.95}``, numbers only."""
    out = {}
    for key, value in (figures or {}).items():
        name = f"{prefix}{key}"
        if isinstance(value, dict):
            out.update(_flat(value, name + "."))
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            out[name] = value
    return out


def add_parser(sub) -> None:
    """Register ``presets``."""
    p = sub.add_parser("presets", help="list the pretrained presets (name, task, figures); "
                                       "use a name wherever --model is taken")
    p.add_argument("name", nargs="?", default=None, help="one preset: print its model card and manifest")
    p.add_argument("--json", action="store_true", help="the manifests as JSON")
    p.add_argument("--verify", action="store_true", help="check every preset's checksums")
    p.set_defaults(run=run)


def run(args, out=None) -> int:
    from keras_liver import presets
    from keras_liver.evaluation.reports import markdown_table

    out = out or sys.stdout
    if args.name:
        preset = presets.Preset.from_name(args.name)
        if args.verify:
            preset.verify()
        print(preset.card.rstrip(), file=out)
        print("\n" + json.dumps({k: v for k, v in preset.info.items() if k != "files"}, indent=1), file=out)
        return 0
    listed = presets.list_presets()
    if args.verify:
        for info in listed:
            presets.Preset.from_name(info["name"]).verify()
    if args.json:
        print(json.dumps(listed, indent=1), file=out)
        return 0
    if not listed:
        print("no presets are shipped in this installation (build them with `make presets`)", file=out)
        return 0
    rows = [{"name": i["name"], "version": i["version"], "task": i["task"], "description": i.get("description", ""),
             "MiB": round(i.get("storage", {}).get("bytes", 0) / 2**20, 1),
             "figures": ", ".join(f"{k} {v:.3g}" for k, v in _flat(i.get("figures")).items())} for i in listed]
    print(markdown_table(rows, ["name", "version", "task", "description", "MiB", "figures"]), file=out)
    return 0
