"""``keras-liver serve``: the dev server with TF Serving's gRPC/REST API (a stand-in for testing clients)."""

import pathlib
import signal

from keras_liver.errors import ConfigError


def add_parser(sub) -> None:
    """Register ``serve``."""
    p = sub.add_parser("serve", help="dev server with TF Serving's gRPC/REST API (a stand-in; production uses TF "
                                     "Serving)")
    p.add_argument("--model-base-path", default=None, help="folder of numeric version folders")
    p.add_argument("--model-name", default=None)
    p.add_argument("--model-config-file", default=None, help="a TF Serving models.config instead")
    p.add_argument("--host", default="127.0.0.1", help="interface to bind (default loopback only)")
    p.add_argument("--port", type=int, default=8500, help="gRPC port (0: any free port)")
    p.add_argument("--rest-port", type=int, default=8501, help="REST port (0: any free port; -1: no REST)")
    p.add_argument("--max-message-mb", type=int, default=256, help="gRPC message limit")
    p.add_argument("--poll-seconds", type=float, default=2.0, help="how often to look for new versions")
    p.set_defaults(run=run)


def _check(args) -> None:
    for flag, port in (("--port", args.port), ("--rest-port", args.rest_port)):
        if not (0 <= port <= 65535 or (flag == "--rest-port" and port == -1)):
            raise ConfigError(f"{flag} {port}: a TCP port is 0..65535 (0: any free port)")
    if args.model_base_path and not pathlib.Path(args.model_base_path).is_dir():
        raise ConfigError(f"--model-base-path {args.model_base_path}: no such folder (it holds the numeric version "
                          "folders that `keras-liver export --base` writes)")


def run(args) -> int:
    from keras_liver.serving import DevServer, ModelRegistry

    _check(args)

    if args.model_config_file:
        if args.model_base_path or args.model_name:
            raise ConfigError("--model-config-file replaces --model-base-path/--model-name; give one or the other")
        registry = ModelRegistry.from_config_file(args.model_config_file)
    else:
        if not (args.model_base_path and args.model_name):
            raise ConfigError("give --model-base-path and --model-name, or --model-config-file")
        registry = ModelRegistry([{"name": args.model_name, "base_path": args.model_base_path}])
    rest_port = None if args.rest_port < 0 else args.rest_port
    server = DevServer(registry, host=args.host, port=args.port, rest_port=rest_port,
                       max_message_mb=args.max_message_mb, poll_seconds=args.poll_seconds)
    server.start()
    for sig in (signal.SIGINT, signal.SIGTERM):
        signal.signal(sig, lambda *_: server.request_stop())
    rest = f" REST {args.host}:{server.rest_port}" if server.rest_port is not None else ""
    print(f"serving {', '.join(registry.names)} on gRPC {args.host}:{server.port}{rest}"
          " (keras-liver dev server: a stand-in for TF Serving)", flush=True)
    server.wait()
    server.stop()
    return 0
