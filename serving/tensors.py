"""The local server's request tensors: TF Serving's JSON encodings <-> numpy, and gRPC inputs.

Inputs are checked against a signature's input specs while they are converted, with the
messages a caller needs ("input 'title': 3 is not a string"), so nothing malformed reaches
TensorFlow. JSON follows TF Serving's rules (util/json_tensor.cc): `instances` (row format) or
`inputs` (columnar), strings as JSON strings or {"b64": ...}, outputs named *_bytes returned as
{"b64": ...}. TensorProtos are converted by tensor_proto.py, which the gRPC client shares.

A local guard beyond TF Serving: an input name the signature lacks is an error here, where TF
Serving ignores it in the columnar format; a typo should not pass silently. It only refuses
what production would accept, never the reverse.
"""

from __future__ import annotations

import base64
import binascii
import math
import reprlib
from typing import Any, Callable, Iterable, Mapping

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2

from serving import tensor_proto
from serving.errors import invalid_argument

Specs = Mapping[str, tf.TensorSpec]

_B64 = "b64"
_BYTES_SUFFIX = "_bytes"
_FLOAT32_MAX = float(np.finfo(np.float32).max)


# --- JSON -> numpy ------------------------------------------------------------------------

def instances_to_arrays(instances: Any, specs: Specs) -> dict[str, np.ndarray]:
    """Row format: one JSON value per instance (one input) or one object per instance."""
    if not isinstance(instances, list):
        raise invalid_argument("'instances' must be a list")
    if not instances:
        raise invalid_argument("No values in 'instances' array")
    if not _is_object(instances[0]):
        name = _single_input(specs, "'instances' is a plain list")
        return {name: json_to_array(instances, specs[name].dtype, name)}
    check_input_names(instances[0].keys(), specs)
    columns: dict[str, list] = {name: [] for name in specs}
    for index, instance in enumerate(instances):
        if not _is_object(instance) or instance.keys() != columns.keys():
            raise invalid_argument(
                f"instance {index} must be an object with exactly the keys {sorted(specs)}, like instance 0"
            )
        for name, column in columns.items():
            column.append(instance[name])
    return {name: json_to_array(column, specs[name].dtype, name) for name, column in columns.items()}


def inputs_to_arrays(inputs: Any, specs: Specs) -> dict[str, np.ndarray]:
    """Columnar format: {name: tensor} or, for a single-input signature, the tensor itself."""
    if not _is_object(inputs):
        name = _single_input(specs, "'inputs' is a plain value or list")
        return {name: json_to_array(inputs, specs[name].dtype, name)}
    check_input_names(inputs.keys(), specs)
    return {name: json_to_array(value, specs[name].dtype, name) for name, value in inputs.items()}


def json_to_array(value: Any, dtype: tf.DType, name: str) -> np.ndarray:
    """A (nested) JSON list of `dtype` values as an array; ragged lists are rejected."""
    shape = _json_shape(value)
    convert = _leaf_converter(dtype, name)
    flat: list = []
    _flatten(value, shape, 0, convert, flat, name)
    return np.array(flat, dtype=dtype.as_numpy_dtype).reshape(shape)


def _json_shape(value: Any) -> list[int]:
    """The shape implied by the first element at each level, as TF Serving infers it."""
    shape = []
    while isinstance(value, list):
        shape.append(len(value))
        if not value:
            break
        value = value[0]
    return shape


def _flatten(value: Any, shape: list[int], level: int, convert: Callable[[Any], Any], out: list, name: str) -> None:
    if level == len(shape):
        if isinstance(value, list):
            raise invalid_argument(f"input '{name}': a list nested deeper than the rest at level {level}")
        out.append(convert(value))
        return
    if not isinstance(value, list) or len(value) != shape[level]:
        raise invalid_argument(
            f"input '{name}': ragged value; expected a list of {shape[level]} at level {level}, "
            f"got {reprlib.repr(value)}"
        )
    for item in value:
        _flatten(item, shape, level + 1, convert, out, name)


