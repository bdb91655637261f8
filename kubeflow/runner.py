"""Compiles the pipeline for Kubeflow Pipelines with TFX's KubeflowV2DagRunner.

The DAG is the very `create_pipeline` the local runner runs (one wiring, two thin runners);
only the places differ:
- every path is a bucket URI: the pods cannot see this machine's files (gs://, or s3:// on
  AWS S3 and MinIO, with the endpoint and credentials of kubeflow/s3.py);
- ML Metadata is the cluster's: the KFP backend records every task's artifacts and lineage in
  its own store, so the pipeline carries no metadata connection (no SQLite);
- every task runs the pipeline image (kubeflow/Dockerfile), where the module code the pipeline
  references by import path (PREPROCESSING_FN, RUN_FN) is installed, with the CPU and memory
  kubeflow/resources.py gives it; its command is kubeflow/task_entrypoint.py (TFX's
  entrypoint with S3 and a reliable exit status);
- the settings `pipeline.run_parameter_values` names are run parameters (KFP runtime
  parameters), their defaults the config's: a run can change them in the KFP UI or the
  PipelineJob's parameter values; everything else in the config is fixed here.

The output's suffix picks its format:
- .json: a PipelineJob (spec + runtime config), what Vertex AI Pipelines submits;
- .yaml/.yml: the PipelineSpec alone, the only document the Kubeflow Pipelines UI and
  `kfp.Client` accept on upload.
"""

from __future__ import annotations

import json

import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx

from kubeflow import task_entrypoint
from kubeflow.resources import DEFAULT_RESOURCES, Resources
from kubeflow.s3 import S3Access
from pipeline.config import Locations, PipelineConfig
from pipeline.pipeline import create_pipeline, run_parameter_values

# Object stores a task reaches with both TensorFlow's file systems (TFX's executors) and Beam's
# (the Beam components): gs:// in the pinned TensorFlow and apache-beam[gcp]; s3:// through the
# task entrypoint (tensorflow-io) and apache-beam[aws]. tensorflow-io registers more schemes
# (http, az, hdfs, ...), which Beam or the serving side do not read: not offered.
BUCKET_SCHEMES = ("gs", *task_entrypoint.SCHEMES)
_MOVING_TAGS = ("", "latest")


def _check_bucket_uri(flag: str, uri: str) -> None:
    """A path the pods cannot see, or a scheme they have no file system for, would only fail in
    the first task."""
    scheme, separator, rest = uri.partition("://")
    if not (separator and rest and scheme in BUCKET_SCHEMES):
        raise ValueError(f"{flag}: expected a bucket URI the pipeline's tasks can open"
                         f" ({', '.join(f'{name}://' for name in BUCKET_SCHEMES)}), got {uri!r}")


def kubeflow_locations(pipeline_root: str, data: str) -> Locations:
    """Where a cluster run's things live: the pipeline root is the bucket URI as given, and the
    Pusher writes under it (<pipeline_root>/serving/<model_name>), where serving reads.

    data: the raw CSV as uploaded, a file or a folder of them; the ExampleGen checks it."""
    _check_bucket_uri("--pipeline-root", pipeline_root)
    _check_bucket_uri("--data", data)
    pipeline_root = pipeline_root.rstrip("/")
    return Locations(data=data.rstrip("/"), pipeline_root=pipeline_root, serving_root=f"{pipeline_root}/serving")


def check_image(image: str) -> None:
    """KFP caches task results by their spec, image included: a moving tag would let a rebuilt
    image reuse results computed by the old code, so the image must be pinned."""
    name = image.rsplit("/", 1)[-1]
    if "@sha256:" not in name and (":" not in name or name.rsplit(":", 1)[1] in _MOVING_TAGS):
        raise ValueError(f"--image: {image!r} has no pinned tag; use NAME:TAG (not :latest) or NAME@sha256:DIGEST")


