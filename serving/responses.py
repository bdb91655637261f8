"""Status and metadata responses as TF Serving's protos, for both front ends.

gRPC returns them as they are; REST sends their JSON form, printed the way TF Serving prints
it (http_rest_api_util.cc: default values included, metadata with proto field names).
"""

from __future__ import annotations

from typing import Any

from google.protobuf import json_format
from tensorflow.core.protobuf import error_codes_pb2
from tensorflow_serving.apis import get_model_metadata_pb2, get_model_status_pb2, model_pb2, status_pb2

from serving.errors import invalid_argument
from serving.servable import Servable
from serving.version_status import VersionStatus

SIGNATURE_DEF_FIELD = "signature_def"  # The one metadata field TF Serving serves.


def status_response(statuses: list[VersionStatus]) -> get_model_status_pb2.GetModelStatusResponse:
    return get_model_status_pb2.GetModelStatusResponse(model_version_status=[
        get_model_status_pb2.ModelVersionStatus(
            version=status.version,
            state=get_model_status_pb2.ModelVersionStatus.State.Value(status.state),
            status=status_pb2.StatusProto(
                error_code=error_codes_pb2.Code.Value(status.error_code),
                error_message=status.error_message,
            ),
        )
        for status in statuses
    ])


def metadata_response(
    model_name: str, servable: Servable, fields: list[str]
) -> get_model_metadata_pb2.GetModelMetadataResponse:
    if not fields:
        raise invalid_argument("GetModelMetadataRequest must specify at least one metadata_field")
    if unsupported := [field for field in fields if field != SIGNATURE_DEF_FIELD]:
        raise invalid_argument(f"Metadata field {unsupported[0]} is not supported")
    response = get_model_metadata_pb2.GetModelMetadataResponse()
    response.model_spec.CopyFrom(model_spec(model_name, servable.version))
    response.metadata[SIGNATURE_DEF_FIELD].Pack(servable.signature_defs)
    return response


def model_spec(model_name: str, version: int, signature_name: str = "") -> model_pb2.ModelSpec:
    spec = model_pb2.ModelSpec(name=model_name, signature_name=signature_name)
    spec.version.value = version
    return spec


def status_json(response: get_model_status_pb2.GetModelStatusResponse) -> dict[str, Any]:
    return json_format.MessageToDict(response, including_default_value_fields=True)


def metadata_json(response: get_model_metadata_pb2.GetModelMetadataResponse) -> dict[str, Any]:
    """{"model_spec": ..., "metadata": {"signature_def": <SignatureDefMap>}}, as TF Serving."""
    signature_defs = get_model_metadata_pb2.SignatureDefMap()
    response.metadata[SIGNATURE_DEF_FIELD].Unpack(signature_defs)
    as_json = lambda message: json_format.MessageToDict(  # noqa: E731
        message, including_default_value_fields=True, preserving_proto_field_name=True
    )
    return {"model_spec": as_json(response.model_spec), "metadata": {SIGNATURE_DEF_FIELD: as_json(signature_defs)}}
