"""Acceptance: for a pushed model (the fixture model), `fakenews serve` + `fakenews predict` over REST and gRPC
give, for 100 real articles, the probabilities of the SavedModel called in process (±1e-6);
the CLI reports failures in one line with a non-zero exit code, keeps what it scored when a
batch fails, reads a CSV with a byte-order mark, ends quietly when its reader goes away, and
flags articles the model read nothing of; with --explain it shows the words that pushed each
article hardest each way, as the explain signature in process gives them; the TF Serving
configuration serves the model the pipeline pushes."""

from __future__ import annotations

import csv
import os
import re
import socket
import subprocess
import sys

import numpy as np
import pytest
import tensorflow as tf
import yaml
from google.protobuf import text_format
from tensorflow_serving.config import model_server_config_pb2

from fakenews import cli
from fakenews.commands import serve
from pipeline.config import MODEL_NAME
from serving.explanations import strongest, word_shares
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
def in_process(server, fixture_model, fixture_saved_model, rows) -> dict[str, tuple[float, int]]:
    """id -> (probability, label) from the served version's SavedModel, loaded in this process."""
    assert server.store.current.path == fixture_model.pushed_path
    signature = fixture_saved_model.signatures["serving_default"]
    outputs = signature(**{key: tf.constant([row[key] for row in rows]) for key in ("title", "author", "text")})
    return {row["id"]: (float(p), int(label))
            for row, p, label in zip(rows, outputs["probability"].numpy(), outputs["label"].numpy())}


