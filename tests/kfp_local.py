"""Runs a compiled PipelineJob on this machine task by task, handing each task its input the
way the open-source Kubeflow Pipelines 2.x backend does (test helper).

What is modelled, after the KFP backend's v2 driver and launcher (backend/src/v2, release 2.17):
- The whole spec is refused up front if it holds a task the backend cannot run: its Argo
  compiler rejects a resolver executor with "resolver not implemented yet".
- Tasks run in dependency order. A container task gets its executor's `command` and `args`
  with `{{$}}` replaced by the ExecutorInput JSON: input artifacts are the producers' outputs
  as ML Metadata holds them (id as name, uri, the metadata their ExecutorOutput reported, plus
  the `display_name` and `store_session_info` the launcher records); parameters from the
  task's constants, the root's runtime parameters (runtimeConfig, then defaults) and the
  component's defaults; output artifacts at
  <pipeline root>/<pipeline name>/<run id>/<task>/<execution uuid>/<output key>;
  `outputFile` a path on the pod's (here: the task's own) local disk.
- The container's `env`, and the Kubernetes secrets the platform spec maps into it
  (kfp-kubernetes `secretAsEnv`), are the process's environment; the ExecutorOutput written to
  `outputFile` is merged into the output artifacts (launcher's mergeRuntimeArtifacts).
- An importer task records an artifact at its URI (constant or runtime parameter), with the
  importer's metadata; no process runs.
- Not modelled: caching (every task runs), the lifecycle (pre_cache_check) hook, which the
  open-source backend never runs (only Vertex AI does), conditions, loops.

Each task runs as a subprocess of this venv's python (the image's `python`), from an empty
working directory, so only installed packages (and PYTHONPATH, as the test session has it)
are importable, as in the image.
"""

from __future__ import annotations

import dataclasses
import json
import os
import pathlib
import shutil
import subprocess
import sys
import tempfile
import time
import uuid
from typing import Mapping

from google.protobuf import json_format, struct_pb2
from kfp.pipeline_spec import pipeline_spec_pb2 as pb

EXECUTOR_INPUT_PLACEHOLDER = "{{$}}"
RESOLVER_UNSUPPORTED = "resolver not implemented yet"  # KFP's Argo compiler, every 2.x release.
LOG_TAIL_LINES = 60


class UnsupportedSpec(ValueError):
    """The spec holds something the open-source KFP backend (or this helper) does not run."""


class TaskFailed(RuntimeError):
    def __init__(self, task: str, status: int, log: str):
        """log: the task's stdout and stderr, interleaved as a pod's log is."""
        tail = "\n".join(log.splitlines()[-LOG_TAIL_LINES:])
        super().__init__(f"task {task} exited with status {status}; log tail:\n{tail}")
        self.task, self.status, self.log = task, status, log


@dataclasses.dataclass
class TaskRun:
    executor_input: pb.ExecutorInput
    executor_output: pb.ExecutorOutput
    seconds: float


@dataclasses.dataclass
class PipelineRun:
    run_id: str
    root: str  # <pipeline root>/<pipeline name>/<run id>
    tasks: dict[str, TaskRun]  # In the order they ran.


def _topological_order(tasks: Mapping[str, pb.PipelineTaskSpec]) -> list[str]:
    """Dependency order; ties by name, so every run takes the same order."""
    upstream = {name: set(task.dependent_tasks) | {
        spec.task_output_artifact.producer_task for spec in task.inputs.artifacts.values()
        if spec.HasField("task_output_artifact")} for name, task in tasks.items()}
    order: list[str] = []
    while len(order) < len(tasks):
        ready = sorted(name for name in tasks if name not in order and upstream[name] <= set(order))
        if not ready:
            raise UnsupportedSpec(f"dependency cycle among {sorted(set(tasks) - set(order))}")
        order.extend(ready)
    return order


def _provider(uri: str) -> str:
    """The store a URI names, as KFP's store_session_info does (gs, s3, minio)."""
    return uri.partition("://")[0] if "://" in uri else "file"


