"""S3-compatible stores in the compiled spec (compile-kubeflow's s3:// roots, endpoint, region,
credentials secret), the task entrypoint's environment and exit status, and what the
executable-spec helper refuses. The spec executed against an S3 server: tests/e2e/test_kfp_executed.py."""

from __future__ import annotations

import pathlib
import subprocess
import sys

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2

from fakenews import cli
from kubeflow import runner, s3, task_entrypoint
from tests.kfp_local import RESOLVER_UNSUPPORTED, LocalKfp, UnsupportedSpec

IMAGE = "registry.example.com/fakenews:0.1.0"
PIPELINE_ROOT = "s3://my-bucket/fakenews"
DATA = "s3://my-bucket/fakenews/data/train.csv"
MINIO = "http://minio-service.kubeflow:9000"
SECRET = "mlpipeline-minio-artifact"


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> tuple[pipeline_spec_pb2.PipelineSpec, pipeline_spec_pb2.PlatformSpec]:
    """`compile-kubeflow` for MinIO, as its README section shows, with KFP's own MinIO secret."""
    out = tmp_path_factory.mktemp("kfp-s3") / "pipeline.yaml"
    assert cli.main(["compile-kubeflow", "--image", IMAGE, "--pipeline-root", PIPELINE_ROOT,
                     "--data", DATA, "--output", str(out), "--s3-endpoint", MINIO,
                     "--s3-region", "us-east-1", "--s3-credentials-secret", SECRET,
                     "--s3-secret-keys", "accesskey,secretkey"]) == 0
    spec_doc, platform_doc = yaml.safe_load_all(out.read_text(encoding="utf-8"))
    return (json_format.ParseDict(spec_doc, pipeline_spec_pb2.PipelineSpec()),
            json_format.ParseDict(platform_doc, pipeline_spec_pb2.PlatformSpec()))


ExecutorSpec = pipeline_spec_pb2.PipelineDeploymentConfig.ExecutorSpec


def container_executors(spec: pipeline_spec_pb2.PipelineSpec) -> dict[str, ExecutorSpec]:
    deployment = json_format.ParseDict(json_format.MessageToDict(spec.deployment_spec),
                                       pipeline_spec_pb2.PipelineDeploymentConfig())
    return {label: executor for label, executor in deployment.executors.items()
            if executor.WhichOneof("spec") == "container"}


def test_s3_roots_compile(compiled):
    spec, _ = compiled
    assert spec.default_pipeline_root == PIPELINE_ROOT
    executors = container_executors(spec)
    assert executors
    for label, executor in executors.items():
        assert tuple(executor.container.command) == task_entrypoint.COMMAND, label
        assert {env.name: env.value for env in executor.container.env} == {
            "AWS_ENDPOINT_URL": MINIO, "AWS_REGION": "us-east-1"}, label


def test_credentials_come_from_the_secret_in_every_task(compiled):
    spec, platform = compiled
    configs = platform.platforms["kubernetes"].deployment_spec.executors
    assert set(configs) == set(container_executors(spec))
    for label, config in configs.items():
        (secret,) = json_format.MessageToDict(config)["secretAsEnv"]
        assert secret["secretName"] == SECRET, label
        assert {item["envVar"]: item["secretKey"] for item in secret["keyToEnv"]} == {
            "AWS_ACCESS_KEY_ID": "accesskey", "AWS_SECRET_ACCESS_KEY": "secretkey"}, label


def test_executing_refuses_a_resolver_as_kfp_does():
    """tests/kfp_local.py refuses what the open-source backend refuses. The project's spec holds
    no resolver (components/baseline.py); TFX's usual baseline, compiled alone, is one."""
    from tfx import v1 as tfx

    resolver = tfx.dsl.Resolver(
        strategy_class=tfx.dsl.experimental.LatestBlessedModelStrategy,
        model=tfx.dsl.Channel(type=tfx.types.standard_artifacts.Model),
        model_blessing=tfx.dsl.Channel(type=tfx.types.standard_artifacts.ModelBlessing),
    ).with_id("latest_blessed_model_resolver")
    runner_v2 = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(default_image=IMAGE))
    job = json_format.ParseDict(
        runner_v2.run(tfx.dsl.Pipeline(pipeline_name="p", pipeline_root="gs://b/p", components=[resolver]),
                      write_out=False), pipeline_spec_pb2.PipelineJob())
    with pytest.raises(UnsupportedSpec, match=RESOLVER_UNSUPPORTED):
        LocalKfp(job)


