"""Silence TensorFlow's C++ and absl logging before TensorFlow is imported.

TensorFlow prints dozens of lines on import and on first use (oneDNN,
CUDA probing, ``cpu_feature_guard``) that say nothing about the user's
work. The command line calls `quiet_tensorflow` first thing, so only the
package's own INFO lines and progress bars remain. ``--verbose`` or the
environment variable ``KERAS_LIVER_TF_LOG`` (a ``TF_CPP_MIN_LOG_LEVEL``
value, ``0`` shows everything) bring them back; a ``TF_CPP_MIN_LOG_LEVEL``
the user set is respected.

TensorFlow 2.21 writes its import-time lines through absl before it reads
``TF_CPP_MIN_LOG_LEVEL`` (tensorflow/tensorflow#100442), so the variable
alone does not silence them: commands that need TensorFlow import it
through `import_tensorflow_quietly`, which points file descriptor 2 at
``/dev/null`` for the import only (a failing import still raises, and its
traceback is printed once stderr is back).
"""

import logging
import os
import sys

ENV = "KERAS_LIVER_TF_LOG"


def quiet_tensorflow(verbose: bool = False) -> bool:
    """Set TensorFlow's log levels for a quiet run (call before TensorFlow is imported).

    Args:
        verbose: Leave TensorFlow's logging as it is.

    Returns:
        True if TensorFlow's logging was silenced.
    """
    requested = os.environ.get(ENV)
    if requested is not None:
        os.environ["TF_CPP_MIN_LOG_LEVEL"] = requested.strip() or "0"
        return False
    if verbose:
        return False
    os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "3")  # C++ INFO, WARNING and ERROR lines (absl follows it)
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    for name in ("tensorflow", "absl", "h5py"):
        logging.getLogger(name).setLevel(logging.ERROR)
    return True


def import_tensorflow_quietly(quiet: bool = True):
    """Import TensorFlow (and probe its devices) with the C++ stderr lines of that step dropped.

    Args:
        quiet: False imports it normally (``--verbose``, ``KERAS_LIVER_TF_LOG``).

    Returns:
        The ``tensorflow`` module.
    """
    if not quiet or "tensorflow" in sys.modules:
        import tensorflow as tf

        return tf
    sys.stderr.flush()
    saved = os.dup(2)
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, 2)
    try:
        import tensorflow as tf

        tf.config.list_physical_devices()  # CUDA probing logs on first use, not on import
    finally:
        sys.stderr.flush()
        os.dup2(saved, 2)
        os.close(saved)
        os.close(devnull)
    return tf
