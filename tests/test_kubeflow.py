"""The pipeline compiled for Kubeflow (`fakenews compile-kubeflow`), parsed strictly into KFP's
protos and checked against the very pipeline object the local runner runs."""

from __future__ import annotations

import json
import dataclasses
import importlib
import pathlib

import pytest
import yaml
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx
from tfx.dsl.components.base.executor_spec import BeamExecutorSpec

from fakenews import cli
from kubeflow import runner, task_entrypoint
from pipeline import pipeline as wiring
from pipeline.beam_presets import BeamSettings, beam_args
from pipeline.config import PREPROCESSING_FN, RUN_FN, TUNER_FN, Locations, PipelineConfig
from pipeline.run_folder import RunFolder

IMAGE = "europe-docker.pkg.dev/my-project/pipelines/fakenews:0.1.0"
PIPELINE_ROOT = "gs://my-bucket/fakenews"
DATA = "gs://my-bucket/fakenews/data/train.csv"
DATAFLOW_FLAGS = ["--dataflow-project", "my-project", "--dataflow-region", "europe-west1",
                  "--dataflow-temp-location", "gs://my-bucket/tmp", "--dataflow-max-workers", "5"]
DATAFLOW_ARGS = beam_args("dataflow", BeamSettings(project="my-project", region="europe-west1",
                                                   temp_location="gs://my-bucket/tmp", max_workers=5), IMAGE)

def node_id(task_name: str) -> str:
    """The TFX node a KFP task was compiled from: one task per node, named by its id."""
    return task_name


@dataclasses.dataclass
class Compiled:
    job: pipeline_spec_pb2.PipelineJob
    spec: pipeline_spec_pb2.PipelineSpec
    deployment: pipeline_spec_pb2.PipelineDeploymentConfig
    text: str
    manifests_dir: pathlib.Path

    @property
    def tasks(self) -> dict[str, pipeline_spec_pb2.PipelineTaskSpec]:
        return dict(self.spec.root.dag.tasks)

    def executor(self, task_name: str) -> pipeline_spec_pb2.PipelineDeploymentConfig.ExecutorSpec:
        label = self.spec.components[self.tasks[task_name].component_ref.name].executor_label
        return self.deployment.executors[label]

    def parameter(self, task_name: str, name: str) -> str:
        return self.tasks[task_name].inputs.parameters[name].runtime_value.constant.string_value

    def producer(self, task_name: str, input_key: str) -> tuple[str, str]:
        """(producing node, its output key) of a task's input artifact."""
        source = self.tasks[task_name].inputs.artifacts[input_key].task_output_artifact
        return node_id(source.producer_task), source.output_artifact_key


@pytest.fixture(scope="module")
def config() -> PipelineConfig:
    return PipelineConfig(beam_args=DATAFLOW_ARGS)


@pytest.fixture(scope="module")
def locations() -> Locations:
    return runner.kubeflow_locations(PIPELINE_ROOT, DATA)


def compile_with_cli(out: pathlib.Path, *flags: str) -> Compiled:
    """One compilation through the CLI, as a user runs it; the output parsed strictly (a field
    the KFP protos do not define raises)."""
    argv = ["compile-kubeflow", "--image", IMAGE, "--pipeline-root", PIPELINE_ROOT, "--data", DATA,
            "--output", str(out / "pipeline.json"), "--beam-preset", "dataflow", *DATAFLOW_FLAGS,
            "--manifests-dir", str(out / "manifests"), *flags]
    assert cli.main(argv) == 0
    text = (out / "pipeline.json").read_text(encoding="utf-8")
    job = json_format.Parse(text, pipeline_spec_pb2.PipelineJob())
    spec = json_format.ParseDict(json_format.MessageToDict(job.pipeline_spec), pipeline_spec_pb2.PipelineSpec())
    deployment = json_format.ParseDict(json_format.MessageToDict(spec.deployment_spec),
                                       pipeline_spec_pb2.PipelineDeploymentConfig())
    return Compiled(job, spec, deployment, text, out / "manifests")


@pytest.fixture(scope="module")
def compiled(tmp_path_factory) -> Compiled:
    return compile_with_cli(tmp_path_factory.mktemp("kfp"))


@pytest.fixture(scope="module")
def local_pipeline(tmp_path_factory) -> tfx.dsl.Pipeline:
    """The pipeline object as the local runner builds it: local paths, SQLite ML Metadata."""
    output = tmp_path_factory.mktemp("local")
    folder = RunFolder(str(output))
    return wiring.create_pipeline(
        PipelineConfig(), folder.locations(str(output / "data.csv")),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(folder.metadata_path),
    )


