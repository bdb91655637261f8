"""Serving manifests: rendered from the pipeline's config, parsed back, and checked against the
Kubernetes API models (a misspelt or misplaced field would be dropped by them, and fails)."""

from __future__ import annotations

import json
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
    for probe in (server["readinessProbe"], server["livenessProbe"]):
        assert probe["httpGet"] == {"path": f"/v1/models/{MODEL_NAME}", "port": "http"}
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


@pytest.mark.parametrize("pvc", [None, PVC])
def test_tf_serving_batches_with_the_batching_file_production_uses(config, pvc):
    """The same batching_parameters.txt as the compose file and `fakenews serve`, so the
    cluster refuses what they refuse (a request over max_batch_size)."""
    deployment, _, config_map = documents(config, pvc)["tfserving.yaml"]
    server = container(deployment)
    args = flags(server["args"])
    assert args["enable_batching"] == "true"
    mount_dir, file_name = args["batching_parameters_file"].rsplit("/", 1)
    with open(settings.BATCHING_PARAMETERS_FILE, encoding="utf-8") as f:
        assert config_map["data"] == {file_name: f.read()}
    [mount] = [mount for mount in server["volumeMounts"] if mount["mountPath"] == mount_dir]
    [volume] = [volume for volume in deployment["spec"]["template"]["spec"]["volumes"] if volume["name"] == mount["name"]]
    assert volume["configMap"]["name"] == config_map["metadata"]["name"]


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
