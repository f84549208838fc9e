"""`ScanModelHandler`: Beam RunInference's model handler for keras-liver models over whole scans."""

import logging

from apache_beam.ml.inference.base import ModelHandler

from keras_liver.batch.scans import process_scan


class _NoMemoryMetricWarning(logging.Filter):
    """Drops Beam's per-batch "Resource module is not available" warning.

    Beam 2.77's ``apache_beam.ml.inference.base`` imports ``resource`` together with a module
    that needs torch, so without torch it believes ``resource`` is missing and warns on the
    root logger for every batch; the only loss is RunInference's memory metric.
    """

    def filter(self, record):
        return "Resource module is not available" not in record.getMessage()


logging.getLogger().addFilter(_NoMemoryMetricWarning())  # this module is imported in every worker


class ScanModelHandler(ModelHandler):
    """Loads a keras-liver model once per worker and turns each `Scan` into its summary row.

    Each element is one scan, read, predicted by the model's own plan (a segmentation
    model, the CT cascade or the DCE pipeline), written to ``output_dir`` and measured
    (`process_scan`); a scan that fails becomes a row with its error, so one bad file
    never fails the job.

    Args:
        model: A preset name or a ``.keras`` file every worker can read.
        output_dir: The folder the masks and rows go to (shared by the workers).
        threads: TensorFlow's intra- and inter-op threads in each worker (``None``: its
            default, every core). Workers sharing one machine each get their share of its
            cores (`run_batch`), so they do not compete for the same cores.
    """

    def __init__(self, model: str, output_dir: str, threads: int | None = None):
        super().__init__()
        self._model = str(model)
        self._output_dir = str(output_dir)
        self._threads = None if threads is None else max(1, int(threads))

    def load_model(self):
        from keras_liver.cli.quiet import import_tensorflow_quietly, quiet_tensorflow

        tf = import_tensorflow_quietly(quiet_tensorflow(False))
        if self._threads is not None:
            try:
                tf.config.threading.set_intra_op_parallelism_threads(self._threads)
                tf.config.threading.set_inter_op_parallelism_threads(self._threads)
            except RuntimeError:  # this process ran TensorFlow before (an in-process runner): keep its threads
                logging.getLogger(__name__).debug("batch: TensorFlow already started; threads left as they are")
        from keras_liver.models import load_model

        return load_model(self._model, compile=False)

    def run_inference(self, batch, model, inference_args=None):
        return [process_scan(model, scan, self._output_dir, model_name=self._model) for scan in batch]

    def batch_elements_kwargs(self):
        return {"min_batch_size": 1, "max_batch_size": 1}  # a scan is a whole volume: one at a time

    def get_num_bytes(self, batch) -> int:
        return sum(len(scan.path) for scan in batch)

    def get_metrics_namespace(self) -> str:
        return "keras_liver"
