"""Serving manifests: rendered from the pipeline's config, parsed back, and checked against the
Kubernetes API models (a misspelt or misplaced field would be dropped by them, and fails)."""

from __future__ import annotations

import json
import pathlib
import re
from typing import Any

import pytest
import yaml
from kubernetes import client

from kubeflow import manifests, runner
from pipeline.config import PipelineConfig
from serving import settings

PIPELINE_ROOT = "gs://my-bucket/fakenews"
# Not the default name, so nothing passes by matching a hard-coded "fakenews".
MODEL_NAME = "fake-news-lstm"
PVC = "fakenews-models"
# TensorFlow's kernels and threading for serving, as `fakenews serve` sets them (serving/settings.py).
SERVING_ENV = [{"name": "TF_ENABLE_ONEDNN_OPTS", "value": "0"}, {"name": "TF_NUM_INTEROP_THREADS", "value": "-1"}]


@pytest.fixture(scope="module")
def config():
    return PipelineConfig(model_name=MODEL_NAME)


SERVING_BASE = runner.kubeflow_locations(PIPELINE_ROOT, f"{PIPELINE_ROOT}/staged/abc").serving_base(MODEL_NAME)


def documents(config, pvc: str | None = None) -> dict[str, list[dict[str, Any]]]:
    rendered = manifests.render(config, SERVING_BASE, pvc)
    assert set(rendered) == {"tfserving.yaml", "kserve.yaml"}
    return {name: list(yaml.safe_load_all(text)) for name, text in rendered.items()}


def kinds(docs: list[dict[str, Any]]) -> list[tuple[str, str]]:
    return [(doc["apiVersion"], doc["kind"]) for doc in docs]


class _Response:
    def __init__(self, doc: dict[str, Any]):
        self.data = json.dumps(doc)


def as_kubernetes_sees_it(doc: dict[str, Any]) -> dict[str, Any]:
    """The document through the Kubernetes client's typed models and back: required fields are
    enforced on the way in, and any field the API does not define is lost on the way out."""
    api = client.ApiClient()
    model = api.deserialize(_Response(doc), f"V1{doc['kind']}")
    return api.sanitize_for_serialization(model)


def container(deployment: dict[str, Any]) -> dict[str, Any]:
    (only,) = deployment["spec"]["template"]["spec"]["containers"]
    return only


def flags(args: list[str]) -> dict[str, str]:
    return dict(arg[2:].split("=", 1) for arg in args)


@pytest.mark.parametrize("pvc", [None, PVC])
def test_kinds_and_schemas(config, pvc):
    docs = documents(config, pvc)
    assert kinds(docs["tfserving.yaml"]) == [("apps/v1", "Deployment"), ("v1", "Service"), ("v1", "ConfigMap")]
    assert kinds(docs["kserve.yaml"]) == [("serving.kserve.io/v1beta1", "InferenceService")]
    for doc in docs["tfserving.yaml"]:
        assert as_kubernetes_sees_it(doc) == doc