def compile_pipeline(config: PipelineConfig, locations: Locations, image: str, *,
                     resources: Resources = DEFAULT_RESOURCES,
                     s3: S3Access | None = None) -> pipeline_spec_pb2.PipelineJob:
    """The PipelineJob of `create_pipeline(config, locations)`, every task on `image` with its
    `resources`; with `s3`, every task's container carries its plain S3 variables
    (credentials: `platform_spec`)."""
    check_image(image)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=image,
            default_commands=list(task_entrypoint.COMMAND),
            # Schema 2.1.0: the only one the Kubeflow Pipelines 2.x backend accepts (Vertex AI
            # Pipelines takes it too).
            use_pipeline_spec_2_1=True,
        )
    )
    pipeline = create_pipeline(config, locations, metadata_connection_config=None, run_parameters=True)
    defaults = run_parameter_values(config)
    # parameter_values: the PipelineJob's runtime config (what Vertex AI submits).
    job_dict = runner.run(pipeline, write_out=False, parameter_values=defaults)
    # Strict parses: a field the KFP protos do not define fails here, not on the cluster.
    job = json_format.ParseDict(job_dict, pipeline_spec_pb2.PipelineJob())
    spec = json_format.ParseDict(job_dict["pipelineSpec"], pipeline_spec_pb2.PipelineSpec())
    # TFX puts the pipeline root only in the PipelineJob's runtime config, which a .yaml upload
    # drops; as the spec's default root, the KFP UI pre-fills it when starting a run.
    spec.default_pipeline_root = locations.pipeline_root
    # TFX declares the run parameters without their defaults; in the spec, so a .yaml upload
    # keeps them too (the KFP UI pre-fills them, and a run that sets none runs the config).
    for name, value in defaults.items():
        parameter = spec.root.input_definitions.parameters[name]
        parameter.default_value.number_value = value
        parameter.is_optional = True
    _configure_containers(spec, resources, s3.container_env() if s3 else {})
    job.pipeline_spec.Clear()
    job.pipeline_spec.update(json_format.MessageToDict(spec))
    return job


def _configure_containers(spec: pipeline_spec_pb2.PipelineSpec, resources: Resources, env: dict[str, str]) -> None:
    """Each task's container gets its node's CPU and memory, and `env` (KFP's driver puts both
    in the task's pod). The executors live in the spec's deployment_spec, a Struct: parsed,
    changed, written back."""
    deployment = json_format.ParseDict(json_format.MessageToDict(spec.deployment_spec),
                                       pipeline_spec_pb2.PipelineDeploymentConfig())
    for name, task in spec.root.dag.tasks.items():
        container = deployment.executors[spec.components[task.component_ref.name].executor_label].container
        container.resources.CopyFrom(resources.of(name).spec())
        container.env.extend(pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.EnvVar(
            name=key, value=value) for key, value in env.items())
    spec.deployment_spec.Clear()
    spec.deployment_spec.update(json_format.MessageToDict(deployment))


def platform_spec(job: pipeline_spec_pb2.PipelineJob, s3: S3Access) -> pipeline_spec_pb2.PlatformSpec | None:
    """The kfp-kubernetes platform config putting the S3 credentials secret into every task
    container's environment; None without a secret. Only Kubeflow Pipelines reads it: it is
    the .yaml output's second document (as the kfp-kubernetes SDK writes it)."""
    config = s3.kubernetes_executor_config()
    if not config:
        return None
    platform = pipeline_spec_pb2.PlatformSpec()
    executors = platform.platforms["kubernetes"].deployment_spec.executors
    for label, executor in job.pipeline_spec["deploymentSpec"]["executors"].items():
        if "container" in executor:
            executors[label].update(config)
    return platform


def output_format(path: str) -> str:
    """'json' (PipelineJob) or 'yaml' (PipelineSpec), from the output's suffix."""
    if path.endswith(".json"):
        return "json"
    if path.endswith((".yaml", ".yml")):
        return "yaml"
    raise ValueError(f"--output: {path!r} must end in .json (PipelineJob) or .yaml (PipelineSpec)")


def check_output(path: str, s3: S3Access | None) -> None:
    """The output's format can hold what the compilation produces: a PipelineJob (.json, Vertex
    AI) has no place for a Kubernetes platform config."""
    if output_format(path) == "json" and s3 and s3.kubernetes_executor_config():
        raise ValueError("--s3-credentials-secret: Kubernetes secrets reach the tasks through the .yaml"
                         " output (Kubeflow Pipelines); use --output NAME.yaml")


def write(job: pipeline_spec_pb2.PipelineJob, path: str, s3: S3Access | None = None) -> None:
    """A .yaml output holds the PipelineSpec, then `platform_spec(job, s3)` if there is one."""
    check_output(path, s3)
    platform = platform_spec(job, s3) if s3 else None
    if output_format(path) == "json":
        text = json.dumps(json_format.MessageToDict(job), indent=2, sort_keys=True) + "\n"
    else:
        # Through the typed PipelineSpec, so integer fields are written as integers, not as the
        # doubles a Struct holds.
        spec = json_format.ParseDict(json_format.MessageToDict(job.pipeline_spec), pipeline_spec_pb2.PipelineSpec())
        documents = [json_format.MessageToDict(spec)]
        if platform is not None:
            documents.append(json_format.MessageToDict(platform))
        text = yaml.safe_dump_all(documents, sort_keys=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
