"""Serving's settings, stated once: TF Serving's ports, the batching file, the local server's
defaults. Standard library only, so `fakenews --help` stays fast and kubeflow/manifests.py can
read the ports.

Limits. The batch limit is TF Serving's own, with batching enabled as production runs it: the
`max_batch_size` of BATCHING_PARAMETERS_FILE (serving/batching.py). The body limit is a local
guard that TF Serving does not have: its gRPC server accepts messages up to 2 GB (server.cc:
SetMaxMessageSize(kint32max); the 4 MB often quoted is gRPC's own default, which TF Serving
overrides) and its REST server reads any body. The local server refuses a request over
MAX_BODY_BYTES before parsing it (REST 413, gRPC RESOURCE_EXHAUSTED), so that no single request
can take the process's memory; 32 MiB holds far more than a batch of 64 long articles.
"""

import os

REST_PORT = 8501  # TF Serving's ports, in its image, the compose file and the Kubernetes manifests.
GRPC_PORT = 8500
TFSERVING_CONFIG_DIR = os.path.join(os.path.dirname(os.path.abspath(__file__)), "tfserving")
# The BatchingParameters TF Serving is started with (--batching_parameters_file).
BATCHING_PARAMETERS_FILE = os.path.join(TFSERVING_CONFIG_DIR, "batching_parameters.txt")
MAX_BODY_BYTES = 32 * 1024 * 1024  # Local guard only (above).
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
