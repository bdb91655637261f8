"""TensorProto <-> numpy, as TF Serving encodes tensors: for the gRPC client and the local server.

Belongs to neither side: the client builds requests and reads responses with it, the local
server reads requests and builds responses with it; neither imports the other's code.
"""

from __future__ import annotations

import numpy as np
import tensorflow as tf
from tensorflow.core.framework import tensor_pb2

# Fill the typed repeated fields, as TF Serving does (Tensor::AsProtoField), rather than
# tensor_content: clients written against TF Serving read e.g. `outputs["probability"].float_val`.
_PROTO_FIELDS = {
    tf.float32: "float_val",
    tf.float64: "double_val",
    tf.int8: "int_val",
    tf.int16: "int_val",
    tf.int32: "int_val",
    tf.uint8: "int_val",
    tf.int64: "int64_val",
    tf.bool: "bool_val",
    tf.string: "string_val",
}


def array_to_proto(array: np.ndarray) -> tensor_pb2.TensorProto:
    dtype = tf.dtypes.as_dtype(array.dtype)
    field = _PROTO_FIELDS.get(dtype)
    if field is None:
        return tf.make_tensor_proto(array)
    proto = tensor_pb2.TensorProto(dtype=dtype.as_datatype_enum, tensor_shape=tf.TensorShape(array.shape).as_proto())
    getattr(proto, field).extend(array.ravel().tolist())
    return proto


def proto_to_array(proto: tensor_pb2.TensorProto) -> np.ndarray:
    """Raises TypeError or ValueError for a proto that holds no valid tensor."""
    return tf.make_ndarray(proto)
