"""Batch inputs and the work done on one scan, without Beam: list, predict, measure, write, resume.

`list_scans` turns what a user gives (a glob, a list of paths, a CSV of paths; NIfTI, NRRD files
and DICOM series folders) into `Scan` items with stable ids. `process_scan` reads one with
`keras_liver.io`, runs the model (a segmentation model, the CT cascade or the DCE pipeline, each
by its own plan), writes its mask (and, for DCE, its ``lesions.json``) with the source geometry,
and returns the summary row; the row is written last, atomically, as ``<id>.row.json``, so a
scan whose row exists without an error is complete and a rerun skips it (`finished_row`). A scan
that cannot be read or predicted becomes a row whose ``error`` is its one-line message.
"""

import csv
import dataclasses
import glob
import json
import logging
import pathlib
import re
import time

import numpy as np

from keras_liver.errors import ConfigError, KerasLiverError

logger = logging.getLogger(__name__)

# The summary table's columns, in order (`process_scan`'s rows).
COLUMNS = ("scan_id", "input", "mask", "liver_ml", "tumour_ml", "tumour_burden", "lesion_count", "lesion_classes",
           "seconds", "error")
_VOLUME_SUFFIXES = (".nii.gz", ".nii", ".nrrd", ".nhdr", ".h5", ".dcm")


@dataclasses.dataclass(frozen=True)
class Scan:
    """One input of a batch run.

    Args:
        scan_id: Stable name of its outputs (``<id>.nii.gz``, ``<id>.row.json``).
        path: The NIfTI / NRRD file or DICOM series folder.
    """

    scan_id: str
    path: str


def _scan_id(path: pathlib.Path) -> str:
    name = path.name
    for suffix in _VOLUME_SUFFIXES:
        if name.lower().endswith(suffix):
            name = name[: -len(suffix)]
            break
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "scan"


def _is_input(path: pathlib.Path) -> bool:
    if path.is_dir():
        return any(path.glob("*.dcm")) or any(p.is_file() and not p.suffix for p in path.iterdir())
    return path.name.lower().endswith(_VOLUME_SUFFIXES)


def _csv_paths(path: pathlib.Path) -> list[str]:
    with open(path, newline="") as fh:
        rows = [r for r in csv.reader(fh) if r and r[0].strip()]
    header = [c.strip().lower() for c in rows[0]] if rows else []
    column = header.index("path") if "path" in header else 0
    body = rows[1:] if "path" in header else rows
    paths = [pathlib.Path(r[column].strip()) for r in body if len(r) > column and r[column].strip()]
    if not paths:
        raise ConfigError(f"--input {path}: no paths in the CSV (a 'path' column or one path per line)")
    return [str(p if p.is_absolute() else path.parent / p) for p in paths]


def list_scans(inputs) -> list[Scan]:
    """The scans a batch run processes, in a stable order, each with a unique id.

    Args:
        inputs: A string or a list of strings, each a glob (``data/*.nii.gz``), a file,
            a DICOM series folder, a folder of inputs, or a ``.csv`` of paths (column
            ``path``, or one path per line; relative paths are relative to the CSV).
            Paths that do not exist are kept: they become error rows, not a failed run.

    Returns:
        `Scan` items; ids that would clash get ``-2``, ``-3``, ... appended.

    Raises:
        ConfigError: Nothing matched, or a CSV holds no paths.
    """
    specs = [inputs] if isinstance(inputs, (str, pathlib.Path)) else list(inputs)
    if not specs:
        raise ConfigError("--input: no inputs given")
    paths = []
    for spec in specs:
        spec = str(spec)
        path = pathlib.Path(spec)
        if path.suffix.lower() == ".csv" and path.is_file():
            paths += _csv_paths(path)
        elif any(c in spec for c in "*?["):
            matched = sorted(glob.glob(spec))
            if not matched:
                raise ConfigError(f"--input {spec}: the pattern matches nothing")
            paths += [m for m in matched if _is_input(pathlib.Path(m))]
        elif path.is_dir() and not _is_input(path):
            paths += sorted(str(p) for p in path.iterdir() if _is_input(p))
        else:
            paths.append(spec)
    if not paths:
        raise ConfigError(f"--input {' '.join(map(str, specs))}: no NIfTI, NRRD or DICOM inputs found")
    used, scans = set(), []
    for p in dict.fromkeys(paths):  # the same path twice is one scan
        base = scan_id = _scan_id(pathlib.Path(p))
        n = 1
        while scan_id in used:  # another folder's file of the same name (or a file already named "<id>-2")
            n += 1
            scan_id = f"{base}-{n}"
        used.add(scan_id)
        scans.append(Scan(scan_id, p))
    return scans


