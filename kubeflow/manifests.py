"""Kubernetes manifests serving the pushed model: TF Serving (Deployment + Service), or KServe.

Rendered from the PipelineConfig the pipeline was compiled with, so the model name and the
folder served are, by construction, the ones the Pusher writes (`Locations.serving_base`):
- bucket (default): TF Serving reads <pipeline root>/serving/<model> directly and loads each
  version the Pusher adds; KServe's storage initializer downloads it;
- PVC (`pvc=CLAIM`): the claim holds a copy of the run's `serving/` folder, i.e.
  <model>/<version>/, for clusters whose serving pods cannot read the bucket.

The Deployment runs TF Serving as serving/tfserving/docker-compose.yml does: batching and
Prometheus monitoring from the same files in serving/tfserving/, mounted from a ConfigMap.

Probes, for a server applied before the first push. TF Serving opens neither port until the
first version of its model has loaded (server.cc starts gRPC and HTTP after ServerCore::Create,
which waits for the latest version of every configured model; tensorflow/serving#1175): a
probe on any endpoint fails until then, and a liveness probe would restart the server over and
over. So the startupProbe, which holds the other probes back until it passes, waits for the
first model (FIRST_MODEL_WAIT_SECONDS); then liveness asks the HTTP server's Prometheus
endpoint, which answers whatever the model's state (a later version failing to load must not
restart the server that still serves the one before), and readiness asks the model's status,
so the Service sends requests only to a server with a model.
"""

from __future__ import annotations

import os
import re
from typing import Any

import yaml

from pipeline.config import PipelineConfig
from serving import settings

# The tag serving/tfserving (the local docker set-up) uses: one model server version everywhere.
TF_SERVING_IMAGE = "tensorflow/serving:2.16.1"
PVC_MOUNT = "/models"  # TF Serving's convention: /models/<model_name>/<version>/.
CONFIG_MOUNT = "/config"  # As in serving/tfserving/docker-compose.yml.
# New versions appear within this many seconds; each poll lists the base path (a bucket call).
POLL_SECONDS = 30
# The files the compose file starts TF Serving with, by the flag naming each.
CONFIG_FILE_FLAGS = {"batching_parameters_file": os.path.basename(settings.BATCHING_PARAMETERS_FILE),
                     "monitoring_config_file": "monitoring.config"}
# How long a server applied before the first push waits for it before Kubernetes restarts it
# (and it waits again): a pipeline run, with room to spare.
FIRST_MODEL_WAIT_SECONDS = 6 * 3600
_STARTUP_PERIOD_SECONDS = 10
# The model server's working set: the SavedModel, the Transform graph and request buffers.
# No CPU limit: CFS throttling would show as tail latency, while requests guarantee the share.
# Two cores: batching_parameters.txt runs num_batch_threads=2 model calls at once, one per core.
RESOURCES = {"requests": {"cpu": "2", "memory": "1Gi"}, "limits": {"memory": "2Gi"}}

# The model name is a Kubernetes name here (and KServe serves the model under its
# InferenceService's name), so it must be a DNS-1035 label.
_DNS_1035 = re.compile(r"^[a-z]([-a-z0-9]{0,61}[a-z0-9])?$")


def _check(config: PipelineConfig, image: str) -> None:
    if not _DNS_1035.match(config.model_name):
        raise ValueError(f"model name {config.model_name!r} is not a valid Kubernetes name"
                         " (lower-case letters, digits and '-', starting with a letter)")
    if ":" not in image.rsplit("/", 1)[-1]:
        raise ValueError(f"serving image {image!r} needs a tag (KServe's runtimeVersion is that tag)")


def model_base_path(config: PipelineConfig, serving_base: str, pvc: str | None = None) -> str:
    """The folder TF Serving watches for numbered versions."""
    return f"{PVC_MOUNT}/{config.model_name}" if pvc else serving_base


def model_status_path(config: PipelineConfig) -> str:
    """TF Serving's REST model status: answers once a version of the model is loaded."""
    return f"/v1/models/{config.model_name}"


def _labels(config: PipelineConfig) -> dict[str, str]:
    return {
        "app.kubernetes.io/name": config.model_name,
        "app.kubernetes.io/component": "model-server",
        "app.kubernetes.io/part-of": config.pipeline_name,
    }


def config_files() -> dict[str, str]:
    """File name -> text of the serving/tfserving/ files the Deployment mounts."""
    texts = {}
    for name in CONFIG_FILE_FLAGS.values():
        with open(os.path.join(settings.TFSERVING_CONFIG_DIR, name), encoding="utf-8") as f:
            texts[name] = f.read()
    return texts


def metrics_path() -> str:
    """The Prometheus path monitoring.config gives TF Serving's HTTP server."""
    match = re.search(r'^\s*path:\s*"([^"]+)"', config_files()[CONFIG_FILE_FLAGS["monitoring_config_file"]], re.M)
    if not match:
        raise ValueError(f"{settings.TFSERVING_CONFIG_DIR}/monitoring.config names no Prometheus path")
    return match.group(1)


def _probe(path: str, period: int, failures: int) -> dict[str, Any]:
    return {"httpGet": {"path": path, "port": "http"}, "periodSeconds": period, "failureThreshold": failures}


