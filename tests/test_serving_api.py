"""The client suite: TF Serving's REST and gRPC APIs, through serving's clients and raw requests.

Every test taking `target` runs against `fakenews serve` (a LocalModelServer on free ports,
serving the session's fixture model) and, unchanged, against a real TF Serving when
TFSERVING_REST (e.g. http://localhost:8501) and TFSERVING_GRPC (e.g. localhost:8500) are set;
TFSERVING_MODEL names the model there (default fakenews). Without them those cases are skipped
and the reason is printed. The last tests cover what only the local server has: its body-size
guard.
"""

from __future__ import annotations

import base64
import dataclasses
import json
import os

import grpc
import numpy as np
import pytest
import requests
import tensorflow as tf
from tensorflow_serving.apis import (
    get_model_metadata_pb2,
    get_model_status_pb2,
    model_service_pb2_grpc,
    predict_pb2,
    prediction_service_pb2_grpc,
)

from pipeline.config import MODEL_NAME
from serving import batching, tensor_proto
from serving.client import Article, ClientError, ModelClient, RestClient
from serving.grpc_client import GrpcClient
from serving.server import LocalModelServer
from tests.data import read_rows

TIMEOUT = 60  # Seconds; generous because the test machine is shared.
LOCAL_MAX_BODY_BYTES = 8 * 1024 * 1024  # Under the 10 MB case, which then meets the limit.
NO_SUCH_VERSION = 999_999_999
TEN_MB = 10 * 1024 * 1024


@dataclasses.dataclass(frozen=True)
class Target:
    name: str
    rest_url: str
    grpc_target: str
    model: str

    def url(self, suffix: str = "", model: str | None = None) -> str:
        return f"{self.rest_url}/v1/models/{model or self.model}{suffix}"


@pytest.fixture(scope="module")
def local_server(fixture_model):
    with LocalModelServer(fixture_model.serving_base, fixture_model.model_name, rest_port=0, grpc_port=0,
                          max_body_bytes=LOCAL_MAX_BODY_BYTES) as server:
        yield server


@pytest.fixture(scope="module", params=["local", "tfserving"])
def target(request) -> Target:
    if request.param == "local":
        server = request.getfixturevalue("local_server")
        return Target("local", server.rest_url, server.grpc_target, server.model_name)
    rest_url, grpc_target = os.environ.get("TFSERVING_REST"), os.environ.get("TFSERVING_GRPC")
    if not (rest_url and grpc_target):
        pytest.skip("no real TF Serving: set TFSERVING_REST (e.g. http://localhost:8501) and "
                    "TFSERVING_GRPC (e.g. localhost:8500) to run these cases against one")
    return Target("tfserving", rest_url.rstrip("/"), grpc_target, os.environ.get("TFSERVING_MODEL", MODEL_NAME))