def row_path(output_dir, scan_id: str) -> pathlib.Path:
    """Where a scan's summary row is written (last: it marks the scan complete)."""
    return pathlib.Path(output_dir) / f"{scan_id}.row.json"


def finished_row(output_dir, scan: Scan) -> dict | None:
    """The row of a scan completed by an earlier run, or ``None`` when it has to run (again).

    Complete means: its row exists, is readable, names the same input, has no error, and
    the mask it names exists. Failed scans are retried.
    """
    path = row_path(output_dir, scan.scan_id)
    try:
        row = json.loads(path.read_text())
    except (OSError, ValueError):
        return None
    if not isinstance(row, dict) or row.get("error") or row.get("input") != scan.path:
        return None
    mask = row.get("mask")
    if not mask or not (pathlib.Path(output_dir) / mask).is_file():
        return None
    return row


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text if isinstance(exc, KerasLiverError) else f"{type(exc).__name__}: {text}"


def error_row(scan: Scan, message: str, seconds: float = 0.0) -> dict:
    """A summary row for a scan that failed: its one-line error, nothing measured."""
    row = {c: None for c in COLUMNS}
    row.update(scan_id=scan.scan_id, input=scan.path, seconds=round(float(seconds), 3), error=message)
    return row


def predict_labels(model, image):
    """Labels (0 background, 1 liver, 2 tumour / lesion) of one scan and, for a DCE pipeline, its lesions.

    Returns:
        ``(labels Volume, instance Volume or None, lesions list or None)``.
    """
    from keras_liver import tasks
    from keras_liver.inference import cascade_predict, pipeline_predict, predict_volume, segment_series
    from keras_liver.models import CTCascade, DCEPipeline

    if isinstance(model, DCEPipeline):
        if not image.is_series:
            raise ConfigError(f"the DCE pipeline takes a 4D DCE series, got shape {image.shape}")
        return pipeline_predict(model, image)
    task = tasks.task_of(model)
    if not task.is_segmentation:
        raise ConfigError(f"{model.name}: a {task.name} model; batch inference takes a segmentation model, "
                          f"a CT cascade or a DCE pipeline")
    if task.modality == "DCE":
        if not image.is_series:
            raise ConfigError(f"this {task.name} model takes a 4D DCE series, got shape {image.shape}")
        return segment_series(model, image), None, None
    if image.is_series:
        raise ConfigError(f"this {task.name} model takes a 3D CT volume, got a 4D series")
    if isinstance(model, CTCascade):
        return cascade_predict(model, image), None, None
    return predict_volume(model, image), None, None


def measure(labels, lesions=None) -> dict:
    """Liver volume, tumour volume and burden, lesion count and classes of one label map."""
    from keras_liver.inference import lesion_table

    array = np.asarray(labels.array)
    voxel_ml = float(np.prod(labels.spacing)) / 1000.0
    liver_ml = float((array > 0).sum()) * voxel_ml  # the organ: parenchyma and tumour
    tumour_ml = float((array == 2).sum()) * voxel_ml
    if lesions is None:
        _, rows = lesion_table(labels)
        count, classes = len(rows), None
    else:
        count, classes = len(lesions), ";".join(str(r["class"]) for r in lesions)
    return {"liver_ml": round(liver_ml, 3), "tumour_ml": round(tumour_ml, 3),
            "tumour_burden": round(tumour_ml / liver_ml, 5) if liver_ml > 0 else None,
            "lesion_count": int(count), "lesion_classes": classes}


