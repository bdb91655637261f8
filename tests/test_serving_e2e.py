"""Acceptance: for a pushed model (the fixture model), `fakenews serve` + `fakenews predict` over REST and gRPC
give, for 100 real articles, the probabilities of the SavedModel called in process (±1e-6);
the CLI reports failures in one line with a non-zero exit code; the TF Serving configuration
serves the model the pipeline pushes."""

from __future__ import annotations

import csv
import socket

import numpy as np
import pytest
import tensorflow as tf
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from fakenews import cli
from pipeline.config import MODEL_NAME
from serving.server import LocalModelServer
from serving.settings import SERVING_ENVIRONMENT
from tests.data import REPO_ROOT, read_rows

TFSERVING_CONFIG = REPO_ROOT / "serving" / "tfserving"

ROWS = 100
TOLERANCE = 1e-6


@pytest.fixture(scope="module")
def server(fixture_model):
    with LocalModelServer(fixture_model.serving_base, fixture_model.model_name, rest_port=0, grpc_port=0) as server:
        yield server


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return read_rows("articles.csv", limit=ROWS)


@pytest.fixture(scope="module")
def articles_csv(tmp_path_factory, rows):
    path = tmp_path_factory.mktemp("predict") / "articles.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)
    return path


@pytest.fixture(scope="module")
def in_process(server, rows) -> dict[str, tuple[float, int]]:
    """id -> (probability, label) from the served version's SavedModel, loaded here afresh."""
    signature = tf.saved_model.load(server.store.current.path).signatures["serving_default"]
    outputs = signature(**{key: tf.constant([row[key] for row in rows]) for key in ("title", "author", "text")})
    return {row["id"]: (float(p), int(label))
            for row, p, label in zip(rows, outputs["probability"].numpy(), outputs["label"].numpy())}


def _address(server: LocalModelServer, api: str) -> str:
    return server.rest_url if api == "rest" else server.grpc_target


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_predict_csv_matches_the_saved_model_in_process(api, server, articles_csv, in_process, tmp_path):
    out = tmp_path / "predictions.csv"
    exit_code = cli.main(["predict", f"--{api}", _address(server, api), "--model", server.model_name,
                          "--csv", str(articles_csv), "--out", str(out), "--batch-size", "32"])
    assert exit_code == 0
    with out.open(encoding="utf-8", newline="") as f:
        served = {row["id"]: (float(row["probability"]), int(row["label"])) for row in csv.DictReader(f)}
    assert served.keys() == in_process.keys() and len(served) == ROWS
    ids = list(in_process)
    np.testing.assert_allclose([served[i][0] for i in ids], [in_process[i][0] for i in ids], atol=TOLERANCE, rtol=0)
    assert [served[i][1] for i in ids] == [in_process[i][1] for i in ids]


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_predict_one_article_prints_probability_and_label(api, server, rows, in_process, capsys):
    row = rows[0]
    exit_code = cli.main(["predict", f"--{api}", _address(server, api), "--title", row["title"],
                          "--author", row["author"], "--text", row["text"]])
    assert exit_code == 0
    probability, label = in_process[row["id"]]
    assert capsys.readouterr().out.split()[:4] == ["probability", f"{probability:.6f}", "label", str(label)]


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_predict_reports_a_server_error_in_one_line(api, server, capsys):
    exit_code = cli.main(["predict", f"--{api}", _address(server, api), "--model", "no-such-model", "--text", "x"])
    error = capsys.readouterr().err
    assert exit_code == 1
    assert error.startswith("error: ") and error.count("\n") == 1
    assert "Servable not found" in error


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_predict_reports_an_unreachable_server_in_one_line(api, capsys):
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        address = f"127.0.0.1:{sock.getsockname()[1]}"  # Closed when the block ends.
    exit_code = cli.main(["predict", f"--{api}", address, "--text", "x"])
    error = capsys.readouterr().err
    assert exit_code == 1
    assert error.startswith("error: cannot reach") and error.count("\n") == 1


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_predict_reports_a_timeout_in_one_line(api, capsys):
    with socket.socket() as silent:  # Connections wait in its backlog; nothing ever answers.
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)
        exit_code = cli.main(["predict", f"--{api}", f"127.0.0.1:{silent.getsockname()[1]}",
                              "--timeout", "0.5", "--text", "x"])
    error = capsys.readouterr().err
    assert exit_code == 1
    assert error.startswith("error: timed out after 0.5 s") and error.count("\n") == 1


def test_predict_rejects_a_csv_without_text(server, tmp_path, capsys):
    path = tmp_path / "no_text.csv"
    path.write_text("id,title\n1,hello\n", encoding="utf-8")
    exit_code = cli.main(["predict", "--rest", server.rest_url, "--csv", str(path)])
    assert exit_code == 2
    assert "no 'text' column" in capsys.readouterr().err


def test_tf_serving_config_serves_the_pipelines_model():
    """models.config parses as TF Serving's ModelServerConfig and names the pushed model at the
    path docker-compose.yml mounts the Pusher's base folder on, with every config file passed."""
    config = text_format.Parse((TFSERVING_CONFIG / "models.config").read_text(),
                               model_server_config_pb2.ModelServerConfig())
    [model] = config.model_config_list.config
    assert (model.name, model.model_platform) == (MODEL_NAME, "tensorflow")
    assert model.model_version_policy.latest.num_versions == 1

    service = yaml.safe_load((TFSERVING_CONFIG / "docker-compose.yml").read_text())["services"]["tfserving"]
    assert service["image"] == "tensorflow/serving:2.16.1"
    mounts = {volume.rsplit(":", 2)[1]: volume.rsplit(":", 2)[0] for volume in service["volumes"]}
    assert model.base_path in mounts and mounts[model.base_path].startswith("${MODEL_BASE")
    config_dir = next(target for target, source in mounts.items() if source in (".", "./"))
    flags = dict(flag.lstrip("-").split("=", 1) for flag in service["command"])
    for flag, name in (("model_config_file", "models.config"), ("batching_parameters_file", "batching_parameters.txt"),
                       ("monitoring_config_file", "monitoring.config")):
        assert flags[flag] == f"{config_dir}/{name}" and (TFSERVING_CONFIG / name).is_file()
    assert flags["enable_batching"] == "true"
    # TensorFlow runs the model as in `fakenews serve`: same kernels, same threading.
    assert service["environment"] == [f"{name}={value}" for name, value in SERVING_ENVIRONMENT.items()]
