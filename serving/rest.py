"""TF Serving's REST API (api_rest.md) over a ModelStore, on a threaded HTTP/1.1 server.

  GET  /v1/models/NAME[/versions/N]            model status
  GET  /v1/models/NAME[/versions/N]/metadata   signature defs
  POST /v1/models/NAME[/versions/N]:predict    {"instances" | "inputs", "signature_name"?}

Errors are {"error": "..."} with the HTTP status TF Serving maps the status code to. Bodies
over the size limit get 413 after being read and dropped in chunks, so memory stays bounded
and the client sees the answer instead of a reset connection.
"""

from __future__ import annotations

import http.server
import json
import logging
import re
import socket
import threading
import urllib.parse
from typing import Any

import grpc

from serving import responses, tensors
from serving.errors import ServingError, invalid_argument, not_found
from serving.model_store import ModelStore

log = logging.getLogger(__name__)

# TF Serving's ToHTTPStatusCode (model_servers/http_server.cc).
HTTP_STATUS = {
    grpc.StatusCode.CANCELLED: 499,
    grpc.StatusCode.UNKNOWN: 500,
    grpc.StatusCode.INVALID_ARGUMENT: 400,
    grpc.StatusCode.DEADLINE_EXCEEDED: 504,
    grpc.StatusCode.NOT_FOUND: 404,
    grpc.StatusCode.ALREADY_EXISTS: 409,
    grpc.StatusCode.PERMISSION_DENIED: 403,
    grpc.StatusCode.RESOURCE_EXHAUSTED: 429,
    grpc.StatusCode.FAILED_PRECONDITION: 400,
    grpc.StatusCode.ABORTED: 409,
    grpc.StatusCode.OUT_OF_RANGE: 400,
    grpc.StatusCode.UNIMPLEMENTED: 501,
    grpc.StatusCode.INTERNAL: 500,
    grpc.StatusCode.UNAVAILABLE: 503,
    grpc.StatusCode.DATA_LOSS: 500,
    grpc.StatusCode.UNAUTHENTICATED: 401,
}

# TF Serving's URL patterns (http_rest_api_util.cc), matched case-insensitively in full.
_VERSION = r"(?:/versions/(\d+)|/labels/([^/:]+))?"
_PREDICT_PATH = re.compile(rf"/v1/models/([^/:]+){_VERSION}:(classify|regress|predict)", re.IGNORECASE)
_STATUS_PATH = re.compile(rf"/v1/models(?:/([^/:]+))?{_VERSION}(?:/(metadata))?", re.IGNORECASE)

IDLE_TIMEOUT_SECONDS = 60  # A keep-alive connection idle this long is closed.
_DRAIN_CHUNK = 1 << 16


class RestApi:
    """(method, path, body) -> (HTTP status, JSON body); no sockets, so tests can call it."""

    def __init__(self, store: ModelStore):
        self._store = store

    def handle(self, method: str, path: str, body: bytes) -> tuple[int, bytes]:
        try:
            return 200, _dumps(self._dispatch(method, urllib.parse.urlsplit(path).path, body))
        except ServingError as error:
            return HTTP_STATUS.get(error.code, 500), _dumps({"error": error.message})
        except Exception as error:  # A bug here must cost one request, not the server.
            log.exception("%s %s failed", method, path)
            return 500, _dumps({"error": f"internal error: {type(error).__name__}: {error}"})

    def _dispatch(self, method: str, path: str, body: bytes) -> Any:
        if not path.lower().startswith("/v1/"):
            raise not_found(f"no API at {path}: TF Serving's REST API is under /v1/")
        if method == "POST" and (match := _PREDICT_PATH.fullmatch(path)):
            name, version, label, verb = match.groups()
            if verb.lower() != "predict":
                raise ServingError(grpc.StatusCode.UNIMPLEMENTED, f"only :predict is served here, not :{verb}")
            return self._predict(urllib.parse.unquote(name), _version(version, label), body)
        if method == "GET" and (match := _STATUS_PATH.fullmatch(path)):
            name, version, label, metadata = match.groups()
            if not name:
                raise invalid_argument("Missing model name in request.")
            name, version = urllib.parse.unquote(name), _version(version, label)
            if metadata:
                servable = self._store.servable(name, version)
                return responses.metadata_json(
                    responses.metadata_response(name, servable, [responses.SIGNATURE_DEF_FIELD])
                )
            return responses.status_json(responses.status_response(self._store.statuses(name, version)))
        raise invalid_argument(f"Malformed request: {method} {path}")

    def _predict(self, name: str, version: int | None, body: bytes) -> dict[str, Any]:
        request = _parse_json(body)
        signature_name = request.get("signature_name", "")
        if not isinstance(signature_name, str):
            raise invalid_argument("'signature_name' must be a string")
        signature = self._store.servable(name, version).signature(signature_name)
        if ("instances" in request) == ("inputs" in request):
            raise invalid_argument("the request must have exactly one of 'instances' and 'inputs'")
        if "instances" in request:
            outputs = signature.run(tensors.instances_to_arrays(request["instances"], signature.inputs))
            return {"predictions": tensors.arrays_to_rows(outputs)}
        outputs = signature.run(tensors.inputs_to_arrays(request["inputs"], signature.inputs))
        return {"outputs": tensors.arrays_to_columns(outputs)}


