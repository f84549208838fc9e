"""Run the reliability corpus (tests/reliability) and print its table of cases and results.

Usage:
    python scripts/reliability_table.py [--out docs/reliability_table.md]

Every case of the corpus records the bad input, what the package answered (exit code, gRPC
status or HTTP status, with the server's memory growth) and the one-line message. The table
(Markdown) goes to stdout, or to ``--out``; the exit code is pytest's.
"""

import argparse
import os
import pathlib
import subprocess
import sys
import tempfile
import time

ROOT = pathlib.Path(__file__).resolve().parents[1]


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=pathlib.Path, default=None, help="write the table here instead of stdout")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        table = pathlib.Path(tmp) / "table.md"
        started = time.monotonic()
        done = subprocess.run([sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests/reliability"],
                              cwd=ROOT, env={**os.environ, "KERAS_LIVER_RELIABILITY_TABLE": str(table)},
                              stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        seconds = time.monotonic() - started
        summary = [line for line in done.stdout.splitlines() if " passed" in line or " failed" in line]
        text = table.read_text() if table.is_file() else "(no table written)\n"
    text += f"\npytest: {summary[-1] if summary else 'no summary'}; {seconds:.0f} s\n"
    if args.out:
        args.out.write_text(text)
    else:
        sys.stdout.write(text)
    if done.returncode:
        sys.stderr.write(done.stdout[-4000:])
    return done.returncode


if __name__ == "__main__":
    sys.exit(main())
