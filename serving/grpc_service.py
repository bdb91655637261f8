"""TF Serving's gRPC API over a ModelStore: PredictionService (Predict, GetModelMetadata) and
ModelService (GetModelStatus). Classify, Regress, MultiInference and HandleReloadConfigRequest
answer UNIMPLEMENTED (the generated base classes' behaviour)."""

from __future__ import annotations

import functools
import logging
from concurrent import futures
from typing import Callable, TypeVar

import grpc
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving import responses, tensor_proto, tensors
from serving.errors import ServingError, invalid_argument, not_found
from serving.model_store import ModelStore

log = logging.getLogger(__name__)

Request = TypeVar("Request")
Response = TypeVar("Response")


def _reporting_errors(method: Callable[..., Response]) -> Callable[..., Response]:
    """ServingError -> its status code and message; anything else -> INTERNAL, logged."""

    @functools.wraps(method)
    def wrapper(self, request: Request, context: grpc.ServicerContext) -> Response:
        try:
            return method(self, request, context)
        except ServingError as error:
            context.abort(error.code, error.message)
        except Exception as error:
            log.exception("%s failed", method.__name__)
            context.abort(grpc.StatusCode.INTERNAL, f"internal error: {type(error).__name__}: {error}")

    return wrapper


def _name_and_version(request: Request) -> tuple[str, int | None]:
    if not request.HasField("model_spec"):
        raise invalid_argument("Missing ModelSpec")
    spec: model_pb2.ModelSpec = request.model_spec
    if spec.HasField("version_label"):
        raise not_found(f"Unrecognized servable version label: {spec.version_label}")
    return spec.name, spec.version.value if spec.HasField("version") else None


class PredictionService(prediction_service_pb2_grpc.PredictionServiceServicer):
    def __init__(self, store: ModelStore):
        self._store = store

    @_reporting_errors
    def Predict(self, request: predict_pb2.PredictRequest, context: grpc.ServicerContext) -> predict_pb2.PredictResponse:  # noqa: N802
        name, version = _name_and_version(request)
        servable = self._store.servable(name, version)
        signature = servable.signature(request.model_spec.signature_name)
        outputs = signature.run(tensors.protos_to_arrays(request.inputs, signature.inputs), request.output_filter)
        response = predict_pb2.PredictResponse(
            model_spec=responses.model_spec(name, servable.version, signature.name)
        )
        for output_name, array in outputs.items():
            response.outputs[output_name].CopyFrom(tensor_proto.array_to_proto(array))
        return response

    @_reporting_errors
    def GetModelMetadata(  # noqa: N802
        self, request: get_model_metadata_pb2.GetModelMetadataRequest, context: grpc.ServicerContext
    ) -> get_model_metadata_pb2.GetModelMetadataResponse:
        name, version = _name_and_version(request)
        return responses.metadata_response(name, self._store.servable(name, version), list(request.metadata_field))


class ModelService(model_service_pb2_grpc.ModelServiceServicer):
    def __init__(self, store: ModelStore):
        self._store = store

    @_reporting_errors
    def GetModelStatus(  # noqa: N802
        self, request: get_model_status_pb2.GetModelStatusRequest, context: grpc.ServicerContext
    ) -> get_model_status_pb2.GetModelStatusResponse:
        name, version = _name_and_version(request)
        return responses.status_response(self._store.statuses(name, version))


def create_server(
    store: ModelStore, host: str, port: int, *, max_message_bytes: int, threads: int
) -> tuple[grpc.Server, int]:
    """The server, not yet started, and the port it bound (port 0 picks a free one)."""
    server = grpc.server(
        futures.ThreadPoolExecutor(max_workers=threads, thread_name_prefix="grpc-server"),
        options=[
            # A larger request fails with RESOURCE_EXHAUSTED before any of it is parsed.
            ("grpc.max_receive_message_length", max_message_bytes),
            # grpcio shares ports between processes by default (SO_REUSEPORT): a second server
            # on a busy port would silently take half its traffic instead of failing.
            ("grpc.so_reuseport", 0),
        ],
    )
    prediction_service_pb2_grpc.add_PredictionServiceServicer_to_server(PredictionService(store), server)
    model_service_pb2_grpc.add_ModelServiceServicer_to_server(ModelService(store), server)
    try:
        return server, server.add_insecure_port(f"{host}:{port}")
    except RuntimeError:
        raise OSError(f"cannot listen for gRPC on {host}:{port} (port in use?)") from None
