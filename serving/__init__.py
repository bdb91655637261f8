"""Serving the pushed model: TF Serving in production, `fakenews serve` where there is no Docker.

The Pusher writes <output>/serving/<model>/<version>/. In production TF Serving watches that
folder (tfserving/: compose file, models.config, batching, Prometheus). `fakenews serve`
(server.LocalModelServer) implements the same REST and gRPC APIs in Python for development and
tests; the clients talk to either. See README.md here.

Clients:
  client        RestClient, and what both clients share (Article, Prediction, ClientError)
  grpc_client   GrpcClient (imports TensorFlow through tensorflow-serving-api's protos)

Local server, one job per module:
  settings      defaults and limits (no TensorFlow import: the CLI's --help reads them)
  errors        ServingError: a TF Serving status code and a one-line message
  tensors       request JSON / TensorProto <-> numpy, checked against a signature's inputs
  servable      one loaded version: its signatures, run with input checks and limits
  model_store   version folders -> the servable in use; hot reload; per-version status
  responses     status and metadata response protos, shared by both front ends
  rest          TF Serving's REST API over HTTP/1.1
  grpc_service  PredictionService and ModelService
  server        LocalModelServer: the store and both front ends, started and stopped together
"""
