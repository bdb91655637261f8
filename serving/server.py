"""LocalModelServer: TF Serving's REST and gRPC APIs for one model, in this Python process.

It exists so the whole flow (pipeline -> push -> serve -> predict) runs where there is no
Docker; production uses TF Serving itself (serving/tfserving/). Tests start and stop it in
process on free ports:

    with LocalModelServer(base, "fakenews", rest_port=0, grpc_port=0) as server:
        RestClient(server.rest_url, "fakenews").predict(...)

Limits: the batch limit is TF Serving's, from the batching file production is given
(serving/batching.py); the body limit is a local guard (serving/settings.py).
"""

from __future__ import annotations

import logging

import grpc

from serving import batching, grpc_service, settings
from serving.model_store import ModelStore
from serving.rest import RestServer

log = logging.getLogger(__name__)


class LocalModelServer:
    def __init__(
        self,
        model_base: str,
        model_name: str,
        *,
        host: str = "127.0.0.1",
        rest_port: int = settings.REST_PORT,
        grpc_port: int = settings.GRPC_PORT,
        batching_parameters_file: str = settings.BATCHING_PARAMETERS_FILE,
        max_body_bytes: int = settings.MAX_BODY_BYTES,
        poll_seconds: float = settings.POLL_SECONDS,
        grpc_threads: int = settings.GRPC_THREADS,
    ):
        """model_base: the folder of numbered versions (the Pusher's <output>/serving/<model>).
        Ports 0 pick free ones; read them back from rest_port / grpc_port after start().
        batching_parameters_file: TF Serving's --batching_parameters_file, for its max_batch_size.
        Raises ValueError if that file is not a BatchingParameters text proto."""
        self.host = host
        self.max_batch_size = batching.max_batch_size(batching_parameters_file)
        self.store = ModelStore(model_base, model_name, max_batch=self.max_batch_size, poll_seconds=poll_seconds)
        self._requested_ports = (rest_port, grpc_port)
        self._max_body_bytes = max_body_bytes
        self._grpc_threads = grpc_threads
        self._rest: RestServer | None = None
        self._grpc: grpc.Server | None = None
        self._grpc_port = 0

    @property
    def model_name(self) -> str:
        return self.store.model_name

    @property
    def rest_port(self) -> int:
        return self._rest.port if self._rest else 0

    @property
    def grpc_port(self) -> int:
        return self._grpc_port

    @property
    def rest_url(self) -> str:
        return f"http://{self.host}:{self.rest_port}"

    @property
    def grpc_target(self) -> str:
        return f"{self.host}:{self.grpc_port}"

    def start(self) -> "LocalModelServer":
        """Loads the newest version, then listens. Raises OSError if a port is taken or the
        model base folder is missing; nothing is left running then."""
        self.store.start()
        try:
            rest_port, grpc_port = self._requested_ports
            self._grpc, self._grpc_port = grpc_service.create_server(
                self.store, self.host, grpc_port, max_message_bytes=self._max_body_bytes, threads=self._grpc_threads
            )
            self._rest = RestServer(self.store, self.host, rest_port, self._max_body_bytes)
        except BaseException:
            self.stop()
            raise
        self._grpc.start()
        self._rest.start()
        log.info("serving %s: REST %s, gRPC %s", self.model_name, self.rest_url, self.grpc_target)
        return self

    def stop(self, grace_seconds: float = 5.0) -> None:
        """Stops listening; gRPC calls in flight get grace_seconds to finish."""
        if self._grpc is not None:
            self._grpc.stop(grace_seconds).wait()
            self._grpc = None
        if self._rest is not None:
            self._rest.stop()
            self._rest = None
        self.store.stop()

    def __enter__(self) -> "LocalModelServer":
        return self.start()

    def __exit__(self, *exc_info: object) -> None:
        self.stop()
