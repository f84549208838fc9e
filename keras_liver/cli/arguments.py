"""Argument types shared by several commands (each names the flag and the expected form when it fails)."""

import argparse


def _numbers(text: str, cast, lengths, minimum, allow_equal: bool = True):
    try:
        values = tuple(cast(v) for v in text.split(","))
    except ValueError:
        return None
    low = min(values, default=minimum)
    if len(values) not in lengths or low < minimum or (low == minimum and not allow_equal):
        return None
    return values


def shape(text: str) -> tuple:
    """``Z,Y,X`` volume shape, each at least 4."""
    values = _numbers(text, int, (3,), 4)
    if values is None:
        raise argparse.ArgumentTypeError(f"--shape {text!r}: give Z,Y,X, each at least 4, e.g. 48,128,128")
    return values


def crop(text: str) -> tuple:
    """A lesion crop ``Z,Y,X`` in voxels, each at least 2."""
    values = _numbers(text, int, (3,), 2)
    if values is None:
        raise argparse.ArgumentTypeError(f"--crop {text!r}: give Z,Y,X voxels, each at least 2, e.g. 8,24,24")
    return values


def window(text: str) -> tuple:
    """A sliding-window size ``Z,Y,X`` (2D models ``1,Y,X``), or ``Y,X``."""
    values = _numbers(text, int, (2, 3), 1)
    if values is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give a window as Z,Y,X (2D models: 1,Y,X) in voxels")
    return values


def triple(text: str) -> tuple:
    """Three positive numbers ``Z,Y,X`` (a spacing in mm)."""
    values = _numbers(text, float, (3,), 0.0, allow_equal=False)
    if values is None:
        raise argparse.ArgumentTypeError(f"{text!r}: give three positive numbers Z,Y,X")
    return values


def add_window_options(parser, *, batch_size: bool = False) -> None:
    """``--patch``, ``--spacing``, ``--overlap`` (and ``--batch-size``) of the commands that segment volumes."""
    parser.add_argument("--patch", type=window, default=None, help="sliding-window size Z,Y,X (2D models: 1,Y,X)")
    parser.add_argument("--spacing", type=triple, default=None, help="resample to Z,Y,X mm first (the training "
                                                                     "spacing)")
    parser.add_argument("--overlap", type=float, default=0.5)
    if batch_size:
        parser.add_argument("--batch-size", type=int, default=4, help="windows per request")