def _leaf_converter(dtype: tf.DType, name: str) -> Callable[[Any], Any]:
    def wrong(value: Any) -> Exception:
        return invalid_argument(f"input '{name}': {reprlib.repr(value)} is not a {dtype.name} value")

    if dtype == tf.string:
        def to_bytes(value: Any) -> bytes:
            if isinstance(value, str):
                return value.encode("utf-8")
            if _is_b64(value):
                try:
                    return base64.b64decode(value[_B64], validate=True)
                except (binascii.Error, ValueError):
                    raise invalid_argument(f"input '{name}': invalid base64 in {reprlib.repr(value)}") from None
            raise wrong(value)
        return to_bytes
    if dtype == tf.bool:
        def to_bool(value: Any) -> bool:
            if not isinstance(value, bool):
                raise wrong(value)
            return value
        return to_bool
    if dtype.is_integer:
        low, high = dtype.min, dtype.max

        def to_int(value: Any) -> int:
            if not isinstance(value, int) or isinstance(value, bool) or not low <= value <= high:
                raise wrong(value)
            return value
        return to_int
    if dtype.is_floating:
        limit = _FLOAT32_MAX if dtype == tf.float32 else math.inf

        def to_float(value: Any) -> float:
            if not isinstance(value, (int, float)) or isinstance(value, bool):
                raise wrong(value)
            if math.isfinite(value) and abs(value) > limit:
                raise invalid_argument(f"input '{name}': {value} does not fit in {dtype.name}")
            return value
        return to_float
    raise invalid_argument(f"input '{name}': JSON cannot carry {dtype.name} tensors")


def _is_b64(value: Any) -> bool:
    return isinstance(value, dict) and len(value) == 1 and isinstance(value.get(_B64), str)


def _is_object(value: Any) -> bool:
    """A JSON object that names inputs, as opposed to a {"b64": ...} value."""
    return isinstance(value, dict) and not _is_b64(value)


def _single_input(specs: Specs, what: str) -> str:
    if len(specs) != 1:
        raise invalid_argument(f"{what}, but the signature has {len(specs)} inputs {sorted(specs)}: name them")
    return next(iter(specs))


def check_input_names(names: Iterable[str], specs: Specs) -> None:
    given = set(names)
    if unknown := sorted(given - specs.keys()):
        raise invalid_argument(f"unknown input {', '.join(map(repr, unknown))}; the signature takes {sorted(specs)}")
    if missing := sorted(specs.keys() - given):
        raise invalid_argument(f"missing input {', '.join(map(repr, missing))}; the signature takes {sorted(specs)}")


# --- numpy -> JSON ------------------------------------------------------------------------

def arrays_to_rows(outputs: Mapping[str, np.ndarray]) -> list:
    """Row format ("predictions"): a list of values, or of {name: value} for several outputs."""
    columns = {name: _json_values(name, array) for name, array in outputs.items()}
    if len(columns) == 1:
        return next(iter(columns.values()))
    names = list(columns)
    return [dict(zip(names, row)) for row in zip(*columns.values())]


def arrays_to_columns(outputs: Mapping[str, np.ndarray]) -> Any:
    """Columnar format ("outputs"): the tensor, or {name: tensor} for several outputs."""
    columns = {name: _json_values(name, array) for name, array in outputs.items()}
    return next(iter(columns.values())) if len(columns) == 1 else columns


def _json_values(name: str, array: np.ndarray) -> Any:
    values = array.tolist()
    if array.dtype != object:
        return values
    if name.endswith(_BYTES_SUFFIX):
        return _map_nested(lambda b: {_B64: base64.b64encode(b).decode("ascii")}, values)
    return _map_nested(lambda b: b.decode("utf-8", errors="replace"), values)


def _map_nested(function: Callable[[Any], Any], value: Any) -> Any:
    if isinstance(value, list):
        return [_map_nested(function, item) for item in value]
    return function(value)


# --- gRPC inputs -------------------------------------------------------------------------

def protos_to_arrays(protos: Mapping[str, tensor_pb2.TensorProto], specs: Specs) -> dict[str, np.ndarray]:
    """gRPC inputs: names and dtypes must match the signature exactly."""
    check_input_names(protos.keys(), specs)
    arrays = {}
    for name, proto in protos.items():
        expected = specs[name].dtype
        if proto.dtype != expected.as_datatype_enum:
            given = tf.dtypes.as_dtype(proto.dtype).name if proto.dtype else "an unset dtype"
            raise invalid_argument(f"input '{name}' is {given}; the signature expects {expected.name}")
        arrays[name] = _proto_to_array(proto, name)
    return arrays


def _proto_to_array(proto: tensor_pb2.TensorProto, name: str) -> np.ndarray:
    try:
        return tensor_proto.proto_to_array(proto)
    except (TypeError, ValueError) as error:
        raise invalid_argument(f"input '{name}' is not a valid TensorProto: {error}") from None
