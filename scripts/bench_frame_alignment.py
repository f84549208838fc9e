"""Frame alignment against the motion a DCE phantom recorded: error per axis and seconds per series.

    python scripts/bench_frame_alignment.py --data data/dce500 [--cases 0,1,2,5] [--iterations 3]

For each case, `frame_shifts` of the series as saved is compared with the sidecar's
``parameters.motion_shift_zyx_mm_and_zscale`` (mm, the generator's axes; the saved file's
orientation may flip an axis, so each axis's sign is taken from the data), both relative to the
frames' mean position. Prints one JSON line per case (largest and mean error per axis, in voxels,
and seconds) and a summary line.
"""

import argparse
import json
import pathlib
import time

import numpy as np

from keras_liver.io import load_volume
from keras_liver.preprocess import frame_shifts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", required=True)
    parser.add_argument("--cases", default="0,1,2,5")
    parser.add_argument("--iterations", type=int, default=3)
    args = parser.parse_args(argv)
    folder = pathlib.Path(args.data)
    worst, seconds = np.zeros(3), []
    for n in args.cases.split(","):
        info = json.loads((folder / f"dce-{n}.json").read_text())["parameters"]
        recorded = np.array([m[:3] for m in info["motion_shift_zyx_mm_and_zscale"]]) / np.array(info["spacing_zyx_mm"])
        want = recorded - recorded.mean(axis=0)
        series = load_volume(folder / f"dce-{n}.nii.gz").array
        start = time.perf_counter()
        found = frame_shifts(series, iterations=args.iterations)
        seconds.append(time.perf_counter() - start)
        sign = np.where((found * want).sum(axis=0) < 0, -1.0, 1.0)
        error = np.abs(found * sign - want)
        worst = np.maximum(worst, error.max(axis=0))
        print(json.dumps({"case": n, "max_error_zyx_voxels": error.max(axis=0).round(3).tolist(),
                          "mean_error_zyx_voxels": error.mean(axis=0).round(3).tolist(),
                          "seconds": round(seconds[-1], 2)}))
    print(json.dumps({"cases": len(seconds), "max_error_zyx_voxels": worst.round(3).tolist(),
                      "seconds_mean": round(float(np.mean(seconds)), 2)}))


if __name__ == "__main__":
    main()
