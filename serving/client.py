"""Clients of TF Serving's APIs, for TF Serving itself or `fakenews serve`.

RestClient (here) speaks REST with the `instances` row format over one keep-alive connection;
GrpcClient (grpc_client.py) speaks gRPC through tensorflow-serving-api's stubs. Both offer
predict / explain / status / signatures and raise ClientError, one line, for server errors, timeouts and
unreachable servers. The gRPC client lives apart because tensorflow-serving-api's protos import
TensorFlow (~2 s): a REST caller never pays for it.

Neither client imports the local server's code (server, model_store, rest, ...): they speak
only the APIs, so what works against `fakenews serve` works against TF Serving. What both
sides need is in modules of neither: version_status (VersionStatus), tensor_proto, explanations.
"""

from __future__ import annotations

import abc
import dataclasses
import http.client
import json
import re
import urllib.parse
from typing import Any, Callable, Sequence

from serving.explanations import ATTRIBUTIONS, EXPLAIN_SIGNATURE, TOKENS, WordShares, strongest, word_shares
from serving.version_status import VersionStatus

SIGNATURE = "serving_default"
TOKEN_COUNT = "token_count"  # components/signatures.py's output; absent from models pushed before it.
DEFAULT_TIMEOUT_SECONDS = 30.0
# How a kept-alive connection that the server has closed fails on its next request.
_DROPPED = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


@dataclasses.dataclass(frozen=True)
class Article:
    title: str = ""
    author: str = ""
    text: str = ""


@dataclasses.dataclass(frozen=True)
class Prediction:
    probability: float  # That the article is unreliable (fake).
    label: int  # 1 = unreliable, 0 = reliable: probability >= the model's threshold.
    # Tokens the model read (after truncation); 0: no a-z words, so the score says nothing
    # about the article. None: the model does not report it (pushed before the output existed).
    token_count: int | None = None

    @property
    def read_nothing(self) -> bool:
        return self.token_count == 0


@dataclasses.dataclass(frozen=True)
class Explanation:
    prediction: Prediction
    words: WordShares  # The words the model read, in document order, each with its share.

    def strongest(self, count: int, toward_unreliable: bool) -> list[tuple[str, float]]:
        return strongest(self.words, count, toward_unreliable)


class ClientError(Exception):
    """A request failed. status: the HTTP status or gRPC code name, when the server answered."""

    def __init__(self, message: str, status: int | str | None = None):
        super().__init__(message)
        self.status = status


class ModelClient(abc.ABC):
    @abc.abstractmethod
    def predict(self, articles: Sequence[Article]) -> list[Prediction]:
        """One request for all of `articles`, through the serving_default signature."""

    @abc.abstractmethod
    def explain(self, articles: Sequence[Article]) -> list[Explanation]:
        """One request for all of `articles`, through the explain signature."""

    @abc.abstractmethod
    def status(self) -> list[VersionStatus]:
        """The model's versions, newest first (only the pinned one if a version was given)."""

    @abc.abstractmethod
    def signatures(self) -> dict[str, Any]:
        """name -> SignatureDef as JSON (proto field names), from the model's metadata."""

    @abc.abstractmethod
    def close(self) -> None: ...

    def __enter__(self) -> "ModelClient":
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.close()


