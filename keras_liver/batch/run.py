"""`run_batch`: a Beam pipeline that runs one model over many scans and writes one summary table."""

import json
import logging
import os
import pathlib

from keras_liver.batch.scans import error_row, finished_row, list_scans, row_path, write_summary
from keras_liver.errors import ConfigError

logger = logging.getLogger(__name__)


def _check_model(model) -> str:
    from keras_liver import presets

    if presets.resolve(model) is not None:
        return str(model)
    path = pathlib.Path(model)
    if not path.is_file():
        raise ConfigError(f"--model {model}: no such model file and not a preset ({', '.join(presets.names())})")
    return str(path.resolve())


def cores_per_worker(workers: int) -> int:
    """This machine's cores (those the process may use) shared among ``workers`` local workers, at least one."""
    try:
        cores = len(os.sched_getaffinity(0))
    except AttributeError:  # not Linux
        cores = os.cpu_count() or 1
    return max(1, cores // max(1, int(workers)))


def _write_outputs(rows, output_dir):
    """The pipeline's last step: the summary table and the dead letters (failed scans, one JSON line each)."""
    from keras_liver.io.atomic import write_text_atomic

    rows = sorted(rows, key=lambda r: str(r["scan_id"]))
    paths = write_summary(rows, output_dir)
    failed = [r for r in rows if r.get("error")]
    write_text_atomic(pathlib.Path(output_dir) / "errors.jsonl", "".join(json.dumps(r) + "\n" for r in failed))
    return {"rows": len(rows), "failed": len(failed), **{k: str(v) if v else None for k, v in paths.items()}}


def run_batch(model, inputs, output_dir, *, runner: str = "DirectRunner", workers: int = 1, pipeline_args=None,
              overwrite: bool = False) -> dict:
    """Run a model over many scans on Apache Beam and write their masks and one summary table.

    The pipeline lists the scans (`list_scans`), skips those an earlier run completed
    (their ``<id>.row.json``: a killed run resumes where it stopped), runs the rest through
    ``RunInference`` with a `ScanModelHandler` (the model loaded once per worker; each scan
    read with `keras_liver.io`, predicted by the model's plan, its mask written with the source
    geometry), and writes ``summary.csv`` and ``summary.parquet`` (one row per scan: liver
    volume, tumour volume and burden, lesion count, lesion classes for DCE, seconds, error) and
    ``errors.jsonl`` (the dead letters: one line per failed scan). A scan that cannot be read
    or predicted is a row with its one-line error; the other scans go on.

    Args:
        model: A preset name or a ``.keras`` file (a segmentation model, `CTCascade` or `DCEPipeline`).
        inputs: What `list_scans` takes: globs, files, DICOM folders, CSVs of paths.
        output_dir: Folder for the outputs (created; on a cluster, one all workers can write).
        runner: A Beam runner (``DirectRunner``, ``PrismRunner``, ``DataflowRunner``, ``FlinkRunner``, ...).
        workers: DirectRunner: worker processes (``direct_num_workers``, multi-processing when above 1),
            each with TensorFlow limited to its share of the machine's cores (`cores_per_worker`).
        pipeline_args: More Beam pipeline options (``["--project=...", "--region=..."]``).
        overwrite: Rerun scans that are already complete.

    Returns:
        ``{"scans", "processed", "skipped", "failed", "csv", "parquet", "errors", "rows"}``.

    Raises:
        ConfigError: Beam is not installed, the model does not exist, or no inputs match.
    """
    root = logging.getLogger()
    level = root.level
    root.setLevel(logging.ERROR)  # Beam's import warns on the root logger about cloud clients we do not use
    try:
        import apache_beam as beam
        from apache_beam.ml.inference.base import RunInference
        from apache_beam.options.pipeline_options import PipelineOptions
    except ImportError:
        raise ConfigError("batch inference needs Apache Beam: pip install 'keras-liver[batch]'") from None
    finally:
        root.setLevel(level)
    if not logger.isEnabledFor(logging.DEBUG):  # Beam's runner and workers log every step at INFO
        logging.getLogger("apache_beam").setLevel(logging.WARNING)
        # the workers' own warnings reach stderr directly; the job service would print each twice
        logging.getLogger("apache_beam.runners.portability.local_job_service").setLevel(logging.ERROR)
    from keras_liver.batch.handler import ScanModelHandler

    if int(workers) < 1:
        raise ConfigError(f"--workers {workers}: must be at least 1")
    model = _check_model(model)
    scans = list_scans(inputs)
    out = pathlib.Path(output_dir)
    out.mkdir(parents=True, exist_ok=True)
    out_str = str(out.resolve())
    earlier = {} if overwrite else {s.scan_id: finished_row(out, s) for s in scans}  # complete before: skipped
    done_rows = [row for row in earlier.values() if row is not None]
    todo = [s for s in scans if earlier.get(s.scan_id) is None]
    skipped = len(done_rows)
    threads = None
    args = [f"--runner={runner}"]
    if not logger.isEnabledFor(logging.DEBUG):
        args.append("--default_sdk_harness_log_level=WARNING")
    args += list(pipeline_args or [])
    if runner in ("DirectRunner", "direct"):
        args += [f"--direct_num_workers={int(workers)}",
                 f"--direct_running_mode={'multi_processing' if int(workers) > 1 else 'in_memory'}"]
        threads = cores_per_worker(int(workers)) if int(workers) > 1 else None
    logger.info("batch: %d scans, model %s, %s with %d worker(s), into %s", len(scans), model, runner, workers, out)
    with beam.Pipeline(options=PipelineOptions(args)) as p:
        done = p | "rows done before" >> beam.Create(done_rows)
        fresh = (p | "scans to run" >> beam.Create(todo) | "spread" >> beam.Reshuffle()
                 | "predict" >> RunInference(ScanModelHandler(model, out_str, threads=threads)))
        _ = ((done, fresh) | "all rows" >> beam.Flatten()
             | "table" >> beam.combiners.ToList()
             | "write" >> beam.Map(_write_outputs, out_str))
    rows = []
    for scan in scans:  # what the workers wrote, in input order
        try:
            rows.append(json.loads(row_path(out, scan.scan_id).read_text()))
        except (OSError, ValueError):
            rows.append(error_row(scan, f"{scan.path}: no result was written (the worker stopped)"))
    failed = sum(1 for r in rows if r.get("error"))
    summary = {"scans": len(scans), "processed": len(scans) - skipped, "skipped": skipped, "failed": failed,
               "csv": str(out / "summary.csv"),
               "parquet": str(out / "summary.parquet") if (out / "summary.parquet").is_file() else None,
               "errors": str(out / "errors.jsonl"), "rows": rows}
    logger.info("batch: %d scans, %d skipped (complete before), %d failed; summary %s", len(scans), skipped, failed,
                summary["csv"])
    return summary
