"""Kubeflow Pipelines: the pipeline compiled for a cluster (runner), the pipeline image
(Dockerfile) and the Kubernetes manifests serving the pushed model (manifests)."""