def _address(server: LocalModelServer, api: str) -> str:
    return server.rest_url if api == "rest" else server.grpc_target


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_predict_csv_matches_the_saved_model_in_process(api, server, articles_csv, in_process, tmp_path):
    out = tmp_path / "predictions.csv"
    exit_code = cli.main(["predict", f"--{api}", _address(server, api), "--model-name", server.model_name,
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


EXPLAINED_ROWS = 12  # The explain signature costs several forward passes: a few articles suffice.
# A version's first explain request optimizes that signature's graph (its warmup requests are
# serving_default's): seconds, and past predict's 30-s default on a machine loaded 3x over.
FIRST_EXPLAIN = ("--timeout", "120")


@pytest.fixture(scope="module")
def explained_in_process(server, fixture_model, fixture_saved_model,
                         rows) -> dict[str, tuple[float, list[tuple[str, float]]]]:
    """id -> (probability, words with their shares) from the served version's explain signature."""
    assert server.store.current.path == fixture_model.pushed_path
    signature = fixture_saved_model.signatures["explain"]
    chosen = rows[:EXPLAINED_ROWS]
    out = signature(**{key: tf.constant([row[key] for row in chosen]) for key in ("title", "author", "text")})
    return {row["id"]: (float(p), list(word_shares([t.decode() for t in tokens], shares.tolist())))
            for row, p, tokens, shares in zip(chosen, out["probability"].numpy(), out["tokens"].numpy(),
                                              out["attributions"].numpy())}


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_predict_explain_prints_the_words_that_pushed_hardest_each_way(api, server, rows, explained_in_process,
                                                                      capsys):
    row = rows[0]
    exit_code = cli.main(["predict", f"--{api}", _address(server, api), "--explain", "--top", "3", *FIRST_EXPLAIN,
                          "--title", row["title"], "--author", row["author"], "--text", row["text"]])
    assert exit_code == 0
    probability, words = explained_in_process[row["id"]]
    first, toward_unreliable, toward_reliable = capsys.readouterr().out.splitlines()
    assert first.split()[:2] == ["probability", f"{probability:.6f}"]
    for line, toward, name in ((toward_unreliable, True, "unreliable:"), (toward_reliable, False, "reliable:")):
        expected = ", ".join(f"{word} ({share:+.4f})" for word, share in strongest(tuple(words), 3, toward)) or "(no word)"
        assert line.split(None, 2)[:2] == ["toward", name] and line.split(None, 2)[2] == expected


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_predict_csv_explain_adds_the_top_words_as_columns(api, server, rows, explained_in_process, tmp_path):
    source, out = tmp_path / "few.csv", tmp_path / "explained.csv"
    with source.open("w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows[:EXPLAINED_ROWS])
    assert cli.main(["predict", f"--{api}", _address(server, api), "--csv", str(source), "--out", str(out),
                     "--explain", "--batch-size", "5", *FIRST_EXPLAIN]) == 0
    with out.open(encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        assert reader.fieldnames == ["id", "probability", "label", "token_count", "toward_unreliable",
                                     "toward_reliable"]
        written = list(reader)
    assert [row["id"] for row in written] == list(explained_in_process)
    for row in written:
        probability, words = explained_in_process[row["id"]]
        assert float(row["probability"]) == pytest.approx(probability, abs=TOLERANCE)
        for column, toward in (("toward_unreliable", True), ("toward_reliable", False)):
            assert row[column].split() == [word for word, _ in strongest(tuple(words), 5, toward)]


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_predict_reports_a_server_error_in_one_line(api, server, capsys):
    exit_code = cli.main(["predict", f"--{api}", _address(server, api), "--model-name", "no-such-model", "--text", "x"])
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


@pytest.mark.parametrize("api", ["rest", "grpc"])
def test_predict_flags_an_article_the_model_read_nothing_of(api, server, capsys):
    assert cli.main(["predict", f"--{api}", _address(server, api), "--title", "Новости дня",
                     "--text", "这是一篇中文文章。"]) == 0
    assert capsys.readouterr().out.rstrip().endswith("(no a-z words: the model read nothing)")


def _write_csv(path, rows, encoding="utf-8") -> None:
    with path.open("w", encoding=encoding, newline="") as f:
        writer = csv.DictWriter(f, fieldnames=list(rows[0]))
        writer.writeheader()
        writer.writerows(rows)


def _read_csv(path) -> list[dict[str, str]]:
    with path.open(encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


def test_predict_csv_with_a_byte_order_mark_keeps_the_ids_and_warns_of_unread_rows(server, rows, tmp_path, capsys):
    unread = {**rows[3], "title": "Новости дня", "author": "", "text": "这是一篇中文文章。"}
    source, out = tmp_path / "excel.csv", tmp_path / "scores.csv"
    _write_csv(source, [*rows[:3], unread, *rows[4:10]], encoding="utf-8-sig")  # Excel's "CSV UTF-8".
    assert source.read_bytes().startswith(b"\xef\xbb\xbfid,")
    assert cli.main(["predict", "--rest", server.rest_url, "--csv", str(source), "--out", str(out)]) == 0
    scored = _read_csv(out)
    assert list(scored[0]) == ["id", "probability", "label", "token_count"]
    assert [row["id"] for row in scored] == [row["id"] for row in rows[:10]]
    assert [row["token_count"] == "0" for row in scored] == [i == 3 for i in range(10)]
    warning = capsys.readouterr().err.strip().splitlines()[-1]
    assert warning.startswith("warning: 1 row(s) with no a-z words") and warning.endswith(f"id {rows[3]['id']}")


def test_a_failed_batch_keeps_the_rows_scored_before_it_and_says_how_many(fixture_model, rows, tmp_path, capsys):
    """Batches of 10; the fourth holds an article over the server's body limit (a local guard,
    cheap to trip): the first 30 rows stay in --out, and the error line counts them."""
    oversized = {**rows[35], "text": "word " * 20_000}  # ~100 KB, over the 64 KiB limit.
    source, out = tmp_path / "articles.csv", tmp_path / "scores.csv"
    _write_csv(source, [*rows[:35], oversized, *rows[36:50]])
    with LocalModelServer(fixture_model.serving_base, fixture_model.model_name, rest_port=0, grpc_port=0,
                          max_body_bytes=64 * 1024) as small:
        exit_code = cli.main(["predict", "--rest", small.rest_url, "--csv", str(source), "--out", str(out),
                              "--batch-size", "10"])
        error = capsys.readouterr().err.strip().splitlines()[-1]
        assert exit_code == 1
        assert error.startswith("error: HTTP 413") and error.endswith(
            f"; 30 of 50 rows scored before it were written to {out}")
        assert [row["id"] for row in _read_csv(out)] == [row["id"] for row in rows[:30]]
        # A batch that fails at once leaves no header-only file behind.
        first_fails = tmp_path / "none.csv"
        _write_csv(source, [oversized, *rows[:5]])
        assert cli.main(["predict", "--rest", small.rest_url, "--csv", str(source), "--out", str(first_fails)]) == 1
        assert capsys.readouterr().err.rstrip().endswith(f"; no rows scored; {first_fails} not written")
        assert not first_fails.exists()


def test_predict_into_a_pipe_closed_early_ends_quietly(server, rows, tmp_path):
    """`fakenews predict --csv … | head -3`: no 'Broken pipe', no traceback, SIGPIPE's exit code.
    500 rows in batches of 8: far more batches to write than the reader waits for."""
    source = tmp_path / "many.csv"
    _write_csv(source, rows * 5)
    process = subprocess.Popen(
        [sys.executable, "-m", "fakenews", "predict", "--rest", server.rest_url, "--csv", str(source),
         "--batch-size", "8"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env={**os.environ, "TQDM_DISABLE": "1"},
    )
    head = [process.stdout.readline() for _ in range(3)]
    process.stdout.close()  # As `head` exits.
    stderr = process.stderr.read().decode()
    assert process.wait(timeout=120) == 128 + 13
    assert head[0].decode().startswith("id,probability,label,token_count")
    assert "Broken pipe" not in stderr and "Traceback" not in stderr and "error:" not in stderr


@pytest.mark.parametrize("which", ["base", "model"])
def test_the_servers_banner_gives_urls_predict_takes(which, server, rows, in_process, capsys):
    lines = serve.banner(server, server.store.base_path, "batching_parameters.txt")
    [(base, model_url)] = re.findall(r"^  REST  (\S+)  \(model: (\S+)\)$", lines, re.MULTILINE)
    assert model_url == f"{base}/v1/models/{server.model_name}"
    row = rows[0]
    exit_code = cli.main(["predict", "--rest", base if which == "base" else model_url, "--text", row["text"],
                          "--title", row["title"], "--author", row["author"]])
    assert exit_code == 0
    assert capsys.readouterr().out.split()[1] == f"{in_process[row['id']][0]:.6f}"


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
