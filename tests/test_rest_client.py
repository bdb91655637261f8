"""RestClient's own connection handling, against a small stand-in HTTP server (no model).

The client keeps one connection alive between requests. A server may close it while it idles
(TF Serving's REST server and `fakenews serve` both do); the next request must then go through
on a new connection, once, and a server that keeps failing must still give one clear error.
"""

from __future__ import annotations

import http.server
import json
import threading
from typing import Iterator

import pytest

from serving.client import Article, ClientError, RestClient

PREDICTION = {"predictions": [{"probability": 0.75, "label": 1, "token_count": 0}]}


class _Handler(http.server.BaseHTTPRequestHandler):
    """Answers :predict; `server.close_after_reply` drops the connection after each answer
    without saying so (no `Connection: close`), as an idle timeout does between requests."""

    protocol_version = "HTTP/1.1"
    server: "_Server"

    def do_POST(self) -> None:  # noqa: N802 (http.server's naming)
        self.server.paths.append(self.path)
        self.server.requests.append(json.loads(self.rfile.read(int(self.headers["Content-Length"]))))
        if self.server.drop_unanswered:
            self.close_connection = True
            return
        body = json.dumps(PREDICTION).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)
        self.close_connection = self.server.close_after_reply

    def log_message(self, format: str, *args: object) -> None:  # noqa: A002
        pass


class _Server(http.server.ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.requests: list[dict] = []
        self.paths: list[str] = []
        self.connections = 0
        self.close_after_reply = False
        self.drop_unanswered = False

    def process_request(self, request, client_address) -> None:
        self.connections += 1
        super().process_request(request, client_address)


@pytest.fixture
def server() -> Iterator[_Server]:
    running = _Server()
    thread = threading.Thread(target=running.serve_forever, daemon=True)
    thread.start()
    yield running
    running.shutdown()
    running.server_close()


def _client(server: _Server) -> RestClient:
    return RestClient(f"127.0.0.1:{server.server_address[1]}", "fakenews", timeout=5)


def test_requests_share_one_kept_alive_connection(server):
    with _client(server) as client:
        for _ in range(3):
            assert client.predict([Article(text="x")])[0].probability == 0.75
    assert server.connections == 1 and len(server.requests) == 3
    assert server.requests[0] == {"signature_name": "serving_default",
                                  "instances": [{"title": "", "author": "", "text": "x"}]}


def test_a_connection_the_server_closed_is_replaced_and_the_request_sent_again(server):
    server.close_after_reply = True
    with _client(server) as client:
        predictions = [client.predict([Article(text=str(i))])[0] for i in range(3)]
    assert [p.label for p in predictions] == [1, 1, 1]
    assert server.connections == 3
    assert [r["instances"][0]["text"] for r in server.requests] == ["0", "1", "2"]  # Each sent once.


def test_a_server_that_never_answers_gives_one_error_after_one_retry(server):
    with _client(server) as client:
        client.predict([Article(text="kept alive")])
        server.drop_unanswered = True
        with pytest.raises(ClientError, match="cannot reach"):
            client.predict([Article(text="dropped")])
    # The kept-alive connection's request, and one more on a fresh connection; no more.
    assert [r["instances"][0]["text"] for r in server.requests] == ["kept alive", "dropped", "dropped"]


def test_a_fresh_connection_is_not_retried(server):
    server.drop_unanswered = True
    with _client(server) as client, pytest.raises(ClientError, match="cannot reach"):
        client.predict([Article(text="once")])
    assert len(server.requests) == 1


@pytest.mark.parametrize("url", ["ftp://host:8501", "http://"])
def test_an_address_that_is_not_http_is_refused(url):
    with pytest.raises(ValueError, match="not an http"):
        RestClient(url, "fakenews")


def test_token_count_is_read_and_flags_an_article_the_model_read_nothing_of(server):
    with _client(server) as client:
        [prediction] = client.predict([Article(text="Новости")])
    assert prediction.token_count == 0 and prediction.read_nothing


@pytest.mark.parametrize("url", ["{address}", "http://{address}/", "http://{address}/v1/models/fakenews",
                                 "{address}/v1/models/fakenews/"])
def test_the_base_url_or_the_models_url_reach_the_same_path(server, url):
    """`fakenews serve` prints both; neither may double /v1/models/<name>."""
    address = f"127.0.0.1:{server.server_address[1]}"
    with RestClient(url.format(address=address), "fakenews", timeout=5) as client:
        client.predict([Article(text="x")])
    assert server.paths == ["/v1/models/fakenews:predict"]


def test_a_model_url_naming_another_model_is_refused():
    with pytest.raises(ValueError, match="is the URL of model 'other', not of 'fakenews'"):
        RestClient("http://localhost:8501/v1/models/other", "fakenews")
    with pytest.raises(ValueError, match="not a server's base URL nor a model's"):
        RestClient("http://localhost:8501/v1/models", "fakenews")
