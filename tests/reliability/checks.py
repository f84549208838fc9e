"""Checks every reliability case makes: one line on stderr, nothing written, memory kept."""

import os
import pathlib
import resource
import subprocess
import sys

_PEAK = "KERAS_LIVER_TEST_PEAK_KIB "
# VmHWM, not ru_maxrss: a child started from a large parent inherits the parent's ru_maxrss on Linux.
_RUN_AND_REPORT_PEAK = (
    "import sys\n"
    "from keras_liver.cli.main import main\n"
    "code = main(sys.argv[1:])\n"
    "peak = [line.split()[1] for line in open('/proc/self/status') if line.startswith('VmHWM')][0]\n"
    f"sys.stderr.write('\\n{_PEAK}' + peak + '\\n')\n"
    "sys.exit(code)\n"
)


def files_under(folder) -> set:
    """Every path under ``folder`` (hidden ones included), relative to it."""
    folder = pathlib.Path(folder)
    return {str(p.relative_to(folder)) for p in folder.rglob("*")}


def peak_rss_mib() -> float:
    """This process's peak resident memory so far."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def assert_one_line_error(err: str, command: str, words) -> str:
    """The CLI's stderr is exactly one ``keras-liver COMMAND: error: ...`` line holding ``words``."""
    lines = [line for line in err.strip().splitlines() if line.strip()]
    assert len(lines) == 1, lines
    assert lines[0].startswith(f"keras-liver {command}: error: "), lines[0]
    assert "Traceback" not in err
    for word in words:
        assert word in lines[0], (word, lines[0])
    return lines[0]


def cli_process(*argv, env=None, timeout=120):
    """``keras-liver ARGV`` in a fresh process: (exit code, stderr without the peak line, its peak memory in MiB)."""
    done = subprocess.run([sys.executable, "-c", _RUN_AND_REPORT_PEAK, *map(str, argv)], capture_output=True,
                          text=True, timeout=timeout, env={**os.environ, **(env or {})})
    err, _, peak = done.stderr.rpartition(_PEAK)
    if not _:
        return done.returncode, done.stderr, float("nan")
    return done.returncode, err, int(peak.split()[0]) / 1024
