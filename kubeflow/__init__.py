"""Kubeflow Pipelines: the pipeline compiled for a cluster (runner), the command every task
runs (task_entrypoint), how tasks reach S3-compatible stores (s3), the pipeline image
(Dockerfile) and the Kubernetes manifests serving the pushed model (manifests)."""