@pytest.mark.parametrize("change, message", [
    ({"--s3-endpoint": "minio-service:9000"}, "--s3-endpoint: expected http(s)://HOST[:PORT]"),
    ({"--s3-secret-keys": "accesskey"}, "--s3-secret-keys: expected ACCESS_KEY_KEY,SECRET_KEY_KEY"),
    ({"--output": "pipeline.json"}, "--s3-credentials-secret: Kubernetes secrets reach the tasks through the .yaml"),
    ({"--pipeline-root": "gs://b/f", "--data": "gs://b/f/staged/x"},
     "--s3-credentials-secret: neither --pipeline-root nor --data is an s3:// URI"),
])
def test_bad_s3_flags_fail_before_compiling(change, message, capsys, monkeypatch):
    monkeypatch.setattr(runner, "compile_pipeline", lambda *args: pytest.fail("compiled despite a bad flag"))
    flags = {"--image": IMAGE, "--pipeline-root": PIPELINE_ROOT, "--data": DATA,
             "--output": "pipeline.yaml", "--s3-credentials-secret": SECRET, **change}
    assert cli.main(["compile-kubeflow", *(item for pair in flags.items() for item in pair)]) == 2
    assert message in capsys.readouterr().err


def test_task_environment_gives_tensorflow_io_the_endpoint_and_region_users_set():
    assert s3.task_environment({"AWS_ENDPOINT_URL": MINIO, "AWS_DEFAULT_REGION": "eu-west-1"}) == {
        "S3_ENDPOINT": MINIO, "AWS_REGION": "eu-west-1"}
    assert s3.task_environment({"AWS_ENDPOINT_URL_S3": MINIO, "S3_ENDPOINT": "http://other:9000",
                                "AWS_REGION": "eu-west-1"}) == {}
    assert s3.task_environment({}) == {}


def test_beam_gets_the_same_endpoint_unless_the_spec_sets_it():
    environ = {"S3_ENDPOINT": MINIO, "AWS_REGION": "eu-west-1"}
    assert s3.beam_args(environ, ["--direct_num_workers=1"]) == [
        f"--s3_endpoint_url={MINIO}", "--s3_region_name=eu-west-1"]
    assert s3.beam_args(environ, ["--s3_endpoint_url=http://given:9000"]) == ["--s3_region_name=eu-west-1"]
    assert s3.beam_args({}, []) == []


def _entrypoint(tmp_path: pathlib.Path, executor_class_path: str) -> tuple[subprocess.CompletedProcess, pathlib.Path]:
    """The task command with a minimal ExecutorInput, from an empty working directory."""
    output_file = tmp_path / "pod" / "output_metadata.json"
    executor_input = pipeline_spec_pb2.ExecutorInput()
    executor_input.outputs.output_file = str(output_file)
    (tmp_path / "cwd").mkdir()
    command = [sys.executable, *task_entrypoint.COMMAND[1:], "--executor_class_path", executor_class_path,
               "--json_serialized_invocation_args", json_format.MessageToJson(executor_input)]
    return subprocess.run(command, cwd=tmp_path / "cwd", capture_output=True, text=True), output_file


def test_entrypoint_exits_with_the_executors_status_despite_tensorflow_io(tmp_path):
    """tensorflow-io aborts the interpreter at exit (134, tensorflow/io#2039); the task must
    still end with its executor's status."""
    result, output_file = _entrypoint(tmp_path, "tfx.dsl.components.base.base_executor.EmptyExecutor")
    assert result.returncode == 0, result.stderr[-3000:]
    assert output_file.exists()  # The ExecutorOutput KFP's launcher reads.
    assert "pure virtual method called" not in result.stderr


def test_entrypoint_fails_with_the_executors_error(tmp_path):
    result, output_file = _entrypoint(tmp_path, "components.no_such_module.Executor")
    assert result.returncode == 1
    assert "No module named 'components.no_such_module'" in result.stderr
    assert not output_file.exists()