def test_tf_serving_deployment_from_the_bucket(config):
    deployment, service, _ = documents(config)["tfserving.yaml"]
    server = container(deployment)
    assert server["image"] == manifests.TF_SERVING_IMAGE == "tensorflow/serving:2.16.1"
    args = flags(server["args"])
    assert args["model_name"] == config.model_name == MODEL_NAME
    assert args["model_base_path"] == SERVING_BASE == f"{PIPELINE_ROOT}/serving/{MODEL_NAME}"
    ports = {port["name"]: port["containerPort"] for port in server["ports"]}
    assert ports == {"grpc": 8500, "http": 8501} == {"grpc": settings.GRPC_PORT, "http": settings.REST_PORT}
    assert (args["port"], args["rest_api_port"]) == ("8500", "8501")
    assert server["readinessProbe"]["httpGet"] == {"path": f"/v1/models/{MODEL_NAME}", "port": "http"}
    assert server["resources"]["requests"] and server["resources"]["limits"]["memory"]
    assert server["env"] == SERVING_ENV  # As `fakenews serve`.
    assert [volume["name"] for volume in deployment["spec"]["template"]["spec"]["volumes"]] == ["config"]

    assert deployment["metadata"]["name"] == service["metadata"]["name"] == MODEL_NAME
    pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
    assert deployment["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
    assert service["spec"]["selector"].items() <= pod_labels.items()
    assert {(port["port"], port["targetPort"]) for port in service["spec"]["ports"]} == {(8500, "grpc"), (8501, "http")}


def test_tf_serving_deployment_from_a_pvc(config):
    deployment, _, _ = documents(config, PVC)["tfserving.yaml"]
    pod = deployment["spec"]["template"]["spec"]
    server = container(deployment)
    (volume,) = [volume for volume in pod["volumes"] if volume["name"] != "config"]
    assert volume["persistentVolumeClaim"] == {"claimName": PVC, "readOnly": True}
    (mount,) = [mount for mount in server["volumeMounts"] if mount["name"] != "config"]
    assert (mount["name"], mount["readOnly"]) == (volume["name"], True)
    # The claim holds a copy of the run's serving/ folder: <model>/<version>/.
    assert flags(server["args"])["model_base_path"] == f"{mount['mountPath']}/{MODEL_NAME}"
    assert flags(server["args"])["model_name"] == MODEL_NAME


COMPOSE_FILE = pathlib.Path(settings.TFSERVING_CONFIG_DIR) / "docker-compose.yml"


def compose_flags() -> dict[str, str]:
    (service,) = yaml.safe_load(COMPOSE_FILE.read_text(encoding="utf-8"))["services"].values()
    return flags(service["command"])


@pytest.mark.parametrize("pvc", [None, PVC])
def test_tf_serving_runs_with_the_compose_files_batching_and_monitoring(config, pvc):
    """The same flags as serving/tfserving/docker-compose.yml, reading the same files, which
    the ConfigMap holds byte for byte and the pod mounts where the flags point."""
    deployment, _, config_map = documents(config, pvc)["tfserving.yaml"]
    server = container(deployment)
    args, compose = flags(server["args"]), compose_flags()
    assert args["enable_batching"] == compose["enable_batching"] == "true"
    for flag in ("batching_parameters_file", "monitoring_config_file"):
        directory, name = args[flag].rsplit("/", 1)
        assert name == compose[flag].rsplit("/", 1)[1], flag
        assert config_map["data"][name] == (COMPOSE_FILE.parent / name).read_text(encoding="utf-8"), flag
        (mount,) = [mount for mount in server["volumeMounts"] if mount["mountPath"] == directory]
        (volume,) = [volume for volume in deployment["spec"]["template"]["spec"]["volumes"]
                     if volume["name"] == mount["name"]]
        assert volume["configMap"]["name"] == config_map["metadata"]["name"]
    assert as_kubernetes_sees_it(config_map) == config_map


def test_probes_let_a_server_wait_for_its_first_model(config):
    """TF Serving opens no port until a first version has loaded (kubeflow/manifests.py): only
    the startupProbe runs until then, for hours; afterwards liveness asks the always-answering
    Prometheus endpoint monitoring.config enables, readiness the model's status."""
    server = container(documents(config)["tfserving.yaml"][0])
    startup, liveness, readiness = server["startupProbe"], server["livenessProbe"], server["readinessProbe"]
    monitoring = (COMPOSE_FILE.parent / "monitoring.config").read_text(encoding="utf-8")
    assert 'path: "/monitoring/prometheus/metrics"' in monitoring
    for probe in (startup, liveness):
        assert probe["httpGet"] == {"path": "/monitoring/prometheus/metrics", "port": "http"}
    assert startup["periodSeconds"] * startup["failureThreshold"] == manifests.FIRST_MODEL_WAIT_SECONDS >= 3600
    assert readiness["httpGet"]["path"] == f"/v1/models/{MODEL_NAME}"
    assert liveness["httpGet"]["path"] != readiness["httpGet"]["path"]  # A model problem restarts nothing.
    ports = {port["name"] for port in server["ports"]}
    assert {probe["httpGet"]["port"] for probe in (startup, liveness, readiness)} <= ports
    # No CPU limit (throttling would show as tail latency); a core per batch thread requested.
    batching = (COMPOSE_FILE.parent / "batching_parameters.txt").read_text(encoding="utf-8")
    threads = int(re.search(r"num_batch_threads \{ value: (\d+) \}", batching).group(1))
    assert server["resources"]["requests"]["cpu"] == str(threads)
    assert "cpu" not in server["resources"]["limits"]


@pytest.mark.parametrize("pvc, storage", [(None, f"{PIPELINE_ROOT}/serving/{MODEL_NAME}"),
                                          (PVC, f"pvc://{PVC}/{MODEL_NAME}")])
def test_kserve_inference_service(config, pvc, storage):
    (isvc,) = documents(config, pvc)["kserve.yaml"]
    # KServe's TF Serving runtime serves the model under the InferenceService's name.
    assert isvc["metadata"]["name"] == config.model_name
    model = isvc["spec"]["predictor"]["model"]
    assert model["modelFormat"] == {"name": "tensorflow"}
    assert model["runtimeVersion"] == manifests.TF_SERVING_IMAGE.rsplit(":", 1)[1]
    assert model["storageUri"] == storage
    if pvc is None:
        assert model["storageUri"] == SERVING_BASE
    assert model["resources"] == manifests.RESOURCES
    assert model["env"] == SERVING_ENV


def test_serving_image_tag_is_carried_to_both(config):
    docs = {name: list(yaml.safe_load_all(text))
            for name, text in manifests.render(config, SERVING_BASE, image="tensorflow/serving:2.16.1-gpu").items()}
    assert container(docs["tfserving.yaml"][0])["image"] == "tensorflow/serving:2.16.1-gpu"
    assert docs["kserve.yaml"][0]["spec"]["predictor"]["model"]["runtimeVersion"] == "2.16.1-gpu"


def test_written_files(config, tmp_path):
    paths = manifests.write(manifests.render(config, SERVING_BASE), str(tmp_path / "k8s"))
    assert sorted(p.rsplit("/", 1)[1] for p in paths) == ["kserve.yaml", "tfserving.yaml"]
    for path in paths:
        with open(path, encoding="utf-8") as f:
            assert all(doc["metadata"]["name"] == MODEL_NAME for doc in yaml.safe_load_all(f))


@pytest.mark.parametrize("changes, image, message", [
    ({"model_name": "Fake_News"}, manifests.TF_SERVING_IMAGE, "not a valid Kubernetes name"),
    ({}, "tensorflow/serving", "needs a tag"),
])
def test_bad_values_are_refused(config, changes, image, message):
    with pytest.raises(ValueError, match=message):
        manifests.render(config.replace(**changes), SERVING_BASE, image=image)
