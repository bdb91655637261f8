"""How the tasks reach an S3-compatible store (AWS S3, MinIO): the one statement of which
variables carry the endpoint, region and credentials, at compile time and in the task.

Two clients open `s3://` in a task, each with its own settings:
- TensorFlow (every TFX executor's file access, tf.data, SavedModels), through tensorflow-io's
  file system: it reads S3_ENDPOINT, AWS_REGION and the AWS_* credentials;
- Beam (ExampleGen, StatisticsGen, Transform, Evaluator read and write through Beam IO),
  through its own S3 file system (boto3): it reads `--s3_endpoint_url`, `--s3_region_name`
  and, without key flags, boto3's credential chain (AWS_* variables, IRSA, instance roles).
KFP users set AWS_ENDPOINT_URL (boto3's, also the AWS CLI's) or S3_ENDPOINT; the task derives
the other settings from whichever is set (`task_environment`, `beam_args`), so one variable
reaches both clients. Credentials stay in the environment (a Kubernetes secret), never in
the compiled spec.
"""

from __future__ import annotations

import dataclasses
import urllib.parse
from typing import Any, Mapping, Sequence

SCHEME = "s3"
# In the order they are looked up: boto3's service-specific and global variables, then
# tensorflow-io's own.
ENDPOINT_VARIABLES = ("AWS_ENDPOINT_URL_S3", "AWS_ENDPOINT_URL", "S3_ENDPOINT")
TENSORFLOW_ENDPOINT_VARIABLE = "S3_ENDPOINT"
REGION_VARIABLES = ("AWS_REGION", "AWS_DEFAULT_REGION")
ACCESS_KEY_VARIABLE = "AWS_ACCESS_KEY_ID"
SECRET_KEY_VARIABLE = "AWS_SECRET_ACCESS_KEY"
BEAM_ENDPOINT_FLAG = "--s3_endpoint_url"
BEAM_REGION_FLAG = "--s3_region_name"


def _first(environ: Mapping[str, str], names: Sequence[str]) -> str | None:
    return next((environ[name] for name in names if environ.get(name)), None)


def task_environment(environ: Mapping[str, str]) -> dict[str, str]:
    """Variables to add to a task's environment so tensorflow-io sees the endpoint and region
    the user set under boto3's names. tensorflow-io takes the endpoint as a URL: its scheme
    picks HTTP or HTTPS (a bare host:port means HTTPS)."""
    added = {}
    endpoint = _first(environ, ENDPOINT_VARIABLES)
    if endpoint and not environ.get(TENSORFLOW_ENDPOINT_VARIABLE):
        added[TENSORFLOW_ENDPOINT_VARIABLE] = endpoint
    region = _first(environ, REGION_VARIABLES)
    if region and not environ.get(REGION_VARIABLES[0]):
        added[REGION_VARIABLES[0]] = region
    return added


def beam_args(environ: Mapping[str, str], args: Sequence[str]) -> list[str]:
    """Beam's S3 flags from the environment, for those `args` does not already set (a flag
    given at compile time wins)."""
    added = []
    for flag, value in ((BEAM_ENDPOINT_FLAG, _first(environ, ENDPOINT_VARIABLES)),
                        (BEAM_REGION_FLAG, _first(environ, REGION_VARIABLES))):
        if value and not any(arg == flag or arg.startswith(flag + "=") for arg in args):
            added.append(f"{flag}={value}")
    return added


@dataclasses.dataclass(frozen=True)
class S3Access:
    """What the compiled tasks need to reach the store, as `compile-kubeflow` flags set it.

    endpoint: None for AWS S3; MinIO's URL otherwise (http://minio-service.kubeflow:9000).
    credentials_secret: a Kubernetes secret in the run's namespace; its keys `secret_keys`
    (access key, secret key) become AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY in every
    task. None: the pods' own identity (IRSA, instance role) or variables the cluster sets.
    """

    endpoint: str | None = None
    region: str | None = None
    credentials_secret: str | None = None
    secret_keys: tuple[str, str] = (ACCESS_KEY_VARIABLE, SECRET_KEY_VARIABLE)

    def __post_init__(self) -> None:
        if self.endpoint is not None:
            parsed = urllib.parse.urlsplit(self.endpoint)
            if parsed.scheme not in ("http", "https") or not parsed.netloc:
                raise ValueError(f"--s3-endpoint: expected http(s)://HOST[:PORT], got {self.endpoint!r}")
        if len(self.secret_keys) != 2 or not all(self.secret_keys):
            raise ValueError(f"--s3-secret-keys: expected ACCESS_KEY_KEY,SECRET_KEY_KEY, got {self.secret_keys!r}")

    def container_env(self) -> dict[str, str]:
        """Plain variables of every task container (the spec's container `env`)."""
        env = {}
        if self.endpoint:
            env[ENDPOINT_VARIABLES[1]] = self.endpoint
        if self.region:
            env[REGION_VARIABLES[0]] = self.region
        return env

    def kubernetes_executor_config(self) -> dict[str, Any]:
        """Every task's kfp-kubernetes KubernetesExecutorConfig (as JSON): the secret's keys as
        environment variables. Empty without a secret."""
        if not self.credentials_secret:
            return {}
        access_key, secret_key = self.secret_keys
        return {"secretAsEnv": [{
            "secretName": self.credentials_secret,
            "keyToEnv": [{"secretKey": access_key, "envVar": ACCESS_KEY_VARIABLE},
                         {"secretKey": secret_key, "envVar": SECRET_KEY_VARIABLE}],
        }]}
