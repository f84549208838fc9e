"""``keras-liver <command>``: argparse front end, ``main(argv) -> int``.

Each command is a module of this package with ``add_parser(sub)`` and
``run(args)``; this module only puts them together. TensorFlow's own
logging is silenced before anything imports TensorFlow (`quiet`). User
mistakes (any `KerasLiverError`) become one line on stderr and exit code 2;
a traceback is only printed for bugs.
"""

import argparse
import importlib
import logging
import sys

from keras_liver.cli.quiet import import_tensorflow_quietly, quiet_tensorflow
from keras_liver.errors import KerasLiverError
from keras_liver.version import __version__

COMMANDS = ("info", "preview", "phantoms", "figures", "presets", "train", "cascade", "predict", "predict_batch",
            "evaluate", "compare", "export", "serve", "query")
NEEDS_TENSORFLOW = ("train", "cascade", "predict", "predict-batch", "compare", "export", "serve", "query")


class _OneLineParser(argparse.ArgumentParser):
    """Argument errors as one ``keras-liver CMD: error: ...`` line (exit 2), like every other user error."""

    def error(self, message):
        self.exit(2, f"{self.prog}: error: {message} (see {self.prog} --help)\n")


def build_parser() -> argparse.ArgumentParser:
    """The argument parser with every sub-command."""
    parser = _OneLineParser(prog="keras-liver", description=__doc__.splitlines()[0])
    parser.add_argument("--version", action="version", version=f"keras-liver {__version__}")
    parser.add_argument("-v", "--verbose", action="store_true",
                        help="debug logging, TensorFlow's own log lines included")
    sub = parser.add_subparsers(dest="command", required=True)
    for name in COMMANDS:
        importlib.import_module(f"keras_liver.cli.{name}").add_parser(sub)
    return parser


def main(argv=None) -> int:
    """Run the command line.

    Args:
        argv: Arguments without the program name (default ``sys.argv[1:]``).

    Returns:
        The exit code: 0 on success, 2 for bad input or arguments.
    """
    args = build_parser().parse_args(argv)
    quiet = quiet_tensorflow(args.verbose)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(levelname)s %(name)s: %(message)s", stream=sys.stderr)
    try:
        if args.command in NEEDS_TENSORFLOW:
            import_tensorflow_quietly(quiet)
        return int(args.run(args) or 0)
    except KerasLiverError as exc:
        message = "; ".join(line.strip() for line in str(exc).splitlines() if line.strip())  # always one line
        print(f"keras-liver {args.command}: error: {message}", file=sys.stderr)
        return 2
    except BrokenPipeError:  # e.g. `keras-liver info ... | head`
        sys.stderr.close()
        return 0


def entry_point() -> None:
    """Console-script entry point."""
    sys.exit(main())