class RestClient(ModelClient):
    """One keep-alive HTTP/1.1 connection (http.client), so not for sharing between threads.

    The standard library's client, not `requests`: against a stand-in server that answers at
    once, a request took 0.4 ms here with http.client and 0.9–1.4 ms with `requests`, whose
    own Python would be a quarter of a median article's round trip.
    """

    def __init__(self, url: str, model: str, version: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS):
        """url: the server's base, e.g. http://localhost:8501 (http:// is assumed if absent), or
        the model's own URL, .../v1/models/<model> as `fakenews serve` and curl show it.
        Raises ValueError for anything else, or a model URL naming another model."""
        self.url = _base_url(url, model)
        self.timeout = timeout
        parts = urllib.parse.urlsplit(self.url)
        self._connection_class = http.client.HTTPSConnection if parts.scheme == "https" else http.client.HTTPConnection
        self._netloc = parts.netloc
        self._origin = f"{parts.scheme}://{parts.netloc}"
        self._model_path = f"{parts.path}/v1/models/{urllib.parse.quote(model, safe='')}"
        if version is not None:
            self._model_path += f"/versions/{version}"
        self._connection: http.client.HTTPConnection | None = None

    def predict(self, articles: Sequence[Article]) -> list[Prediction]:
        return self._rows(SIGNATURE, articles, _prediction)

    def explain(self, articles: Sequence[Article]) -> list[Explanation]:
        return self._rows(EXPLAIN_SIGNATURE, articles,
                          lambda row: Explanation(_prediction(row), word_shares(row[TOKENS], row[ATTRIBUTIONS])))

    def _rows(self, signature: str, articles: Sequence[Article], read: Callable[[dict[str, Any]], Any]) -> list:
        """One :predict request in the row format; `read` turns each returned row into a result."""
        if not articles:
            return []  # TF Serving rejects an empty `instances`.
        path = f"{self._model_path}:predict"
        payload = self._request("POST", path, {
            "signature_name": signature,
            "instances": [{"title": a.title, "author": a.author, "text": a.text} for a in articles],
        })
        try:
            return [read(row) for row in payload["predictions"]]
        except (KeyError, TypeError, ValueError) as error:
            raise ClientError(f"unexpected response from {self._origin}{path}: {type(error).__name__}: {error}") from None

    def status(self) -> list[VersionStatus]:
        payload = self._request("GET", self._model_path)
        return [
            VersionStatus(int(entry["version"]), entry["state"], entry.get("status", {}).get("error_code", "OK"),
                          entry.get("status", {}).get("error_message", ""))
            for entry in payload.get("model_version_status", [])
        ]

    def signatures(self) -> dict[str, Any]:
        payload = self._request("GET", f"{self._model_path}/metadata")
        return payload["metadata"]["signature_def"]["signature_def"]

    def close(self) -> None:
        if self._connection is not None:
            self._connection.close()
            self._connection = None

    def _request(self, method: str, path: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        status, reason, data = self._exchange(method, path, None if body is None else json.dumps(body).encode())
        try:
            payload = json.loads(data)
        except ValueError:  # Includes bad UTF-8.
            payload = None
        if status != 200:
            detail = payload.get("error") if isinstance(payload, dict) else None
            text = detail or data.decode("utf-8", "replace") or reason
            raise ClientError(f"HTTP {status} from {self._origin}{path}: {one_line(text)}", status)
        if not isinstance(payload, dict):
            raise ClientError(f"invalid JSON from {self._origin}{path}")
        return payload

    def _exchange(self, method: str, path: str, body: bytes | None) -> tuple[int, str, bytes]:
        """(status, reason, body) of one request, on the kept-alive connection if there is one.

        A kept-alive connection the server has closed since (its idle timeout) fails on first
        use; the request then goes once more on a new connection, as urllib3 does. Predict
        has no side effects, so a repeat is safe.
        """
        headers = {"Content-Type": "application/json"} if body is not None else {}
        may_retry = self._connection is not None  # Only a kept-alive connection can be stale.
        while True:
            if self._connection is None:
                self._connection = self._connection_class(self._netloc, timeout=self.timeout)
            try:
                self._connection.request(method, path, body, headers)
                response = self._connection.getresponse()
                return response.status, response.reason, response.read()
            except TimeoutError:
                self.close()
                raise ClientError(f"timed out after {self.timeout:g} s waiting for {self._origin}{path}") from None
            except (OSError, http.client.HTTPException) as error:
                self.close()
                if may_retry and isinstance(error, _DROPPED):
                    may_retry = False
                    continue
                raise ClientError(f"cannot reach {self.url}: {_reason(error)}") from None


def _prediction(row: dict[str, Any]) -> Prediction:
    return Prediction(float(row["probability"]), int(row["label"]),
                      None if row.get(TOKEN_COUNT) is None else int(row[TOKEN_COUNT]))


_MODEL_PATH = re.compile(r"(.*?)/v1/models/([^/:]+)")


def _base_url(url: str, model: str) -> str:
    """The server's base URL from a base URL or a model URL (.../v1/models/<model>)."""
    full = (url if "://" in url else f"http://{url}").rstrip("/")
    parts = urllib.parse.urlsplit(full)
    if parts.scheme not in ("http", "https") or not parts.hostname or parts.query or parts.fragment:
        raise ValueError(f"not an http(s) server address: {url!r}")
    if match := _MODEL_PATH.fullmatch(parts.path):
        named = urllib.parse.unquote(match.group(2))
        if named != model:
            raise ValueError(f"{url} is the URL of model {named!r}, not of {model!r}")
        return f"{parts.scheme}://{parts.netloc}{match.group(1)}"
    if "/v1/" in f"{parts.path}/":
        raise ValueError(f"not a server's base URL nor a model's (…/v1/models/{model}): {url!r}")
    return full


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(error: Exception) -> str:
    """'Connection refused' rather than '[Errno 111] Connection refused'."""
    if isinstance(error, OSError) and error.strerror:
        return error.strerror
    return one_line(str(error) or type(error).__name__)
