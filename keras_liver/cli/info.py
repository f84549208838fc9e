"""``keras-liver info``: a summary table per file, folder or stored case."""

import json
import pathlib
import sys

from keras_liver.io.case_store import CaseStore
from keras_liver.io.loader import HDF5_SUFFIXES, load_volume
from keras_liver.io.summary import summarize

_COLUMNS = ("shape", "dtype", "spacing_zyx_mm", "orientation", "source_orientation",
            "min", "p0.5", "p50", "p99.5", "max", "label_counts")


def _summaries(path: pathlib.Path, series_uid):
    if path.is_file() and path.suffix.lower() in HDF5_SUFFIXES:
        with CaseStore(path) as store:
            for case_id in store.case_ids():
                for key in store.keys(case_id):
                    summary = summarize(store.read(case_id, key))
                    summary["name"] = f"{path}:{case_id}/{key}"
                    yield summary
        return
    summary = summarize(load_volume(path, series_uid=series_uid))
    summary["name"] = str(path)
    yield summary


def run_info(paths, series_uid=None, as_json: bool = False, out=None) -> int:
    """Print one summary per volume to ``out``.

    Args:
        paths: Files or folders.
        series_uid: DICOM series to read from a multi-series folder.
        as_json: JSON lines instead of a table.
        out: Text stream.

    Returns:
        0.
    """
    for path in paths:
        for summary in _summaries(pathlib.Path(path), series_uid):
            if as_json:
                out.write(json.dumps(summary) + "\n")
                continue
            out.write(f"{summary['name']}\n")
            for key in _COLUMNS:
                if key in summary:
                    value = summary[key]
                    if key == "label_counts":
                        value = ", ".join(f"{k}: {v}" for k, v in value.items())
                    elif isinstance(value, list):
                        value = " x ".join(str(v) for v in value)
                    out.write(f"  {key:<20} {value}\n")
            if "frame_times_s" in summary:
                out.write(f"  {'frame_times_s':<20} {summary['frame_times_s']}\n")
    return 0


def add_parser(sub) -> None:
    """Register ``info``."""
    p = sub.add_parser("info", help="summarise NIfTI files, DICOM folders and HDF5 case stores")
    p.add_argument("paths", nargs="+", help="files or folders")
    p.add_argument("--series", default=None, help="DICOM SeriesInstanceUID when a folder holds several")
    p.add_argument("--json", action="store_true", help="one JSON object per line instead of a table")
    p.set_defaults(run=run)


def run(args) -> int:
    return run_info(args.paths, series_uid=args.series, as_json=args.json, out=sys.stdout)
