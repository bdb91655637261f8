"""Clients of TF Serving's APIs, for TF Serving itself or `fakenews serve`.

RestClient (here) speaks REST with the `instances` row format over one keep-alive session;
GrpcClient (grpc_client.py) speaks gRPC through tensorflow-serving-api's stubs. Both offer
predict / status / signatures and raise ClientError, one line, for server errors, timeouts and
unreachable servers. The gRPC client lives apart because tensorflow-serving-api's protos import
TensorFlow (~2 s): a REST caller never pays for it.
"""

from __future__ import annotations

import abc
import dataclasses
import re
import urllib.parse
from typing import Any, Sequence

import requests

SIGNATURE = "serving_default"
DEFAULT_TIMEOUT_SECONDS = 30.0


@dataclasses.dataclass(frozen=True)
class Article:
    title: str = ""
    author: str = ""
    text: str = ""


@dataclasses.dataclass(frozen=True)
class Prediction:
    probability: float  # That the article is unreliable (fake).
    label: int  # 1 = unreliable, 0 = reliable: probability >= the model's threshold.


@dataclasses.dataclass(frozen=True)
class VersionStatus:
    version: int
    state: str  # TF Serving's ModelVersionStatus.State name, e.g. AVAILABLE, END.
    error_message: str = ""


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
    def __init__(self, url: str, model: str, version: int | None = None,
                 timeout: float = DEFAULT_TIMEOUT_SECONDS):
        """url: the server's base, e.g. http://localhost:8501 (http:// is assumed if absent)."""
        self.url = (url if "://" in url else f"http://{url}").rstrip("/")
        self.timeout = timeout
        self._model_url = f"{self.url}/v1/models/{urllib.parse.quote(model, safe='')}"
        if version is not None:
            self._model_url += f"/versions/{version}"
        self._session = requests.Session()

    def predict(self, articles: Sequence[Article]) -> list[Prediction]:
        if not articles:
            return []  # TF Serving rejects an empty `instances`.
        url = f"{self._model_url}:predict"
        payload = self._request("POST", url, {
            "signature_name": SIGNATURE,
            "instances": [{"title": a.title, "author": a.author, "text": a.text} for a in articles],
        })
        try:
            return [Prediction(float(row["probability"]), int(row["label"])) for row in payload["predictions"]]
        except (KeyError, TypeError, ValueError) as error:
            raise ClientError(f"unexpected response from {url}: {type(error).__name__}: {error}") from None

    def status(self) -> list[VersionStatus]:
        payload = self._request("GET", self._model_url)
        return [
            VersionStatus(int(entry["version"]), entry["state"], entry.get("status", {}).get("error_message", ""))
            for entry in payload.get("model_version_status", [])
        ]

    def signatures(self) -> dict[str, Any]:
        payload = self._request("GET", f"{self._model_url}/metadata")
        return payload["metadata"]["signature_def"]["signature_def"]

    def close(self) -> None:
        self._session.close()

    def _request(self, method: str, url: str, body: dict[str, Any] | None = None) -> dict[str, Any]:
        try:
            response = self._session.request(method, url, json=body, timeout=self.timeout)
        except requests.Timeout:
            raise ClientError(f"timed out after {self.timeout:g} s waiting for {url}") from None
        except requests.RequestException as error:
            raise ClientError(f"cannot reach {self.url}: {_reason(error)}") from None
        try:
            payload = response.json()
        except ValueError:
            payload = None
        if response.status_code != 200:
            detail = payload.get("error") if isinstance(payload, dict) else None
            raise ClientError(
                f"HTTP {response.status_code} from {url}: {one_line(detail or response.text or response.reason)}",
                response.status_code,
            )
        if not isinstance(payload, dict):
            raise ClientError(f"invalid JSON from {url}")
        return payload


def one_line(text: str, limit: int = 300) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _reason(error: Exception) -> str:
    """'Connection refused' out of urllib3's nested exception text, or its first line."""
    match = re.search(r"\[Errno -?\d+\] ([^'\")]+)", str(error))
    return match.group(1) if match else one_line(str(error))