class LocalKfp:
    """One PipelineJob, run on this machine; `run()` executes it, `run_task()` re-runs a task
    with a given ExecutorInput (KFP's retry of a failed pod hands it the same input)."""

    def __init__(self, job: pb.PipelineJob, platform: pb.PlatformSpec | None = None,
                 secrets: Mapping[str, Mapping[str, str]] | None = None, scratch: pathlib.Path | None = None):
        """secrets: Kubernetes secrets by name, {key: value}, for the platform spec's secretAsEnv.
        scratch: local folder standing in for the pods' disks (a temporary one by default)."""
        self.job = job
        self.spec = json_format.ParseDict(json_format.MessageToDict(job.pipeline_spec), pb.PipelineSpec())
        self.deployment = json_format.ParseDict(json_format.MessageToDict(self.spec.deployment_spec),
                                                pb.PipelineDeploymentConfig())
        self.kubernetes = {}
        if platform is not None and "kubernetes" in platform.platforms:
            self.kubernetes = {label: json_format.MessageToDict(config) for label, config
                               in platform.platforms["kubernetes"].deployment_spec.executors.items()}
        self.secrets = dict(secrets or {})
        self.scratch = scratch or pathlib.Path(tempfile.mkdtemp(prefix="kfp-local-"))
        self._artifact_ids = 0
        self._check_supported()

    def _executor(self, task: str) -> pb.PipelineDeploymentConfig.ExecutorSpec:
        label = self.spec.components[self.spec.root.dag.tasks[task].component_ref.name].executor_label
        return self.deployment.executors[label]

    def _check_supported(self) -> None:
        for name, task in self.spec.root.dag.tasks.items():
            kind = self._executor(name).WhichOneof("spec")
            if kind == "resolver":
                raise UnsupportedSpec(f"task {name}: {RESOLVER_UNSUPPORTED}")
            if kind not in ("container", "importer"):
                raise UnsupportedSpec(f"task {name}: executor {kind!r} is not run by this helper")
            if kind == "container" and any("{{$" in arg and arg != EXECUTOR_INPUT_PLACEHOLDER
                                           for arg in self._executor(name).container.args):
                raise UnsupportedSpec(f"task {name}: a placeholder other than {EXECUTOR_INPUT_PLACEHOLDER}")
            if task.trigger_policy.condition or task.WhichOneof("iterator"):
                raise UnsupportedSpec(f"task {name}: conditions and loops are not run by this helper")

    # Inputs, as the driver resolves them.

    def _root_parameter(self, name: str) -> struct_pb2.Value:
        values = self.job.runtime_config.parameter_values
        if name in values:
            return values[name]
        definition = self.spec.root.input_definitions.parameters.get(name)
        if definition is None or not definition.HasField("default_value"):
            raise UnsupportedSpec(f"runtime parameter {name!r} has no value and no default")
        return definition.default_value

    def _parameters(self, task: str, done: Mapping[str, TaskRun]) -> dict[str, struct_pb2.Value]:
        spec = self.spec.root.dag.tasks[task]
        values = {}
        for name, definition in self.spec.components[spec.component_ref.name].input_definitions.parameters.items():
            if definition.HasField("default_value"):
                values[name] = definition.default_value
        for name, parameter in spec.inputs.parameters.items():
            kind = parameter.WhichOneof("kind")
            if kind == "runtime_value":
                values[name] = parameter.runtime_value.constant
            elif kind == "component_input_parameter":
                values[name] = self._root_parameter(parameter.component_input_parameter)
            elif kind == "task_output_parameter":
                source = parameter.task_output_parameter
                values[name] = done[source.producer_task].executor_output.parameter_values[
                    source.output_parameter_key]
            else:
                raise UnsupportedSpec(f"task {task}: input parameter {name} of kind {kind!r}")
        return values

    def _recorded(self, artifact: pb.RuntimeArtifact, key: str) -> pb.RuntimeArtifact:
        """An output artifact as ML Metadata holds it, and as the driver hands it downstream."""
        self._artifact_ids += 1
        recorded = pb.RuntimeArtifact()
        recorded.CopyFrom(artifact)
        recorded.name = str(self._artifact_ids)
        metadata = recorded.metadata
        if "display_name" not in metadata.fields:
            metadata.update({"display_name": key})
        if "store_session_info" not in metadata.fields:
            metadata.update({"store_session_info": json.dumps(
                {"Provider": _provider(artifact.uri), "Params": {"fromEnv": "true"}})})
        return recorded

    def _input_artifacts(self, task: str, recorded: Mapping[tuple[str, str], pb.RuntimeArtifact]
                         ) -> dict[str, pb.ArtifactList]:
        artifacts = {}
        for name, spec in self.spec.root.dag.tasks[task].inputs.artifacts.items():
            if not spec.HasField("task_output_artifact"):
                raise UnsupportedSpec(f"task {task}: input artifact {name} is not a task output")
            source = spec.task_output_artifact
            artifacts[name] = pb.ArtifactList(artifacts=[recorded[(source.producer_task, source.output_artifact_key)]])
        return artifacts

    def executor_input(self, task: str, run_root: str, done: Mapping[str, TaskRun],
                       recorded: Mapping[tuple[str, str], pb.RuntimeArtifact]) -> pb.ExecutorInput:
        component = self.spec.components[self.spec.root.dag.tasks[task].component_ref.name]
        executor_input = pb.ExecutorInput()
        for name, value in self._parameters(task, done).items():
            executor_input.inputs.parameter_values[name].CopyFrom(value)
        for name, artifacts in self._input_artifacts(task, recorded).items():
            executor_input.inputs.artifacts[name].CopyFrom(artifacts)
        task_root = f"{run_root}/{task}/{uuid.uuid4()}"
        for name, output in component.output_definitions.artifacts.items():
            artifact = executor_input.outputs.artifacts[name].artifacts.add(
                name=name, uri=f"{task_root}/{name}", type=output.artifact_type)
            artifact.metadata.CopyFrom(output.metadata)
        local_root = self.scratch / task / task_root.rsplit("/", 1)[1]
        for name in component.output_definitions.parameters:
            executor_input.outputs.parameters[name].output_file = str(local_root / "outputs" / name)
        executor_input.outputs.output_file = str(local_root / "output_metadata.json")
        return executor_input

    # Running.

    def _environment(self, task: str, container: pb.PipelineDeploymentConfig.PipelineContainerSpec) -> dict[str, str]:
        env = dict(os.environ)
        env.update({variable.name: variable.value for variable in container.env})
        label = self.spec.components[self.spec.root.dag.tasks[task].component_ref.name].executor_label
        for secret in self.kubernetes.get(label, {}).get("secretAsEnv", []):
            values = self.secrets[secret["secretName"]]
            env.update({mapping["envVar"]: values[mapping["secretKey"]] for mapping in secret["keyToEnv"]})
        return env

    def run_task(self, task: str, executor_input: pb.ExecutorInput) -> TaskRun:
        """Runs one task with this ExecutorInput, as a fresh pod would (its local disk empty)."""
        executor = self._executor(task)
        started = time.perf_counter()
        if executor.WhichOneof("spec") == "importer":
            return TaskRun(executor_input, self._import(task, executor.importer, executor_input),
                           time.perf_counter() - started)
        container = executor.container
        output_file = pathlib.Path(executor_input.outputs.output_file)
        shutil.rmtree(output_file.parent, ignore_errors=True)
        output_file.parent.mkdir(parents=True)
        input_json = json_format.MessageToJson(executor_input)
        args = [input_json if arg == EXECUTOR_INPUT_PLACEHOLDER else arg for arg in container.args]
        command = list(container.command)
        if command and command[0] == "python":
            command[0] = sys.executable  # The image's python: this venv's.
        with tempfile.TemporaryDirectory(prefix=f"{task}-cwd-") as cwd:
            result = subprocess.run(command + args, cwd=cwd, env=self._environment(task, container),
                                    stdin=subprocess.DEVNULL, stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                                    text=True, errors="replace")
        seconds = time.perf_counter() - started
        if result.returncode != 0:
            raise TaskFailed(task, result.returncode, result.stdout)
        executor_output = pb.ExecutorOutput()
        if output_file.exists():  # As the launcher: no file, an empty ExecutorOutput.
            json_format.Parse(output_file.read_text(encoding="utf-8"), executor_output)
        return TaskRun(executor_input, executor_output, seconds)

    def _import(self, task: str, importer: pb.PipelineDeploymentConfig.ImporterSpec,
                executor_input: pb.ExecutorInput) -> pb.ExecutorOutput:
        if importer.artifact_uri.WhichOneof("value") == "constant":
            uri = importer.artifact_uri.constant.string_value
        else:
            uri = executor_input.inputs.parameter_values[importer.artifact_uri.runtime_parameter].string_value
        if not uri:
            raise UnsupportedSpec(f"task {task}: importer without an artifact URI")
        (key,) = executor_input.outputs.artifacts
        output = pb.ExecutorOutput()
        artifact = output.artifacts[key].artifacts.add(uri=uri)
        artifact.metadata.CopyFrom(importer.metadata)
        return output

    def run(self, run_id: str | None = None) -> PipelineRun:
        """Every task once, in dependency order; raises TaskFailed at the first failure."""
        run_id = run_id or uuid.uuid4().hex[:12]
        pipeline_root = self.job.runtime_config.gcs_output_directory or self.spec.default_pipeline_root
        run_root = f"{pipeline_root.rstrip('/')}/{self.spec.pipeline_info.name}/{run_id}"
        done: dict[str, TaskRun] = {}
        recorded: dict[tuple[str, str], pb.RuntimeArtifact] = {}
        for task in _topological_order(self.spec.root.dag.tasks):
            executor_input = self.executor_input(task, run_root, done, recorded)
            done[task] = self.run_task(task, executor_input)
            for key, artifacts in executor_input.outputs.artifacts.items():
                merged = pb.RuntimeArtifact()
                merged.CopyFrom(artifacts.artifacts[0])
                reported = done[task].executor_output.artifacts.get(key)
                if reported is not None and reported.artifacts:
                    if reported.artifacts[0].uri:
                        merged.uri = reported.artifacts[0].uri
                    merged.metadata.update(json_format.MessageToDict(reported.artifacts[0].metadata))
                recorded[(task, key)] = self._recorded(merged, key)
        return PipelineRun(run_id, run_root, done)