def test_pipeline_job(compiled, config):
    assert compiled.job.display_name == config.pipeline_name
    assert compiled.spec.pipeline_info.name == config.pipeline_name
    assert compiled.spec.schema_version == "2.1.0"  # The only schema the KFP 2.x backend accepts.
    assert compiled.job.runtime_config.gcs_output_directory == PIPELINE_ROOT
    assert compiled.spec.default_pipeline_root == PIPELINE_ROOT
    # ML Metadata is the cluster's: nothing refers to a SQLite store.
    assert "sqlite" not in compiled.text.lower()


def test_same_component_ids_as_the_local_pipeline(compiled, local_pipeline):
    assert {node_id(name) for name in compiled.tasks} == {node.id for node in local_pipeline.components}


def test_dependencies_follow_the_local_graph(compiled, local_pipeline):
    for node in local_pipeline.components:
        dependencies = {node_id(name) for name in compiled.tasks[node.id].dependent_tasks}
        assert dependencies == {upstream.id for upstream in node.upstream_nodes}, node.id


def test_no_tuner_unless_asked(compiled):
    assert wiring.TUNER not in compiled.tasks
    assert "hyperparameters" not in compiled.tasks[wiring.TRAINER].inputs.artifacts


def test_tuned_pipeline_trains_the_tuners_best(tmp_path):
    tuned = compile_with_cli(tmp_path, "--preset", "wide-deep", "--tune", "--tune-trials", "3")
    assert tuned.parameter(wiring.TUNER, "tuner_fn") == TUNER_FN
    assert tuned.producer(wiring.TUNER, "examples") == (wiring.TRANSFORM, "transformed_examples")
    assert tuned.producer(wiring.TRAINER, "hyperparameters") == (wiring.TUNER, "best_hyperparameters")
    assert json.loads(tuned.parameter(wiring.TUNER, "custom_config"))["tune_trials"] == 3


def test_trainer_after_transform(compiled):
    assert wiring.TRANSFORM in compiled.tasks[wiring.TRAINER].dependent_tasks
    assert compiled.producer(wiring.TRAINER, "examples") == (wiring.TRANSFORM, "transformed_examples")
    assert compiled.producer(wiring.TRAINER, "transform_graph") == (wiring.TRANSFORM, "transform_graph")


def test_evaluator_inputs(compiled):
    assert compiled.producer(wiring.EVALUATOR, "model") == (wiring.TRAINER, "model")
    assert compiled.producer(wiring.EVALUATOR, "baseline_model") == (wiring.SERVED_BASELINE, "baseline")
    assert compiled.producer(wiring.EVALUATOR, "examples") == (wiring.EXAMPLE_GEN, "examples")
    # The baseline: the model served where the Pusher pushes, looked up after training.
    assert compiled.producer(wiring.SERVED_BASELINE, "candidate") == (wiring.TRAINER, "model")
    serving_base = compiled.parameter(wiring.SERVED_BASELINE, "serving_base")
    pushed_to = json_format.Parse(compiled.parameter(wiring.PUSHER, "push_destination"), tfx.proto.PushDestination())
    assert serving_base == pushed_to.filesystem.base_directory


def test_every_task_is_one_open_source_kfp_runs(compiled):
    """No resolver (the KFP backend refuses them: "resolver not implemented yet") and no
    importer of a fixed URI that another cluster would not have: containers only."""
    kinds = {name: compiled.executor(name).WhichOneof("spec") for name in compiled.tasks}
    assert set(kinds.values()) == {"container"}, kinds


def test_blessing_gates_the_pusher(compiled, config, locations):
    assert wiring.EVALUATOR in compiled.tasks[wiring.PUSHER].dependent_tasks
    assert compiled.producer(wiring.PUSHER, "model_blessing") == (wiring.EVALUATOR, "blessing")
    assert compiled.producer(wiring.PUSHER, "model") == (wiring.TRAINER, "model")
    destination = json_format.Parse(compiled.parameter(wiring.PUSHER, "push_destination"), tfx.proto.PushDestination())
    assert destination.filesystem.base_directory == locations.serving_base(config.model_name)
    assert locations.serving_base(config.model_name) == f"{PIPELINE_ROOT}/serving/{config.model_name}"


def test_every_executor_runs_the_image(compiled):
    for name in compiled.tasks:
        executor = compiled.executor(name)
        assert executor.WhichOneof("spec") == "container", name
        assert executor.container.image == IMAGE, name
        assert tuple(executor.container.command) == task_entrypoint.COMMAND, name


