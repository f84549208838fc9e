"""`DevServerProcess`: ``keras-liver serve`` in a child process, for scripts, demos and tests."""

import os
import subprocess
import sys

from keras_liver.errors import ServingError


class DevServerProcess:
    """Start ``keras-liver serve`` as a separate process and learn its ports.

    A separate process keeps the server's Python interpreter (and its GIL)
    away from the client's, as a real TF Serving would be. The server picks
    free ports unless given; `target` and `rest_target` say where it listens.

    Args:
        *serve_args: Arguments of ``keras-liver serve`` (``--model-config-file F`` or
            ``--model-base-path D --model-name N``; ``--port``/``--rest-port`` default to 0 = any free port).
        startup_timeout: Seconds to wait for the server's ready line.

    Example:
        >>> with DevServerProcess("--model-base-path", "models/liver_seg", "--model-name", "liver_seg") as server:
        ...     client = PredictClient(server.target, "liver_seg")
    """

    def __init__(self, *serve_args, startup_timeout: float = 120.0):
        args = [str(a) for a in serve_args]
        if "--port" not in args:
            args += ["--port", "0"]
        if "--rest-port" not in args:
            args += ["--rest-port", "0"]
        self.args = args
        self.startup_timeout = float(startup_timeout)
        self.process = None
        self.target = None
        self.rest_target = None

    def start(self) -> "DevServerProcess":
        """Start the process and wait for its ``serving ... on gRPC HOST:PORT`` line."""
        import threading

        env = {**os.environ, "TF_CPP_MIN_LOG_LEVEL": os.environ.get("TF_CPP_MIN_LOG_LEVEL", "3")}
        self.process = subprocess.Popen([sys.executable, "-m", "keras_liver.cli", "serve", *self.args],
                                        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
        errors = []
        threading.Thread(target=lambda: errors.extend(self.process.stderr), daemon=True).start()
        timer = threading.Timer(self.startup_timeout, self.process.kill)
        timer.start()
        try:
            for line in self.process.stdout:
                if line.startswith("serving "):
                    self.target = line.split(" on gRPC ")[1].split()[0]
                    if " REST " in line:
                        self.rest_target = line.split(" REST ")[1].split()[0]
                    return self
        finally:
            timer.cancel()
        self.process.wait()
        raise ServingError(f"keras-liver serve {' '.join(self.args)} exited ({self.process.returncode}) before "
                           f"serving: {''.join(errors)[-1500:].strip()}", "UNAVAILABLE")

    def stop(self, timeout: float = 30.0) -> int:
        """Send SIGTERM and wait; returns the exit code (0 for a clean shutdown)."""
        if self.process is None or self.process.poll() is not None:
            return -1 if self.process is None else self.process.returncode
        self.process.terminate()
        try:
            return self.process.wait(timeout=timeout)
        except subprocess.TimeoutExpired:
            self.process.kill()
            return self.process.wait()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()