def process_scan(model, scan: Scan, output_dir, *, model_name: str = "model") -> dict:
    """Predict one scan and write its outputs; never raises for a bad scan.

    Writes ``<id>.nii.gz`` (the label map on the source grid), for a DCE pipeline
    ``<id>.lesions.json`` (`keras-liver predict`'s record), then ``<id>.row.json``
    (the summary row), each atomically. On an error only the row is written, with
    the error, and nothing of a half-done scan is left.

    Returns:
        The summary row (`COLUMNS`).
    """
    from keras_liver.cli.results import lesions_record
    from keras_liver.io import load_volume, save_volume
    from keras_liver.io.atomic import write_text_atomic

    out = pathlib.Path(output_dir)
    start = time.perf_counter()
    try:
        image = load_volume(scan.path)
        labels, instance, lesions = predict_labels(model, image)
        mask = out / f"{scan.scan_id}.nii.gz"
        if lesions is not None:
            record = lesions_record(lesions, source=scan.path, model=model_name,
                                    class_names=getattr(model, "class_names", None))
            write_text_atomic(out / f"{scan.scan_id}.lesions.json", json.dumps(record, indent=2) + "\n")
        save_volume(labels, mask)
        row = {c: None for c in COLUMNS}
        row.update(scan_id=scan.scan_id, input=scan.path, mask=mask.name, **measure(labels, lesions))
        row["seconds"] = round(time.perf_counter() - start, 3)
    except Exception as exc:  # noqa: BLE001 - a bad scan is a row, never a failed job
        message = _one_line(exc)
        message = message if scan.path in message else f"{scan.path}: {message}"
        logger.warning("batch: %s", message)
        row = error_row(scan, message, time.perf_counter() - start)
    write_text_atomic(row_path(out, scan.scan_id), json.dumps(row) + "\n")
    return row


def write_summary(rows, output_dir, name: str = "summary") -> dict:
    """Write the summary table as ``<name>.csv`` and ``<name>.parquet`` (atomically), rows by scan id.

    Returns:
        ``{"csv": path, "parquet": path or None}`` (Parquet needs pyarrow).
    """
    import io

    from keras_liver.io.atomic import write_bytes_atomic, write_text_atomic

    out = pathlib.Path(output_dir)
    rows = sorted((dict(r) for r in rows), key=lambda r: str(r["scan_id"]))
    text = io.StringIO()
    writer = csv.DictWriter(text, fieldnames=COLUMNS, extrasaction="ignore", lineterminator="\n")
    writer.writeheader()
    for row in rows:
        writer.writerow({k: ("" if row.get(k) is None else row[k]) for k in COLUMNS})
    paths = {"csv": write_text_atomic(out / f"{name}.csv", text.getvalue()), "parquet": None}
    try:
        import pyarrow as pa
        import pyarrow.parquet as pq
    except ImportError:
        logger.warning("batch: pyarrow is not installed; %s.parquet not written", name)
        return paths
    types = {"scan_id": pa.string(), "input": pa.string(), "mask": pa.string(), "liver_ml": pa.float64(),
             "tumour_ml": pa.float64(), "tumour_burden": pa.float64(), "lesion_count": pa.int64(),
             "lesion_classes": pa.string(), "seconds": pa.float64(), "error": pa.string()}
    table = pa.table({c: pa.array([r.get(c) for r in rows], type=types[c]) for c in COLUMNS})
    sink = pa.BufferOutputStream()
    pq.write_table(table, sink)
    paths["parquet"] = write_bytes_atomic(out / f"{name}.parquet", sink.getvalue().to_pybytes())
    return paths