def test_executors_and_module_code_import_from_the_installed_package(compiled):
    """Tasks refer to code by import path, resolved in the image where the project is installed."""
    assert compiled.parameter(wiring.TRANSFORM, "preprocessing_fn") == PREPROCESSING_FN
    assert compiled.parameter(wiring.TRAINER, "run_fn") == RUN_FN
    assert "module_file" not in compiled.tasks[wiring.TRANSFORM].inputs.parameters
    assert "module_file" not in compiled.tasks[wiring.TRAINER].inputs.parameters
    paths = {PREPROCESSING_FN, RUN_FN}
    for name in compiled.tasks:
        args = list(compiled.executor(name).container.args)
        if "--executor_class_path" in args:
            paths.add(args[args.index("--executor_class_path") + 1])
    for path in paths:
        module, attribute = path.rsplit(".", 1)
        assert callable(getattr(importlib.import_module(module), attribute)), path


def test_beam_preset_reaches_the_beam_components(compiled, local_pipeline):
    beam_components = {node.id for node in local_pipeline.components
                       if isinstance(getattr(node, "executor_spec", None), BeamExecutorSpec)}
    assert beam_components >= {wiring.EXAMPLE_GEN, wiring.STATISTICS_GEN, wiring.TRANSFORM, wiring.EVALUATOR}
    tail = len(DATAFLOW_ARGS)
    for name in beam_components:
        container = compiled.executor(name).container
        assert tuple(container.args[-tail:]) == DATAFLOW_ARGS, name
    # ExampleGen's driver, which resolves the input span before the executor runs, too.
    driver = compiled.executor(wiring.EXAMPLE_GEN).container.lifecycle.pre_cache_check
    assert tuple(driver.args[-tail:]) == DATAFLOW_ARGS


def test_input_is_the_raw_csv_in_the_bucket(compiled):
    """The file as uploaded: the ExampleGen task checks it (components/checked_csv_example_gen.py)."""
    assert compiled.parameter(wiring.EXAMPLE_GEN, "input_base") == DATA.rsplit("/", 1)[0]
    input_config = json.loads(compiled.parameter(wiring.EXAMPLE_GEN, "input_config"))
    assert input_config["splits"] == [{"name": "single_split", "pattern": "train.csv"}]


def test_manifests_serve_what_the_pusher_pushes(compiled, config):
    """Written by the same compile-kubeflow run, from the same config."""
    pushed_to = json_format.Parse(compiled.parameter(wiring.PUSHER, "push_destination"),
                                  tfx.proto.PushDestination()).filesystem.base_directory
    deployment = next(yaml.safe_load_all((compiled.manifests_dir / "tfserving.yaml").read_text()))
    args = deployment["spec"]["template"]["spec"]["containers"][0]["args"]
    assert f"--model_base_path={pushed_to}" in args
    assert f"--model_name={config.model_name}" in args
    isvc = yaml.safe_load((compiled.manifests_dir / "kserve.yaml").read_text())
    assert isvc["spec"]["predictor"]["model"]["storageUri"] == pushed_to


def test_yaml_output_is_the_pipeline_spec_kfp_uploads(compiled, tmp_path):
    """The Kubeflow Pipelines UI and kfp.Client take the PipelineSpec document alone."""
    path = tmp_path / "pipeline.yaml"
    runner.write(compiled.job, str(path))
    documents = list(yaml.safe_load_all(path.read_text(encoding="utf-8")))
    assert len(documents) == 1
    spec = json_format.ParseDict(documents[0], pipeline_spec_pb2.PipelineSpec())
    assert spec == compiled.spec
    assert spec.default_pipeline_root == PIPELINE_ROOT  # Pre-filled by the KFP UI's run form.