@pytest.fixture(scope="module")
def rest_client(target):
    with RestClient(target.rest_url, target.model, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture(scope="module")
def grpc_client(target):
    with GrpcClient(target.grpc_target, target.model, timeout=TIMEOUT) as client:
        yield client


@pytest.fixture(params=["rest", "grpc"])
def client(request, rest_client, grpc_client) -> ModelClient:
    return rest_client if request.param == "rest" else grpc_client


@pytest.fixture(scope="module")
def stubs(target):
    channel = grpc.insecure_channel(target.grpc_target)
    yield (prediction_service_pb2_grpc.PredictionServiceStub(channel),
           model_service_pb2_grpc.ModelServiceStub(channel))
    channel.close()


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return read_rows("articles.csv", limit=8)


@pytest.fixture(scope="module")
def articles(rows) -> list[Article]:
    return [Article(row["title"], row["author"], row["text"]) for row in rows]


def _available_version(client: ModelClient) -> int:
    return next(status.version for status in client.status() if status.state == "AVAILABLE")


def _assert_still_serving(target: Target) -> None:
    with RestClient(target.rest_url, target.model, timeout=TIMEOUT) as client:
        [prediction] = client.predict([Article(text="Still serving after a bad request?")])
    assert 0.0 <= prediction.probability <= 1.0


# --- The API as clients use it -----------------------------------------------------------

def test_status_lists_an_available_version_newest_first(client):
    statuses = client.status()
    assert [s.version for s in statuses] == sorted((s.version for s in statuses), reverse=True)
    assert any(s.state == "AVAILABLE" and s.error_code == "OK" and not s.error_message for s in statuses)


def test_status_of_a_pinned_version(target, client):
    version = _available_version(client)
    pinned = (RestClient(target.rest_url, target.model, version, TIMEOUT) if isinstance(client, RestClient)
              else GrpcClient(target.grpc_target, target.model, version, TIMEOUT))
    with pinned:
        assert [(s.version, s.state) for s in pinned.status()] == [(version, "AVAILABLE")]
        assert len(pinned.predict([Article(text="pinned")])) == 1


def test_signatures_describe_the_raw_text_api(client):
    signatures = client.signatures()
    assert {"serving_default", "predict_examples", "transform_features", "explain"} <= signatures.keys()
    default = signatures["serving_default"]
    assert default["method_name"] == "tensorflow/serving/predict"
    assert {name: spec["dtype"] for name, spec in default["inputs"].items()} == {
        "title": "DT_STRING", "author": "DT_STRING", "text": "DT_STRING"}
    assert {name: spec["dtype"] for name, spec in default["outputs"].items()} == {
        "probability": "DT_FLOAT", "label": "DT_INT64", "token_count": "DT_INT64"}
    assert signatures["predict_examples"]["inputs"]["examples"]["dtype"] == "DT_STRING"


def test_predict_returns_a_probability_and_label_per_article(client, articles):
    predictions = client.predict(articles)
    assert len(predictions) == len(articles)
    assert all(0.0 <= p.probability <= 1.0 and p.label in (0, 1) for p in predictions)
    # label is the probability against one threshold, whatever its value.
    reliable = [p.probability for p in predictions if p.label == 0]
    unreliable = [p.probability for p in predictions if p.label == 1]
    assert not reliable or not unreliable or max(reliable) < min(unreliable)


def test_empty_strings_are_a_valid_article(client):
    [prediction] = client.predict([Article()])
    assert 0.0 <= prediction.probability <= 1.0


def test_token_count_shows_an_article_the_model_read_nothing_of(client, articles):
    foreign, english = client.predict([Article(title="Новости дня", text="这是一篇中文文章。"), articles[0]])
    assert foreign.token_count == 0 and foreign.read_nothing
    assert english.token_count > 0 and not english.read_nothing


def test_rest_and_grpc_agree(rest_client, grpc_client, articles):
    over_rest, over_grpc = rest_client.predict(articles), grpc_client.predict(articles)
    np.testing.assert_allclose([p.probability for p in over_rest], [p.probability for p in over_grpc], atol=1e-6)
    assert [p.label for p in over_rest] == [p.label for p in over_grpc]
    assert [p.token_count for p in over_rest] == [p.token_count for p in over_grpc]


def test_explain_gives_the_served_prediction_and_each_word_its_share(client, articles):
    explained, predicted = client.explain(articles[:4]), client.predict(articles[:4])
    np.testing.assert_allclose([e.prediction.probability for e in explained], [p.probability for p in predicted],
                               atol=1e-6)
    assert [e.prediction.token_count for e in explained] == [p.token_count for p in predicted]
    assert all(len(e.words) == e.prediction.token_count and all(word for word, _ in e.words) for e in explained)


def test_explain_over_rest_and_grpc_agree(rest_client, grpc_client, articles):
    over_rest, over_grpc = rest_client.explain(articles[:2]), grpc_client.explain(articles[:2])
    for rest, grpc_ in zip(over_rest, over_grpc):
        assert [word for word, _ in rest.words] == [word for word, _ in grpc_.words]
        np.testing.assert_allclose([share for _, share in rest.words], [share for _, share in grpc_.words], atol=1e-6)


def test_rest_explain_request_as_the_readme_sends_it(target):
    """The README's curl request: the explain signature by name, in the row format."""
    response = requests.post(target.url(":predict"), timeout=TIMEOUT, json={
        "signature_name": "explain",
        "instances": [{"title": "Breaking", "author": "", "text": "The moon is made of cheese."}]})
    assert response.status_code == 200, response.text
    [row] = response.json()["predictions"]
    assert row["tokens"] == ["breaking", "moon", "made", "cheese"]
    assert len(row["attributions"]) == 4 and all(isinstance(share, float) for share in row["attributions"])
    assert row["label"] in (0, 1) and 0 <= row["baseline_probability"] <= 1


def test_rest_columnar_inputs_and_b64_strings_give_the_row_format_result(target, rest_client, articles):
    expected = [p.probability for p in rest_client.predict(articles)]
    columns = {field: [getattr(a, field) for a in articles] for field in ("title", "author")}
    columns["text"] = [{"b64": base64.b64encode(a.text.encode()).decode()} for a in articles]
    response = requests.post(target.url(":predict"), json={"inputs": columns}, timeout=TIMEOUT)
    assert response.status_code == 200, response.text
    np.testing.assert_allclose(response.json()["outputs"]["probability"], expected, atol=1e-6)


def test_rest_other_signatures_by_name(target, rest_client, rows, articles):
    examples = [{"b64": base64.b64encode(_example(row)).decode()} for row in rows]
    response = requests.post(target.url(":predict"), timeout=TIMEOUT,
                             json={"signature_name": "predict_examples", "instances": examples})
    assert response.status_code == 200, response.text
    np.testing.assert_allclose([row["probability"] for row in response.json()["predictions"]],
                               [p.probability for p in rest_client.predict(articles)], atol=1e-6)

    response = requests.post(target.url(":predict"), timeout=TIMEOUT,
                             json={"signature_name": "transform_features", "instances": examples[:2]})
    assert response.status_code == 200, response.text
    token_ids = [row["token_ids"] for row in response.json()["predictions"]]
    assert len(token_ids) == 2 and all(len(ids) == 500 and all(isinstance(i, int) for i in ids) for ids in token_ids)


def test_rest_predict_at_a_version(target, rest_client):
    version = _available_version(rest_client)
    response = requests.post(target.url(f"/versions/{version}:predict"), timeout=TIMEOUT,
                             json={"instances": [{"title": "", "author": "", "text": "versioned"}]})
    assert response.status_code == 200, response.text


def test_rest_metadata_names_the_model_and_version(target, rest_client):
    response = requests.get(target.url("/metadata"), timeout=TIMEOUT)
    assert response.status_code == 200
    assert response.json()["model_spec"] == {
        "name": target.model, "signature_name": "", "version": str(_available_version(rest_client))}


def test_grpc_predict_names_the_version_that_served_it(target, stubs, rest_client):
    predictions, _ = stubs
    response = predictions.Predict(_predict_request(target.model, _text_inputs(["a", "b"])), timeout=TIMEOUT)
    assert response.model_spec.name == target.model
    assert response.model_spec.signature_name == "serving_default"
    assert response.model_spec.version.value == _available_version(rest_client)
    assert list(response.outputs["probability"].float_val) == pytest.approx(
        tensor_proto.proto_to_array(response.outputs["probability"]).tolist())
    assert len(response.outputs["label"].int64_val) == 2


# --- Bad requests: a 4xx or the matching gRPC status, a message, and the server lives on ---

def _instances(**fields) -> dict:
    return {"instances": [{"title": "", "author": "", "text": "", **fields}]}


BAD_REST_REQUESTS = {
    # case: (path suffix, model override, body bytes, expected HTTP status or None for any 4xx)
    "malformed JSON": (":predict", None, b'{"instances": [{"title": "unclosed', 400),
    "not an object": (":predict", None, b'["instances"]', 400),
    "unknown input name": (":predict", None, json.dumps(_instances(titel="typo")).encode(), 400),
    "wrong dtype": (":predict", None, json.dumps(_instances(title=42)).encode(), 400),
    "empty instances": (":predict", None, b'{"instances": []}', 400),
    "no instances or inputs": (":predict", None, b'{"signature_name": "serving_default"}', 400),
    # 10 MB of numbers where a string goes: TF Serving reads it and rejects the dtype; the
    # local server (8 MB limit here) rejects the size before parsing.
    "10 MB body": (":predict", None,
                   b'{"instances": [{"title": "", "author": "", "text": [' + b"0.5," * (TEN_MB // 4) + b"0.5]}]}", None),
    "unknown model": (":predict", "no-such-model", json.dumps(_instances()).encode(), 404),
    "unknown version": (f"/versions/{NO_SUCH_VERSION}:predict", None, json.dumps(_instances()).encode(), 404),
    "unknown signature": (":predict", None,
                          json.dumps({"signature_name": "no_such_signature", **_instances()}).encode(), 400),
}


@pytest.mark.parametrize("case", BAD_REST_REQUESTS)
def test_bad_rest_request(target, case):
    suffix, model, body, expected = BAD_REST_REQUESTS[case]
    response = requests.post(target.url(suffix, model), data=body, timeout=TIMEOUT,
                             headers={"Content-Type": "application/json"})
    assert (response.status_code == expected) if expected else (400 <= response.status_code < 500), response.text
    assert response.json()["error"].strip()
    _assert_still_serving(target)


@pytest.mark.parametrize("suffix, model", [
    ("", "no-such-model"), (f"/versions/{NO_SUCH_VERSION}", None), (f"/versions/{NO_SUCH_VERSION}/metadata", None),
])
def test_status_and_metadata_of_what_is_not_there_are_404(target, suffix, model):
    response = requests.get(target.url(suffix, model), timeout=TIMEOUT)
    assert response.status_code == 404
    assert response.json()["error"].strip()


def _text_inputs(texts: list[str]) -> dict[str, np.ndarray]:
    return {field: np.array([(t if field == "text" else "").encode() for t in texts], dtype=object)
            for field in ("title", "author", "text")}


def _predict_request(model: str, inputs: dict[str, np.ndarray], version: int | None = None,
                     signature_name: str = "") -> predict_pb2.PredictRequest:
    request = predict_pb2.PredictRequest()
    request.model_spec.name = model
    request.model_spec.signature_name = signature_name
    if version is not None:
        request.model_spec.version.value = version
    for name, array in inputs.items():
        request.inputs[name].CopyFrom(tensor_proto.array_to_proto(array))
    return request


BAD_GRPC_REQUESTS = {
    # case: (request factory taking the model name, expected status codes)
    "unknown input name": (lambda model: _predict_request(
        model, {**_text_inputs(["x"]), "titel": np.array([b"typo"], dtype=object)}), {grpc.StatusCode.INVALID_ARGUMENT}),
    "wrong dtype": (lambda model: _predict_request(
        model, {**_text_inputs(["x"]), "text": np.array([1.5], dtype=np.float32)}), {grpc.StatusCode.INVALID_ARGUMENT}),
    "no inputs": (lambda model: _predict_request(model, {}), {grpc.StatusCode.INVALID_ARGUMENT}),
    # TF Serving takes messages up to 2 GB and rejects the dtype; the local server the size.
    "10 MB message": (lambda model: _predict_request(
        model, {**_text_inputs(["x"]), "text": np.full(TEN_MB // 4, 0.5, dtype=np.float32)}),
        {grpc.StatusCode.INVALID_ARGUMENT, grpc.StatusCode.RESOURCE_EXHAUSTED}),
    "unknown model": (lambda model: _predict_request("no-such-model", _text_inputs(["x"])), {grpc.StatusCode.NOT_FOUND}),
    "unknown version": (lambda model: _predict_request(model, _text_inputs(["x"]), version=NO_SUCH_VERSION),
                        {grpc.StatusCode.NOT_FOUND}),
    "unknown signature": (lambda model: _predict_request(model, _text_inputs(["x"]), signature_name="no_such_signature"),
                          {grpc.StatusCode.FAILED_PRECONDITION}),
}


@pytest.mark.parametrize("case", BAD_GRPC_REQUESTS)
def test_bad_grpc_request(target, stubs, case):
    make_request, expected = BAD_GRPC_REQUESTS[case]
    predictions, _ = stubs
    with pytest.raises(grpc.RpcError) as raised:
        predictions.Predict(make_request(target.model), timeout=TIMEOUT)
    assert raised.value.code() in expected, raised.value.details()
    assert raised.value.details().strip()
    _assert_still_serving(target)


def test_grpc_request_that_is_not_a_proto(target):
    with grpc.insecure_channel(target.grpc_target) as channel:
        predict = channel.unary_unary("/tensorflow.serving.PredictionService/Predict")  # Raw bytes both ways.
        with pytest.raises(grpc.RpcError) as raised:
            predict(b"\xff\xfe not a PredictRequest", timeout=TIMEOUT)
    assert raised.value.code() != grpc.StatusCode.OK
    _assert_still_serving(target)


@pytest.mark.parametrize("version", [None, NO_SUCH_VERSION])
def test_grpc_status_and_metadata_of_what_is_not_there(target, stubs, version):
    predictions, models = stubs
    status_request = get_model_status_pb2.GetModelStatusRequest()
    metadata_request = get_model_metadata_pb2.GetModelMetadataRequest(metadata_field=["signature_def"])
    for request in (status_request, metadata_request):
        request.model_spec.name = target.model if version else "no-such-model"
        if version:
            request.model_spec.version.value = version
    for call, request in ((models.GetModelStatus, status_request), (predictions.GetModelMetadata, metadata_request)):
        with pytest.raises(grpc.RpcError) as raised:
            call(request, timeout=TIMEOUT)
        assert raised.value.code() == grpc.StatusCode.NOT_FOUND
        assert raised.value.details().strip()


def test_a_batch_over_max_batch_size_is_refused_as_tf_serving_refuses_it(target, rest_client, grpc_client):
    """Production's batching file (TF Serving runs with --enable_batching and it; the local
    server reads the same file): the maximum is served, one more is refused."""
    limit = batching.max_batch_size()
    for client in (rest_client, grpc_client):
        assert len(client.predict([Article(text=str(i)) for i in range(limit)])) == limit
        with pytest.raises(ClientError) as raised:
            client.predict([Article(text=str(i)) for i in range(limit + 1)])
        assert raised.value.status in (400, "INVALID_ARGUMENT")
        assert f"Task size {limit + 1} is larger than maximum input batch size {limit}" in str(raised.value)


# --- What only the local server has: a local guard ------------------------------------------


def test_local_server_refuses_a_body_over_its_limit_before_parsing_it(local_server):
    text = "word " * (LOCAL_MAX_BODY_BYTES // 5 + 1)  # A valid article, just too big.
    with RestClient(local_server.rest_url, local_server.model_name, timeout=TIMEOUT) as client:
        with pytest.raises(ClientError) as raised:
            client.predict([Article(text=text)])
        assert raised.value.status == 413 and "--max-body-bytes" in str(raised.value)
        assert len(client.predict([Article(text="the connection is still good")])) == 1
    with GrpcClient(local_server.grpc_target, local_server.model_name, timeout=TIMEOUT) as client:
        with pytest.raises(ClientError) as raised:
            client.predict([Article(text=text)])
        assert raised.value.status == "RESOURCE_EXHAUSTED"


def _example(row: dict[str, str]) -> bytes:
    """A serialized tf.Example with the raw columns, as CsvExampleGen writes them."""
    feature = {key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[row[key].encode()]))
               for key in ("id", "title", "author", "text")}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()
