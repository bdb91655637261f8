"""One loaded version of the SavedModel (TF Serving's "servable") and its signatures.

Loaded as TF Serving's own C++ runtime does (SavedModelBundle): the 'serve' MetaGraph in a
Session, each signature run by feeding and fetching the tensors its SignatureDef names. That
loads the model in about a third of the time tf.saved_model.load takes, which rebuilds every
one of the graph's ~200 functions in Python (5 s for this model on 2 CPUs, the bulk of a hot
reload); per request the two are equally fast. A request costs one call of a callable made
once per signature, after a few shape checks: no retracing, no Keras, no Python preprocessing.
"""

from __future__ import annotations

import re
import threading
from typing import Callable, Mapping, Sequence

import grpc
import numpy as np
import tensorflow as tf
from tensorflow.core.protobuf import meta_graph_pb2
from tensorflow_serving.apis import get_model_metadata_pb2

from serving import batching, warmup
from serving.errors import ServingError, code_from_number, invalid_argument

DEFAULT_SIGNATURE = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY  # "serving_default"
INIT_OP_SIGNATURE = "__saved_model_init_op"  # Run once at load; listed in metadata, not callable.


class Signature:
    """One SignatureDef of a loaded version; `run` checks inputs, then feeds and fetches."""

    def __init__(self, name: str, signature_def: meta_graph_pb2.SignatureDef, session: tf.compat.v1.Session,
                 max_batch: int):
        """max_batch: the most rows a request may have (TF Serving's max_batch_size, batching.py)."""
        self.name = name
        self.inputs: dict[str, tf.TensorSpec] = {
            key: tf.TensorSpec(tf.TensorShape(info.tensor_shape), tf.dtypes.as_dtype(info.dtype), key)
            for key, info in sorted(signature_def.inputs.items())
        }
        self.outputs: tuple[str, ...] = tuple(sorted(signature_def.outputs))
        self._feeds = [signature_def.inputs[key].name for key in self.inputs]
        self._fetch_names = {key: info.name for key, info in signature_def.outputs.items()}
        self._session = session
        self._max_batch = max_batch
        # Plain tuples: comparing TensorShapes costs more than the rest of a request's checks.
        self._shapes = {key: None if spec.shape.rank is None else tuple(spec.shape.as_list())
                        for key, spec in self.inputs.items()}
        self._callables: dict[tuple[str, ...], Callable[..., list[np.ndarray]]] = {}
        self._callables_lock = threading.Lock()
        self._callable(self.outputs)

    def run(self, inputs: Mapping[str, np.ndarray], output_filter: Sequence[str] = ()) -> dict[str, np.ndarray]:
        """inputs: one array for each input name, of the input's dtype (see tensors.py)."""
        for name, array in inputs.items():
            shape = self._shapes[name]
            if shape is not None and (len(shape) != array.ndim or any(
                    size is not None and size != given for size, given in zip(shape, array.shape))):
                raise invalid_argument(
                    f"input '{name}' has shape {list(array.shape)}; the signature expects {self.inputs[name].shape}"
                )
            if array.ndim and array.shape[0] > self._max_batch:
                raise invalid_argument(batching.batch_too_large(array.shape[0], self._max_batch))
        if unknown := [name for name in output_filter if name not in self.outputs]:
            raise invalid_argument(f"unknown output {unknown}; the signature returns {sorted(self.outputs)}")
        outputs = tuple(output_filter) or self.outputs
        try:
            results = self._callable(outputs)(*(inputs[name] for name in self.inputs))
        except tf.errors.OpError as error:  # E.g. inputs of different batch sizes.
            raise as_serving_error(error) from None
        return dict(zip(outputs, results))

    def _callable(self, outputs: tuple[str, ...]) -> Callable[..., list[np.ndarray]]:
        """The session callable fetching `outputs`, made once (it is the slow part of a first call)."""
        call = self._callables.get(outputs)
        if call is None:
            with self._callables_lock:
                call = self._callables.get(outputs) or self._session.make_callable(
                    [self._fetch_names[name] for name in outputs], self._feeds
                )
                self._callables[outputs] = call
        return call


class Servable:
    """One version, loaded from <base>/<version>/: its signatures and their SignatureDefs."""

    def __init__(self, path: str, version: int, max_batch: int):
        self.path = path
        self.version = version
        graph = tf.Graph()
        # The Session holds the graph and variables; the signatures keep it alive while in use.
        session = tf.compat.v1.Session(graph=graph)
        with graph.as_default():
            meta_graph = tf.compat.v1.saved_model.load(session, [tf.saved_model.SERVING], path)
        self.signatures = {
            name: Signature(name, signature_def, session, max_batch)
            for name, signature_def in meta_graph.signature_def.items() if name != INIT_OP_SIGNATURE
        }
        # As TF Serving's GetModelMetadata returns them, the init op's included.
        self.signature_defs = get_model_metadata_pb2.SignatureDefMap()
        for name, signature_def in meta_graph.signature_def.items():
            self.signature_defs.signature_def[name].CopyFrom(signature_def)

    def signature(self, name: str) -> Signature:
        """name: '' means the default signature, as in TF Serving's ModelSpec."""
        name = name or DEFAULT_SIGNATURE
        if name not in self.signatures:
            # TF Serving's words and code (predict_util.cc); REST maps it to 400.
            raise ServingError(grpc.StatusCode.FAILED_PRECONDITION, f'Serving signature key "{name}" not found.')
        return self.signatures[name]

    def warm_up(self) -> int:
        """Replays the warmup requests the version ships (serving/warmup.py), as TF Serving
        does before a version is AVAILABLE; returns how many ran. The first run of a loaded
        graph pays TensorFlow's one-time function instantiation and graph optimisation
        (seconds for this model); warmup keeps that off real requests. Raising here fails the
        load, as a failed warmup does in TF Serving."""
        return warmup.replay(self.path, lambda name, inputs, output_filter:
                             self.signature(name).run(inputs, output_filter))


def as_serving_error(error: Exception) -> ServingError:
    """Any exception as a status code and one line: for TensorFlow's, the op's own message
    without the 'Graph execution error' / node / stack-trace wrapping around it."""
    if isinstance(error, ServingError):
        return error
    if not isinstance(error, tf.errors.OpError):
        lines = str(error).strip().splitlines()
        return ServingError(grpc.StatusCode.UNKNOWN, lines[0] if lines else type(error).__name__)
    lines = [line.strip() for line in error.message.splitlines() if line.strip()]
    message = next(
        (lines[i - 1] for i, line in enumerate(lines) if line.startswith("[[") and i > 0),
        re.sub(r"\s*\[Op:[^\]]*\].*$", "", lines[-1]) if lines else type(error).__name__,
    )
    return ServingError(code_from_number(error.error_code), message)
