"""TF Serving's model warmup: the requests a SavedModel ships in
`assets.extra/tf_serving_warmup_requests`, replayed when a version loads, before it is AVAILABLE.

As TF Serving's servables/tensorflow/saved_model_warmup_util does it: a TFRecord of
PredictionLog records, each run once (its default num_request_iterations); an unparsable
record, a failing request or more than MAX_RECORDS records fail the load; a model without the
file loads unwarmed. The file's location and the limit: serving/warmup_file.py. Of the log kinds TF Serving replays
(predict, classify, regress, multi_inference, session_run), this stand-in serves Predict
only, so it replays `predict_log` and fails the load on another kind.
"""

from __future__ import annotations

from typing import Callable, Mapping, Sequence

import grpc
import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from serving.errors import ServingError, invalid_argument
from serving.tensor_proto import proto_to_array
from serving.warmup_file import MAX_RECORDS, requests_path

# Runs one Predict request: signature name ('' for the default), inputs, output filter.
Predict = Callable[[str, Mapping[str, np.ndarray], Sequence[str]], object]


def replay(export_dir: str, predict: Predict) -> int:
    """Runs the version's warmup requests through `predict`; returns how many records ran
    (0 without a requests file). Raises ServingError on what fails TF Serving's warmup."""
    path = requests_path(export_dir)
    if not tf.io.gfile.exists(path):
        return 0
    records = 0
    try:
        for record in tf.data.TFRecordDataset(path):
            log = prediction_log_pb2.PredictionLog()
            try:
                log.ParseFromString(record.numpy())
            except Exception:  # protobuf's DecodeError: the record is not a PredictionLog.
                raise invalid_argument(f"Failed to parse warmup record: {record.numpy()!r} from {path}") from None
            kind = log.WhichOneof("log_type")
            if kind != "predict_log":
                raise invalid_argument(f"Unsupported log_type for warmup: {kind} (this server serves Predict only)")
            request = log.predict_log.request
            inputs = {name: proto_to_array(proto) for name, proto in request.inputs.items()}
            predict(request.model_spec.signature_name, inputs, list(request.output_filter))
            records += 1
            if records > MAX_RECORDS:
                raise invalid_argument(f"Number of warmup records exceeeds the maximum ({MAX_RECORDS}) at {path}")
    except tf.errors.DataLossError as error:
        raise ServingError(grpc.StatusCode.DATA_LOSS,
                           f"{error.message}. Please verify your warmup data is in TFRecord format.") from None
    return records
