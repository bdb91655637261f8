"""The one error type of the local server: a TF Serving status code and a one-line message.

Every layer raises it; the gRPC front end returns the code as is and the REST front end maps it
to the HTTP status TF Serving would send (rest.HTTP_STATUS).
"""

from __future__ import annotations

import grpc


class ServingError(Exception):
    def __init__(self, code: grpc.StatusCode, message: str):
        super().__init__(message)
        self.code = code
        self.message = message


def invalid_argument(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.INVALID_ARGUMENT, message)


def not_found(message: str) -> ServingError:
    return ServingError(grpc.StatusCode.NOT_FOUND, message)


# TensorFlow's error codes are gRPC's, number for number (tensorflow/core/protobuf/error_codes.proto).
_BY_NUMBER = {code.value[0]: code for code in grpc.StatusCode}


def code_from_number(number: int) -> grpc.StatusCode:
    return _BY_NUMBER.get(number, grpc.StatusCode.UNKNOWN)
