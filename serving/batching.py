"""The batch limit TF Serving enforces, read from the batching file it is given.

Production runs TF Serving with --enable_batching and serving/tfserving/batching_parameters.txt
(a BatchingParameters text proto). There a request of more rows than `max_batch_size` is
refused before it is queued: INVALID_ARGUMENT (HTTP 400) "Task size 65 is larger than maximum
input batch size 64" (tensorflow/core/kernels/batching_util/shared_batch_scheduler.h,
Queue::ValidateBatchTaskQueueCapacity; TF Serving sets input_batch_size_limit to
max_batch_size when large-batch splitting is off, its default). The local server reads the
same file and refuses the same requests with the same status and message. It does not batch
(each request runs alone); the other parameters only tune TF Serving's queue.

The BatchingParameters message (tensorflow_serving/servables/tensorflow/
session_bundle_config.proto) is not in the tensorflow-serving-api package, so it is declared
here, field for field, and the file is parsed with protobuf's own text-format parser: a
misspelt field or a malformed file fails as TF Serving would fail to start.
"""

from __future__ import annotations

from google.protobuf import descriptor_pb2, descriptor_pool, message_factory, text_format, wrappers_pb2

from serving import settings

# SharedBatchScheduler's default input_batch_size_limit, used when the file sets none.
DEFAULT_MAX_BATCH_SIZE = 1000

_WRAPPED_FIELDS = {  # name -> (number, google.protobuf wrapper type)
    "max_batch_size": (1, "Int64Value"),
    "batch_timeout_micros": (2, "Int64Value"),
    "max_enqueued_batches": (3, "Int64Value"),
    "num_batch_threads": (4, "Int64Value"),
    "thread_pool_name": (5, "StringValue"),
}


def _batching_parameters_class() -> type:
    pool = descriptor_pool.DescriptorPool()
    wrappers = descriptor_pb2.FileDescriptorProto()
    wrappers_pb2.DESCRIPTOR.CopyToProto(wrappers)
    pool.Add(wrappers)
    file = descriptor_pb2.FileDescriptorProto(
        name="fakenews/batching_parameters.proto", package="tensorflow.serving", syntax="proto3",
        dependency=[wrappers.name],
    )
    message = file.message_type.add(name="BatchingParameters")
    field = descriptor_pb2.FieldDescriptorProto
    for name, (number, wrapper) in _WRAPPED_FIELDS.items():
        message.field.add(name=name, number=number, type=field.TYPE_MESSAGE, label=field.LABEL_OPTIONAL,
                          type_name=f".google.protobuf.{wrapper}")
    message.field.add(name="allowed_batch_sizes", number=6, type=field.TYPE_INT64, label=field.LABEL_REPEATED)
    message.field.add(name="pad_variable_length_inputs", number=7, type=field.TYPE_BOOL,
                      label=field.LABEL_OPTIONAL)
    pool.Add(file)
    return message_factory.MessageFactory(pool).GetPrototype(
        pool.FindMessageTypeByName("tensorflow.serving.BatchingParameters")
    )


def max_batch_size(path: str = settings.BATCHING_PARAMETERS_FILE) -> int:
    """The most rows a request may have: the file's max_batch_size. Raises ValueError if the
    file is not a valid BatchingParameters text proto, OSError if it cannot be read."""
    with open(path, encoding="utf-8") as f:
        text = f.read()
    parameters = _batching_parameters_class()()
    try:
        text_format.Parse(text, parameters)
    except text_format.ParseError as error:
        raise ValueError(f"{path} is not a BatchingParameters text proto: {error}") from None
    if not parameters.HasField("max_batch_size"):
        return DEFAULT_MAX_BATCH_SIZE
    if parameters.max_batch_size.value < 1:
        raise ValueError(f"{path}: max_batch_size must be >= 1, got {parameters.max_batch_size.value}")
    return parameters.max_batch_size.value


def batch_too_large(rows: int, limit: int) -> str:
    """TF Serving's words for a request over the limit."""
    return f"Task size {rows} is larger than maximum input batch size {limit}"
