"""`fakenews serve`: TF Serving's REST and gRPC APIs for a pushed model, without Docker.

Serves the highest numbered version under --model-base and swaps in newer ones as the
Pusher writes them. Production runs TF Serving itself (serving/README.md); this takes the
same batching file, so it refuses the requests production refuses.
"""

from __future__ import annotations

import argparse
import logging
import os
import signal
import sys
import threading
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from serving.server import LocalModelServer


def _positive(value: str) -> int:
    number = int(value)
    if number < 1:
        raise argparse.ArgumentTypeError(f"must be >= 1, got {value}")
    return number


def _positive_float(value: str) -> float:
    number = float(value)
    if not number > 0:  # Also refuses nan.
        raise argparse.ArgumentTypeError(f"must be > 0, got {value}")
    return number


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pipeline.config import MODEL_NAME
    from serving import settings

    parser.add_argument("--model-base", required=True, metavar="DIR",
                        help="folder of numbered versions: the Pusher's <run output>/serving/<model name>")
    parser.add_argument("--model-name", default=MODEL_NAME, metavar="NAME",
                        help="the served model's name in request URLs and ModelSpecs (default: %(default)s)")
    parser.add_argument("--host", default="127.0.0.1",
                        help="address to listen on; 0.0.0.0 for every interface (default: %(default)s)")
    parser.add_argument("--rest-port", type=int, default=settings.REST_PORT, help="(default: %(default)s)")
    parser.add_argument("--grpc-port", type=int, default=settings.GRPC_PORT, help="(default: %(default)s)")
    parser.add_argument("--batching-parameters-file", default=settings.BATCHING_PARAMETERS_FILE, metavar="FILE",
                        help="TF Serving's BatchingParameters; a request of more than its max_batch_size articles "
                             "is refused, as TF Serving refuses it (default: serving/tfserving/"
                             f"{os.path.basename(settings.BATCHING_PARAMETERS_FILE)}, production's)")
    parser.add_argument("--max-body-bytes", type=_positive, default=settings.MAX_BODY_BYTES, metavar="BYTES",
                        help="largest REST body or gRPC message; a local guard TF Serving does not have "
                             "(default: %(default)s = 32 MiB)")
    parser.add_argument("--poll-seconds", type=_positive_float, default=settings.POLL_SECONDS,
                        help="how often to look for a new version (default: %(default)s)")


def banner(server: "LocalModelServer", model_base: str, batching_parameters_file: str) -> str:
    """The start-up lines. The REST line starts with the base URL `fakenews predict --rest`
    takes (it takes the model's URL, shown after it, too)."""
    from serving.version_folders import list_versions

    current = server.store.current
    if current is not None:
        serving = f"version {current.version}"
    elif list_versions(model_base):
        serving = "no version loaded (errors above); waiting for a new one"
    else:
        serving = "no version folder (all-digit name) yet; waiting for one to be pushed"
    return (f"Serving '{server.model_name}' from {model_base}: {serving}\n"
            f"  REST  {server.rest_url}  (model: {server.rest_url}/v1/models/{server.model_name})\n"
            f"  gRPC  {server.grpc_target}\n"
            f"  at most {server.max_batch_size} articles per request ({batching_parameters_file})\n"
            "Ctrl-C to stop.")


def main(args: argparse.Namespace) -> int:
    from serving import settings
    from serving.version_folders import misplaced_base

    if problem := misplaced_base(args.model_base):  # It would wait for ever, silently.
        print(f"error: --model-base: {problem}", file=sys.stderr)
        return 2
    settings.apply_serving_environment()  # Before TensorFlow is imported.
    from serving.server import LocalModelServer

    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(levelname)s %(message)s")
    # TensorFlow's own INFO/WARNING lines at each load (restoring variables, the v1 loader's
    # deprecation notice, see serving/servable.py) say nothing an operator needs.
    logging.getLogger("tensorflow").setLevel(logging.ERROR)
    try:
        server = LocalModelServer(
            args.model_base, args.model_name, host=args.host, rest_port=args.rest_port, grpc_port=args.grpc_port,
            batching_parameters_file=args.batching_parameters_file, max_body_bytes=args.max_body_bytes,
            poll_seconds=args.poll_seconds,
        )
    except (OSError, ValueError) as error:  # The batching file.
        print(f"error: --batching-parameters-file: {error}", file=sys.stderr)
        return 2
    try:
        server.start()
    except OSError as error:
        print(f"error: {error}", file=sys.stderr)
        return 1
    print(banner(server, args.model_base, args.batching_parameters_file), flush=True)
    stopping = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: stopping.set())
    try:
        stopping.wait()
    except KeyboardInterrupt:
        pass
    finally:
        server.stop()
    return 0
