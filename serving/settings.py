"""Defaults of the local server, in a module free of TensorFlow so `fakenews --help` stays fast.

Limits: TF Serving caps neither request size nor batch. Its gRPC server accepts messages up to
2 GB (server.cc: SetMaxMessageSize(kint32max); the 4 MB often quoted is gRPC's own default,
which TF Serving overrides) and its REST server reads any body. The local server refuses a
request over MAX_BODY_BYTES before parsing it (REST 413, gRPC RESOURCE_EXHAUSTED) and a batch
over MAX_BATCH rows (400 / INVALID_ARGUMENT): 32 MiB holds 1,024 long articles, and no single
request can take the process's memory.
"""

import os

REST_PORT = 8501  # TF Serving's ports.
GRPC_PORT = 8500
MAX_BATCH = 1024
MAX_BODY_BYTES = 32 * 1024 * 1024
POLL_SECONDS = 1.0  # TF Serving's --file_system_poll_wait_seconds default.
GRPC_THREADS = 8
# How TensorFlow runs a request, for TF Serving and the local server alike; environment
# variables, read when TensorFlow loads.
# - TF_ENABLE_ONEDNN_OPTS=0: TensorFlow's own CPU kernels rather than oneDNN's. With one
#   request's small matrices, oneDNN's per-op overhead made the model 2–3x slower here
#   (bench/bench_kernels.py). TF Serving's standard image is built without oneDNN
#   (`--config=mkl` is a separate build); this keeps any TF build on the same kernels.
# - TF_NUM_INTEROP_THREADS=-1: a request's graph runs in the thread that received it instead
#   of being handed op by op to the inter-op thread pool. A request is a chain of ~3,000 tiny
#   ops; the hand-offs cost more than they overlap, and made latency swing. Concurrent requests
#   still run in parallel, each in its own thread. TensorFlow's DirectSession, which TF
#   Serving's SavedModel sessions are, reads it (direct_session.cc: run_in_caller_thread_).
SERVING_ENVIRONMENT = {"TF_ENABLE_ONEDNN_OPTS": "0", "TF_NUM_INTEROP_THREADS": "-1"}


def apply_serving_environment() -> None:
    """Sets SERVING_ENVIRONMENT for this process, where not set already; call before importing TF."""
    for name, value in SERVING_ENVIRONMENT.items():
        os.environ.setdefault(name, value)