def _parse_json(body: bytes) -> dict[str, Any]:
    if not body:
        raise invalid_argument("JSON Parse error: The document is empty")
    try:
        request = json.loads(body)
    except (ValueError, RecursionError) as error:  # ValueError includes bad UTF-8.
        raise invalid_argument(f"JSON Parse error: {error}") from None
    if not isinstance(request, dict):
        raise invalid_argument("the request body must be a JSON object")
    return request


def _version(number: str | None, label: str | None) -> int | None:
    if label is not None:
        raise not_found(f"Unrecognized servable version label: {urllib.parse.unquote(label)}")
    return None if number is None else int(number)


def _dumps(payload: Any) -> bytes:
    return json.dumps(payload, separators=(",", ":")).encode("utf-8")


class _HttpServer(http.server.ThreadingHTTPServer):
    """A thread per connection; remembers open connections so `close_connections` can end
    idle keep-alive ones at shutdown instead of leaving their threads waiting."""

    daemon_threads = True

    def __init__(self, address: tuple[str, int], api: RestApi, max_body_bytes: int):
        self.api = api
        self.max_body_bytes = max_body_bytes
        self._connections: set[socket.socket] = set()
        self._connections_lock = threading.Lock()
        super().__init__(address, _Handler)

    def process_request(self, request, client_address) -> None:
        with self._connections_lock:
            self._connections.add(request)
        super().process_request(request, client_address)

    def shutdown_request(self, request) -> None:
        with self._connections_lock:
            self._connections.discard(request)
        super().shutdown_request(request)

    def handle_error(self, request, client_address) -> None:
        # A client that hangs up mid-reply is routine; socketserver would print a traceback.
        log.debug("connection from %s ended abruptly", client_address, exc_info=True)

    def close_connections(self) -> None:
        with self._connections_lock:
            connections = list(self._connections)
        for connection in connections:
            try:
                connection.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass  # Already closed by the client.


class _Handler(http.server.BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"  # Keep-alive: one TCP connection for a client's requests.
    disable_nagle_algorithm = True  # Headers and body go out as separate writes.
    timeout = IDLE_TIMEOUT_SECONDS
    server: _HttpServer

    def do_GET(self) -> None:  # noqa: N802 (http.server's naming)
        self._reply(*self.server.api.handle("GET", self.path, b""))

    def do_POST(self) -> None:  # noqa: N802
        body = self._read_body()
        if body is not None:
            self._reply(*self.server.api.handle("POST", self.path, body))

    def _read_body(self) -> bytes | None:
        """The request body, or None after replying with the reason it cannot be taken."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self._reply(411, _dumps({"error": "send the body with a Content-Length, not chunked"}))
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
            if length < 0:
                raise ValueError(length)
        except ValueError:
            self.close_connection = True
            self._reply(400, _dumps({"error": "invalid Content-Length header"}))
            return None
        limit = self.server.max_body_bytes
        if length > limit:
            while length > 0 and (chunk := self.rfile.read(min(length, _DRAIN_CHUNK))):
                length -= len(chunk)
            self._reply(413, _dumps({
                "error": f"request body of {int(self.headers['Content-Length']):,} bytes exceeds this server's "
                         f"limit of {limit:,} bytes (--max-body-bytes)"
            }))
            return None
        return self.rfile.read(length)

    def _reply(self, status: int, body: bytes) -> None:
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002 (overridden signature)
        log.debug("%s %s", self.address_string(), format % args)


class RestServer:
    def __init__(self, store: ModelStore, host: str, port: int, max_body_bytes: int):
        try:
            self._httpd = _HttpServer((host, port), RestApi(store), max_body_bytes)
        except OSError as error:
            raise OSError(f"cannot listen for REST on {host}:{port}: {error.strerror or error}") from None
        self._thread = threading.Thread(target=self._httpd.serve_forever, name="rest-server", daemon=True)

    @property
    def port(self) -> int:
        return self._httpd.server_address[1]

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        if self._thread.is_alive():
            self._httpd.shutdown()
        self._httpd.close_connections()
        self._httpd.server_close()
