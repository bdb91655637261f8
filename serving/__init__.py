"""Serving the pushed model: TF Serving in production, `fakenews serve` where there is no Docker.

The Pusher writes <output>/serving/<model>/<version>/. In production TF Serving watches that
folder (tfserving/: compose file, models.config, batching, Prometheus). `fakenews serve`
(server.LocalModelServer) implements the same REST and gRPC APIs in Python for development and
tests; the clients talk to either. See README.md here.

Clients (import nothing of the local server; tests/test_serving_layers.py checks it):
  client          RestClient, and what both clients share (Article, Prediction, ClientError)
  grpc_client     GrpcClient (imports TensorFlow through tensorflow-serving-api's protos)

Of neither side, used by both (and by components/pusher.py, kubeflow/manifests.py, the CLI):
  settings        ports, the batching file, local defaults (standard library only: --help reads it)
  version_folders the version-folder rule: all-digit sub-folders are versions (standard library)
  version_status  VersionStatus: one version's state, as TF Serving's GetModelStatus reports it
  tensor_proto    TensorProto <-> numpy, as TF Serving encodes tensors

Local server, one job per module:
  errors          ServingError: a TF Serving status code and a one-line message
  batching        max_batch_size from TF Serving's batching file, and its refusal message
  tensors         request JSON / gRPC inputs -> numpy, checked against a signature's inputs
  servable        one loaded version: its signatures, run with input checks and limits
  model_store     version folders -> the servable in use; hot reload; per-version status
  responses       status and metadata response protos, shared by both front ends
  rest            TF Serving's REST API over HTTP/1.1
  grpc_service    PredictionService and ModelService
  server          LocalModelServer: the store and both front ends, started and stopped together
"""
