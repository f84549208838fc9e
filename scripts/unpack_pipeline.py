"""Write a DCE pipeline's (or a preset's) three models as run folders that train_dce_pipeline.py reuses.

    python scripts/unpack_pipeline.py --model dce_lesion --out runs/dce_v8_jitter [--stages liver classifier]

Retraining one stage against the others of a pipeline that is already trained (issue 17's stage-2
designs) needs the other stages as models of their own: this writes ``OUT/liver/model.keras``,
``OUT/lesion/model.keras`` and ``OUT/classifier/model.keras`` (only the ``--stages`` asked for),
each with its plan and class names, and beside each a ``config.json`` and a ``summary.json`` that
say where it came from, so ``train_dce_pipeline.py --out OUT`` skips those stages and trains the
rest. A preset stored as float16 unpacks to float32 models with the preset's (rounded) weights.
"""

import argparse
import json
import pathlib
import sys

STAGES = {"liver": "liver_stage", "lesion": "lesion_stage", "classifier": "classifier"}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--model", required=True, help="a DCEPipeline .keras file, a preset name or folder")
    parser.add_argument("--out", required=True, help="the run folder to write the stage folders into")
    parser.add_argument("--stages", nargs="+", choices=sorted(STAGES), default=["liver", "classifier"])
    args = parser.parse_args(argv)

    from keras_liver.models import DCEPipeline, load_model, save_model

    pipeline = load_model(args.model, compile=False)
    if not isinstance(pipeline, DCEPipeline):
        sys.exit(f"--model {args.model}: not a DCE pipeline ({type(pipeline).__name__})")
    out = pathlib.Path(args.out)
    for stage in args.stages:
        folder = out / stage
        folder.mkdir(parents=True, exist_ok=True)
        model = getattr(pipeline, STAGES[stage])
        save_model(model, folder / "model.keras")
        note = {"unpacked_from": str(args.model), "stage": STAGES[stage]}
        (folder / "config.json").write_text(json.dumps(note, indent=2) + "\n")
        (folder / "summary.json").write_text(json.dumps(note, indent=2) + "\n")
        print(folder / "model.keras")


if __name__ == "__main__":
    main()