def config_map(config: PipelineConfig) -> dict[str, Any]:
    """TF Serving's batching (with the batch limit) and monitoring configuration, from the very
    files the compose file mounts and `fakenews serve` reads."""
    return {"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": config.model_name, "labels": _labels(config)}, "data": config_files()}


# How TensorFlow runs a request (kernels, threads), as in the local server (serving/settings.py says why).
SERVING_ENV = [{"name": name, "value": value} for name, value in settings.SERVING_ENVIRONMENT.items()]


def tf_serving(config: PipelineConfig, serving_base: str, pvc: str | None = None, image: str = TF_SERVING_IMAGE,
               replicas: int = 1) -> list[dict[str, Any]]:
    """A TF Serving Deployment serving config.model_name, its ClusterIP Service, and the
    ConfigMap holding TF Serving's batching and monitoring configuration."""
    _check(config, image)
    settings_map = config_map(config)
    labels = _labels(config)
    selector = {"app.kubernetes.io/name": config.model_name}
    container: dict[str, Any] = {
        "name": "tf-serving",
        "image": image,
        "command": ["/usr/bin/tensorflow_model_server"],
        "args": [  # TF Serving's ports, stated once in serving/settings.py.
            f"--port={settings.GRPC_PORT}",
            f"--rest_api_port={settings.REST_PORT}",
            f"--model_name={config.model_name}",
            f"--model_base_path={model_base_path(config, serving_base, pvc)}",
            f"--file_system_poll_wait_seconds={POLL_SECONDS}",
            "--enable_batching=true",
            *(f"--{flag}={CONFIG_MOUNT}/{name}" for flag, name in CONFIG_FILE_FLAGS.items()),
        ],
        "ports": [
            {"name": "grpc", "containerPort": settings.GRPC_PORT, "protocol": "TCP"},
            {"name": "http", "containerPort": settings.REST_PORT, "protocol": "TCP"},
        ],
        "env": SERVING_ENV,
        # The module docstring says why these three.
        "startupProbe": _probe(metrics_path(), period=_STARTUP_PERIOD_SECONDS,
                               failures=FIRST_MODEL_WAIT_SECONDS // _STARTUP_PERIOD_SECONDS),
        "livenessProbe": _probe(metrics_path(), period=20, failures=3),
        "readinessProbe": _probe(model_status_path(config), period=10, failures=3),
        "resources": RESOURCES,
        "volumeMounts": [{"name": "config", "mountPath": CONFIG_MOUNT, "readOnly": True}],
    }
    pod: dict[str, Any] = {"containers": [container],
                           "volumes": [{"name": "config", "configMap": {"name": settings_map["metadata"]["name"]}}]}
    if pvc:
        container["volumeMounts"].append({"name": "models", "mountPath": PVC_MOUNT, "readOnly": True})
        pod["volumes"].append({"name": "models", "persistentVolumeClaim": {"claimName": pvc, "readOnly": True}})
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": config.model_name, "labels": labels},
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": labels}, "spec": pod},
        },
    }
    service = {
        "apiVersion": "v1",
        "kind": "Service",
        "metadata": {"name": config.model_name, "labels": labels},
        "spec": {
            "type": "ClusterIP",
            "selector": selector,
            # Named grpc/http so a service mesh detects each protocol.
            "ports": [
                {"name": "grpc", "port": settings.GRPC_PORT, "targetPort": "grpc", "protocol": "TCP"},
                {"name": "http", "port": settings.REST_PORT, "targetPort": "http", "protocol": "TCP"},
            ],
        },
    }
    return [deployment, service, settings_map]


def inference_service(config: PipelineConfig, serving_base: str, pvc: str | None = None,
                      image: str = TF_SERVING_IMAGE) -> dict[str, Any]:
    """A KServe InferenceService on KServe's TF Serving runtime, same model server version.

    KServe's TF Serving runtime names the model after the InferenceService, so its REST path is
    /v1/models/<model_name>:predict as with the plain Deployment."""
    _check(config, image)
    return {
        "apiVersion": "serving.kserve.io/v1beta1",
        "kind": "InferenceService",
        "metadata": {"name": config.model_name, "labels": _labels(config)},
        "spec": {
            "predictor": {
                "model": {
                    "modelFormat": {"name": "tensorflow"},
                    "runtimeVersion": image.rsplit(":", 1)[1],
                    "storageUri": f"pvc://{pvc}/{config.model_name}" if pvc else serving_base,
                    "env": SERVING_ENV,
                    "resources": RESOURCES,
                }
            }
        },
    }


class _PlainDumper(yaml.SafeDumper):
    """Writes a dict used twice (the labels) twice, not as a YAML anchor and alias."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


def render(config: PipelineConfig, serving_base: str, pvc: str | None = None,
           image: str = TF_SERVING_IMAGE) -> dict[str, str]:
    """File name -> YAML text, one file per way of serving."""
    documents = {
        "tfserving.yaml": tf_serving(config, serving_base, pvc, image),
        "kserve.yaml": [inference_service(config, serving_base, pvc, image)],
    }
    return {name: yaml.dump_all(docs, Dumper=_PlainDumper, sort_keys=False) for name, docs in documents.items()}


def write(rendered: dict[str, str], directory: str) -> list[str]:
    os.makedirs(directory, exist_ok=True)
    paths = []
    for name, text in rendered.items():
        path = os.path.join(directory, name)
        with open(path, "w", encoding="utf-8") as f:
            f.write(text)
        paths.append(path)
    return paths
