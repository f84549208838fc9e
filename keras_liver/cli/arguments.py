"""Argument types shared by several commands (each names the flag and the expected form when it fails)."""

import argparse


def shape(text: str) -> tuple:
    """``Z,Y,X`` volume shape, each at least 4."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) < 4:
        raise argparse.ArgumentTypeError(f"--shape {text!r}: give Z,Y,X, each at least 4, e.g. 48,128,128")
    return values


def window(text: str) -> tuple:
    """A sliding-window size ``Z,Y,X`` (2D models ``1,Y,X``), or ``Y,X``."""
    try:
        values = tuple(int(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) not in (2, 3) or min(values) < 1:
        raise argparse.ArgumentTypeError(f"{text!r}: give a window as Z,Y,X (2D models: 1,Y,X) in voxels")
    return values


def triple(text: str) -> tuple:
    """Three positive numbers ``Z,Y,X`` (a spacing in mm)."""
    try:
        values = tuple(float(v) for v in text.split(","))
    except ValueError:
        values = ()
    if len(values) != 3 or min(values) <= 0:
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
