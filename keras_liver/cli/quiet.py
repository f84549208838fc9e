"""Silence TensorFlow's C++ and absl logging before TensorFlow is imported.

TensorFlow prints dozens of lines on import and on first use (oneDNN,
CUDA probing, ``cpu_feature_guard``) that say nothing about the user's
work. The command line calls `quiet_tensorflow` first thing, so only the
package's own INFO lines and progress bars remain. ``--verbose`` or the
environment variable ``KERAS_LIVER_TF_LOG`` (a ``TF_CPP_MIN_LOG_LEVEL``
value, ``0`` shows everything) bring them back; a ``TF_CPP_MIN_LOG_LEVEL``
the user set is respected.
"""

import logging
import os

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
