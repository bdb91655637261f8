"""GrpcClient: TF Serving's gRPC API through tensorflow-serving-api's stubs.

PredictionService.Predict and GetModelMetadata, ModelService.GetModelStatus; the same
interface and errors as client.RestClient.
"""

from __future__ import annotations

from typing import Any, Callable, Sequence

import grpc
import numpy as np
from google.protobuf import json_format, message
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from serving import tensor_proto
from serving.client import (
    DEFAULT_TIMEOUT_SECONDS,
    SIGNATURE,
    TOKEN_COUNT,
    Article,
    ClientError,
    Explanation,
    ModelClient,
    Prediction,
    one_line,
)
from serving.explanations import ATTRIBUTIONS, EXPLAIN_SIGNATURE, TOKENS, word_shares
from serving.version_status import VersionStatus

_STATE_NAMES = get_model_status_pb2.ModelVersionStatus.State.Name
_ERROR_CODE_NAMES = error_codes_pb2.Code.Name


class GrpcClient(ModelClient):
    def __init__(self, target: str, model: str, version: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS):
        """target: host:port of the gRPC API, e.g. localhost:8500."""
        self.target = target
        self.model = model
        self.version = version
        self.timeout = timeout
        # gRPC's default 4 MB receive limit would cap responses; requests are not limited.
        self._channel = grpc.insecure_channel(target, options=[("grpc.max_receive_message_length", -1)])
        self._predictions = prediction_service_pb2_grpc.PredictionServiceStub(self._channel)
        self._models = model_service_pb2_grpc.ModelServiceStub(self._channel)

    def predict(self, articles: Sequence[Article]) -> list[Prediction]:
        if not articles:
            return []
        return self._predictions_of(self._predict(SIGNATURE, articles))

    def explain(self, articles: Sequence[Article]) -> list[Explanation]:
        if not articles:
            return []
        response = self._predict(EXPLAIN_SIGNATURE, articles)
        predictions = self._predictions_of(response)
        try:
            tokens = tensor_proto.proto_to_array(response.outputs[TOKENS]).tolist()
            attributions = tensor_proto.proto_to_array(response.outputs[ATTRIBUTIONS]).tolist()
        except Exception as error:  # A missing or malformed output tensor.
            raise ClientError(f"unexpected response from {self.target}: {one_line(str(error))}") from None
        return [Explanation(prediction, word_shares([token.decode("utf-8", "replace") for token in row_tokens],
                                                    row_shares))
                for prediction, row_tokens, row_shares in zip(predictions, tokens, attributions)]

    def _predict(self, signature: str, articles: Sequence[Article]) -> predict_pb2.PredictResponse:
        request = predict_pb2.PredictRequest(model_spec=self._model_spec(signature))
        for field in ("title", "author", "text"):
            values = np.array([getattr(a, field).encode("utf-8") for a in articles], dtype=object)
            request.inputs[field].CopyFrom(tensor_proto.array_to_proto(values))
        return self._call(self._predictions.Predict, request)

    def _predictions_of(self, response: predict_pb2.PredictResponse) -> list[Prediction]:
        try:
            probabilities = tensor_proto.proto_to_array(response.outputs["probability"]).tolist()
            labels = tensor_proto.proto_to_array(response.outputs["label"]).tolist()
            token_counts = (tensor_proto.proto_to_array(response.outputs[TOKEN_COUNT]).tolist()
                            if TOKEN_COUNT in response.outputs else [None] * len(labels))
        except Exception as error:  # A missing or malformed output tensor.
            raise ClientError(f"unexpected response from {self.target}: {one_line(str(error))}") from None
        return [Prediction(float(p), int(label), None if count is None else int(count))
                for p, label, count in zip(probabilities, labels, token_counts)]

    def status(self) -> list[VersionStatus]:
        request = get_model_status_pb2.GetModelStatusRequest(model_spec=self._model_spec())
        response = self._call(self._models.GetModelStatus, request)
        return [
            VersionStatus(entry.version, _STATE_NAMES(entry.state), _ERROR_CODE_NAMES(entry.status.error_code),
                          entry.status.error_message)
            for entry in response.model_version_status
        ]

    def signatures(self) -> dict[str, Any]:
        request = get_model_metadata_pb2.GetModelMetadataRequest(
            model_spec=self._model_spec(), metadata_field=["signature_def"]
        )
        response = self._call(self._predictions.GetModelMetadata, request)
        signature_defs = get_model_metadata_pb2.SignatureDefMap()
        response.metadata["signature_def"].Unpack(signature_defs)
        as_json = json_format.MessageToDict(
            signature_defs, including_default_value_fields=True, preserving_proto_field_name=True
        )
        return as_json["signature_def"]

    def close(self) -> None:
        self._channel.close()

    def _model_spec(self, signature_name: str = "") -> model_pb2.ModelSpec:
        spec = model_pb2.ModelSpec(name=self.model, signature_name=signature_name)
        if self.version is not None:
            spec.version.value = self.version
        return spec

    def _call(self, method: Callable[..., message.Message], request: message.Message) -> Any:
        try:
            return method(request, timeout=self.timeout)
        except grpc.RpcError as error:
            code, details = error.code(), one_line(error.details() or "")
            if code == grpc.StatusCode.DEADLINE_EXCEEDED:
                raise ClientError(f"timed out after {self.timeout:g} s waiting for {self.target}", code.name) from None
            if code == grpc.StatusCode.UNAVAILABLE:
                raise ClientError(f"cannot reach {self.target}: {details}", code.name) from None
            raise ClientError(f"{code.name} from {self.target}: {details}", code.name) from None
