"""Batch inference over many scans on Apache Beam (``pip install 'keras-liver[batch]'``).

`run_batch` (and ``keras-liver predict-batch``) runs one model over a list of scans with Beam's
RunInference (DirectRunner or Prism locally, Dataflow, Flink or Spark on a cluster) and writes
each mask plus one summary table; `list_scans` and `process_scan` are the Beam-free parts.
"""

from keras_liver.batch.run import run_batch
from keras_liver.batch.scans import COLUMNS, Scan, finished_row, list_scans, process_scan, write_summary

__all__ = ["run_batch", "list_scans", "process_scan", "finished_row", "write_summary", "Scan", "COLUMNS"]
