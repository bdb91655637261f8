"""Compiles the pipeline for Kubeflow Pipelines with TFX's KubeflowV2DagRunner.

The DAG is the very `create_pipeline` the local runner runs (one wiring, two thin runners);
only the places differ:
- every path is a bucket URI: the pods cannot see this machine's files;
- ML Metadata is the cluster's: the KFP backend records every task's artifacts and lineage in
  its own store, so the pipeline carries no metadata connection (no SQLite);
- every task runs the pipeline image (kubeflow/Dockerfile), where the module code the pipeline
  references by import path (PREPROCESSING_FN, RUN_FN) is installed, with the CPU and memory
  kubeflow/resources.py gives it;
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

import tensorflow as tf
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx

from kubeflow.resources import DEFAULT_RESOURCES, Resources
from pipeline.config import Locations, PipelineConfig
from pipeline.pipeline import create_pipeline, run_parameter_values

_LOCAL_SCHEMES = {"", "file", "ram"}
_MOVING_TAGS = ("", "latest")


def _check_bucket_uri(flag: str, uri: str) -> None:
    """The tasks open every path with TensorFlow's file systems (TFX's executors read and write
    artifact URIs directly), and this TensorFlow is the image's: same pinned stack. A path the
    pods cannot see, or a scheme it has no file system for, would only fail in the first task."""
    buckets = sorted(set(tf.io.gfile.get_registered_schemes()) - _LOCAL_SCHEMES)
    scheme, separator, rest = uri.partition("://")
    if not (separator and rest and scheme in buckets):
        raise ValueError(f"{flag}: expected a bucket URI the pipeline's TensorFlow can open"
                         f" ({', '.join(f'{name}://' for name in buckets)}), got {uri!r}")


def kubeflow_locations(pipeline_root: str, data_root: str) -> Locations:
    """Where a cluster run's things live: the pipeline root is the bucket URI as given, and the
    Pusher writes under it (<pipeline_root>/serving/<model_name>), where serving reads.

    data_root: the bucket folder holding the staged CSV (`fakenews stage`, then upload)."""
    _check_bucket_uri("--pipeline-root", pipeline_root)
    _check_bucket_uri("--data-root", data_root)
    if data_root.endswith(".csv"):
        raise ValueError(f"--data-root: CsvExampleGen reads a folder; pass the folder of {data_root!r}")
    pipeline_root = pipeline_root.rstrip("/")
    return Locations(data_source=data_root, data_root=data_root, pipeline_root=pipeline_root,
                     serving_root=f"{pipeline_root}/serving")


def check_image(image: str) -> None:
    """KFP caches task results by their spec, image included: a moving tag would let a rebuilt
    image reuse results computed by the old code, so the image must be pinned."""
    name = image.rsplit("/", 1)[-1]
    if "@sha256:" not in name and (":" not in name or name.rsplit(":", 1)[1] in _MOVING_TAGS):
        raise ValueError(f"--image: {image!r} has no pinned tag; use NAME:TAG (not :latest) or NAME@sha256:DIGEST")


def compile_pipeline(config: PipelineConfig, locations: Locations, image: str,
                     resources: Resources = DEFAULT_RESOURCES) -> pipeline_spec_pb2.PipelineJob:
    """The PipelineJob of `create_pipeline(config, locations)`, every task on `image` with its
    `resources`."""
    check_image(image)
    runner = tfx.orchestration.experimental.KubeflowV2DagRunner(
        config=tfx.orchestration.experimental.KubeflowV2DagRunnerConfig(
            default_image=image,
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
    _set_resources(spec, resources)
    job.pipeline_spec.Clear()
    job.pipeline_spec.update(json_format.MessageToDict(spec))
    return job


def _set_resources(spec: pipeline_spec_pb2.PipelineSpec, resources: Resources) -> None:
    """Each task's container gets its node's CPU and memory (the executors live in the spec's
    deployment_spec, a Struct: parsed, changed, written back)."""
    deployment = json_format.ParseDict(json_format.MessageToDict(spec.deployment_spec),
                                       pipeline_spec_pb2.PipelineDeploymentConfig())
    for name, task in spec.root.dag.tasks.items():
        label = spec.components[task.component_ref.name].executor_label
        deployment.executors[label].container.resources.CopyFrom(resources.of(name).spec())
    spec.deployment_spec.Clear()
    spec.deployment_spec.update(json_format.MessageToDict(deployment))


def output_format(path: str) -> str:
    """'json' (PipelineJob) or 'yaml' (PipelineSpec), from the output's suffix."""
    if path.endswith(".json"):
        return "json"
    if path.endswith((".yaml", ".yml")):
        return "yaml"
    raise ValueError(f"--output: {path!r} must end in .json (PipelineJob) or .yaml (PipelineSpec)")


def write(job: pipeline_spec_pb2.PipelineJob, path: str) -> None:
    if output_format(path) == "json":
        text = json.dumps(json_format.MessageToDict(job), indent=2, sort_keys=True) + "\n"
    else:
        # Through the typed PipelineSpec, so integer fields are written as integers, not as the
        # doubles a Struct holds.
        spec = json_format.ParseDict(json_format.MessageToDict(job.pipeline_spec), pipeline_spec_pb2.PipelineSpec())
        text = yaml.safe_dump(json_format.MessageToDict(spec), sort_keys=True)
    with open(path, "w", encoding="utf-8") as f:
        f.write(text)