@pytest.mark.parametrize("change, message", [
    ({"--image": "fakenews"}, "has no pinned tag"),
    ({"--image": "registry.example.com:5000/fakenews:latest"}, "has no pinned tag"),
    ({"--pipeline-root": "/tmp/fakenews"}, "--pipeline-root: expected a bucket URI"),
    ({"--pipeline-root": "minio://mlpipeline/fakenews"}, "the pipeline's tasks can open (gs://, s3://), got 'minio://"),
    ({"--pipeline-root": "https://example.com/fakenews"}, "the pipeline's tasks can open (gs://, s3://)"),
    ({"--data": "data/staged/abc"}, "--data: expected a bucket URI"),
    ({"--output": "pipeline.txt"}, "must end in .json (PipelineJob) or .yaml (PipelineSpec)"),
    ({"--beam-preset": "dataflow"}, "Beam preset 'dataflow' needs --dataflow-project"),
    ({"--model-pvc": "models"}, "add --manifests-dir"),
    ({"--tune": "--preset=notebook"}, "preset 'notebook' has 300: tune improved, wide-deep, linear or wide-style"),
    ({"--tune-trials": "0"}, "--tune-trials and --tune-epochs need --tune"),
])
def test_bad_flags_fail_before_compiling(change, message, capsys, monkeypatch):
    for variable in ("FAKENEWS_DATAFLOW_PROJECT", "FAKENEWS_DATAFLOW_REGION", "FAKENEWS_DATAFLOW_TEMP_LOCATION"):
        monkeypatch.delenv(variable, raising=False)
    monkeypatch.setattr(runner, "compile_pipeline", lambda *args: pytest.fail("compiled despite a bad flag"))
    flags = {"--image": IMAGE, "--pipeline-root": PIPELINE_ROOT, "--data": DATA,
             "--output": "pipeline.json", **change}
    assert cli.main(["compile-kubeflow", *(item for pair in flags.items() for item in pair)]) == 2
    assert message in capsys.readouterr().err


def test_pinned_images_pass():
    for image in (IMAGE, "localhost:5000/fakenews:7f492f0",
                  "fakenews@sha256:" + "0" * 64):
        runner.check_image(image)


def test_stage_prints_the_staged_csv(tmp_path, capsys):
    data = tmp_path / "articles.csv"
    data.write_text('id,title,author,text,label\n1,T,A,"two\nlines",1\n2,T2,,text,0\n', encoding="utf-8")
    assert cli.main(["stage", "--data", str(data), "--output", str(tmp_path / "staged")]) == 0
    staged = pathlib.Path(capsys.readouterr().out.strip())
    assert staged.parent.parent == tmp_path / "staged"  # staged/<content hash>/data.csv: upload that folder.
    # Ids that read as numbers are staged as text (components.input_checks.staged_id).
    assert staged.read_text(encoding="utf-8").splitlines()[1:] == ["#1,T,A,two lines,1", "#2,T2,,text,0"]


def test_stage_rejects_bad_input(tmp_path, capsys):
    data = tmp_path / "articles.csv"
    data.write_text("id,title,author,text,label\n1,T,A,text,maybe\n", encoding="utf-8")
    assert cli.main(["stage", "--data", str(data), "--output", str(tmp_path / "staged")]) == 2
    assert "label 'maybe' is not 0 or 1" in capsys.readouterr().err


def test_image_recipe_matches_the_pinned_stack():
    """The image cannot be built here (no Docker daemon); what keeps it right is checked instead."""
    repo = pathlib.Path(__file__).resolve().parent.parent
    pins = dict(line.strip().split("==", 1) for line in (repo / "constraints.txt").read_text().splitlines()
                if "==" in line and not line.startswith("#"))
    dockerfile = (repo / "kubeflow" / "Dockerfile").read_text().splitlines()
    assert f"FROM tensorflow/tfx:{pins['tfx']}" in dockerfile
    assert any(line.strip().startswith("ENV TF_USE_LEGACY_KERAS=1") for line in dockerfile)
    assert any("pip install" in line and "-c /tmp/fakenews-src/constraints.txt" in line for line in dockerfile)
    dockerignore = (repo / "kubeflow" / "Dockerfile.dockerignore").read_text().splitlines()
    admitted = {line[1:].rstrip("/") for line in dockerignore if line.startswith("!")}
    packages = {path.name for path in repo.iterdir() if (path / "__init__.py").is_file()} - {"tests"}
    assert packages | {"pyproject.toml", "constraints.txt", "README.md"} <= admitted


def test_no_baseline_turns_the_comparison_off(tmp_path):
    """--no-baseline compiles without the served-model baseline: the Evaluator then blesses
    on the absolute AUC bound alone."""
    out = tmp_path / "pipeline.yaml"
    argv = ["compile-kubeflow", "--image", IMAGE, "--pipeline-root", PIPELINE_ROOT, "--data", DATA,
            "--output", str(out), "--no-baseline"]
    assert cli.main(argv) == 0
    spec = json_format.ParseDict(yaml.safe_load(out.read_text(encoding="utf-8")), pipeline_spec_pb2.PipelineSpec())
    tasks = dict(spec.root.dag.tasks)
    assert wiring.SERVED_BASELINE not in tasks
    assert "baseline_model" not in tasks[wiring.EVALUATOR].inputs.artifacts
    assert {wiring.EVALUATOR, wiring.PUSHER} <= set(tasks)
