"""The main job, run by `make demo`.

Today: summarise the real sample scans (``keras-liver info``) and write one
preview PNG with the liver overlay. Later issues grow this into the pipeline.
"""

import argparse
import logging
import pathlib
import sys

from keras_liver.cli.main import main as cli

REAL = pathlib.Path(__file__).resolve().parents[1].parent / "shared" / "data" / "real" / "totalsegmentator"


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="demo_out")
    args = parser.parse_args(argv)
    out = pathlib.Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    log = logging.getLogger("demo")
    if not REAL.is_dir():
        log.error("real samples not found at %s", REAL)
        return 1
    scans = [REAL / "example_ct_dicom", REAL / "example_seg_dicom.nii.gz", REAL / "example_ct_sm.nii.gz",
             REAL / "example_mr_sm.nii.gz"]
    rc = cli(["info", *map(str, scans)])
    rc = rc or cli(["preview", str(REAL / "example_ct_dicom"), "--label", str(REAL / "example_seg_dicom.nii.gz"),
                    "--out", str(out / "preview.png")])
    log.info("demo finished: %s", out / "preview.png")
    return rc


if __name__ == "__main__":
    sys.exit(main())
