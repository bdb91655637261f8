"""`fakenews compile-kubeflow` takes `fakenews run`'s pipeline options and per-task resources;
the compiled spec carries each: the run parameters (KFP runtime parameters) with their
defaults, the compile-time settings in the task properties, CPU and memory in every container."""

from __future__ import annotations

import argparse
import json

import pytest
import tensorflow_model_analysis as tfma
from google.protobuf import json_format
from kfp.pipeline_spec import pipeline_spec_pb2
from tfx import v1 as tfx

from components import evaluation, tunable_trainer
from components.hyperparameters import PRESETS
from fakenews import cli
from kubeflow import resources
from pipeline import pipeline as dag
from pipeline.config import Columns

IMAGE = "europe-docker.pkg.dev/my-project/pipelines/fakenews:0.1.0"
BUCKET_FLAGS = ["--image", IMAGE, "--pipeline-root", "gs://my-bucket/fakenews",
                "--data", "gs://my-bucket/fakenews/data"]
OPTIONS = ["--preset", "notebook", "--epochs", "3", "--batch-size", "32", "--ensemble-size", "2",
           "--min-auc", "0.7", "--split", "3:2", "--truncating", "post"]
RESOURCE_FLAGS = ["--task-cpu", "500m", "--task-memory", "1Gi", "--trainer-cpu", "3:4",
                  "--trainer-memory", "6Gi:8Gi", "--transform-memory", "5G"]


def compile_job(tmp_path, *flags: str) -> pipeline_spec_pb2.PipelineJob:
    out = tmp_path / "pipeline.json"
    assert cli.main(["compile-kubeflow", *BUCKET_FLAGS, "--output", str(out), *flags]) == 0
    return json_format.Parse(out.read_text(encoding="utf-8"), pipeline_spec_pb2.PipelineJob())


def as_spec(job: pipeline_spec_pb2.PipelineJob) -> pipeline_spec_pb2.PipelineSpec:
    return json_format.ParseDict(json_format.MessageToDict(job.pipeline_spec), pipeline_spec_pb2.PipelineSpec())


@pytest.fixture(scope="module")
def job(tmp_path_factory) -> pipeline_spec_pb2.PipelineJob:
    return compile_job(tmp_path_factory.mktemp("kfp"), *OPTIONS, *RESOURCE_FLAGS)


@pytest.fixture(scope="module")
def spec(job) -> pipeline_spec_pb2.PipelineSpec:
    return as_spec(job)


def constant(spec: pipeline_spec_pb2.PipelineSpec, task: str, name: str) -> str:
    return spec.root.dag.tasks[task].inputs.parameters[name].runtime_value.constant.string_value


def containers(spec: pipeline_spec_pb2.PipelineSpec):
    deployment = json_format.ParseDict(json_format.MessageToDict(spec.deployment_spec),
                                       pipeline_spec_pb2.PipelineDeploymentConfig())
    return {name: deployment.executors[spec.components[task.component_ref.name].executor_label].container
            for name, task in spec.root.dag.tasks.items()}


RUN_PARAMETERS = {  # name -> (task, KFP type, value the flags set)
    tunable_trainer.EPOCHS: (dag.TRAINER, pipeline_spec_pb2.ParameterType.NUMBER_INTEGER, 3),
    tunable_trainer.BATCH_SIZE: (dag.TRAINER, pipeline_spec_pb2.ParameterType.NUMBER_INTEGER, 32),
    tunable_trainer.ENSEMBLE_SIZE: (dag.TRAINER, pipeline_spec_pb2.ParameterType.NUMBER_INTEGER, 2),
    "min_auc": (dag.EVALUATOR, pipeline_spec_pb2.ParameterType.NUMBER_DOUBLE, 0.7),
}


def test_run_parameters_are_declared_with_the_flags_values_as_defaults(job, spec):
    declared = spec.root.input_definitions.parameters
    assert set(declared) == set(RUN_PARAMETERS)
    for name, (task, kind, value) in RUN_PARAMETERS.items():
        assert declared[name].parameter_type == kind, name
        # In the spec (a .yaml upload keeps it) and in the PipelineJob's runtime config (Vertex AI).
        assert declared[name].default_value.number_value == value, name
        assert declared[name].is_optional, name
        assert job.runtime_config.parameter_values[name].number_value == value, name
        # The task reads the run's value, not a constant.
        assert spec.root.dag.tasks[task].inputs.parameters[name].component_input_parameter == name, name


def test_compile_time_options_are_the_task_properties(spec):
    hyperparameters = json.loads(constant(spec, dag.TRAINER, "custom_config"))["hyperparameters"]
    assert hyperparameters["preset"] == "notebook"
    assert hyperparameters["lstm_units"] == PRESETS["notebook"].lstm_units
    # The run parameters' compile-time values too: the task's own defaults are the same.
    assert (hyperparameters["epochs"], hyperparameters["batch_size"], hyperparameters["ensemble_size"]) == (3, 32, 2)
    output = json_format.Parse(constant(spec, dag.EXAMPLE_GEN, "output_config"), tfx.proto.Output())
    assert [(s.name, s.hash_buckets) for s in output.split_config.splits] == [("train", 3), ("eval", 2)]
    assert json.loads(constant(spec, dag.TRANSFORM, "custom_config"))["truncating"] == "post"
    config = json_format.Parse(constant(spec, dag.EVALUATOR, "eval_config"), tfma.EvalConfig())
    assert config == evaluation.eval_config(0.7)


def test_run_parameters_reach_what_the_executors_run():
    """What the task's executor does with a run's values before TFX's own executor runs."""
    custom_config = json.dumps({**PRESETS["improved"].as_custom_config(), "code": "abc"})
    changed = json.loads(tunable_trainer.with_settings(custom_config, {tunable_trainer.EPOCHS: 1, tunable_trainer.BATCH_SIZE: 8,
                                                               tunable_trainer.ENSEMBLE_SIZE: 1}))
    assert changed["code"] == "abc"
    assert (changed["hyperparameters"]["epochs"], changed["hyperparameters"]["batch_size"],
            changed["hyperparameters"]["ensemble_size"]) == (1, 8, 1)
    assert changed["hyperparameters"]["lstm_units"] == PRESETS["improved"].lstm_units
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        tunable_trainer.with_settings(custom_config, {tunable_trainer.EPOCHS: 0, tunable_trainer.BATCH_SIZE: 8, tunable_trainer.ENSEMBLE_SIZE: 1})
    assert evaluation.with_min_auc(evaluation.eval_config(0.5), 0.8) == evaluation.eval_config(0.8)


def test_every_task_gets_cpu_and_memory_the_trainer_and_transform_their_own(spec):
    gb = 1e9
    expected = {
        dag.TRAINER: (3, 4, 6 * 2**30 / gb, 8 * 2**30 / gb),
        dag.TRANSFORM: (2, 2, 5, 5),  # CPU not given: the Transform's default.
    }
    for name, container in containers(spec).items():
        # CsvExampleGen included: TFX's own platform config would skip it (kubeflow/resources.py).
        got = (container.resources.cpu_request, container.resources.cpu_limit,
               container.resources.memory_request, container.resources.memory_limit)
        assert got == pytest.approx(expected.get(name, (0.5, 0.5, 2**30 / gb, 2**30 / gb))), name


def test_default_resources(tmp_path):
    found = containers(as_spec(compile_job(tmp_path)))
    assert set(found) >= {dag.EXAMPLE_GEN, dag.TRANSFORM, dag.TRAINER, dag.EVALUATOR, dag.PUSHER}
    for name, container in found.items():
        default = resources.DEFAULT_RESOURCES.of(name).spec()
        assert container.resources == default, name
        assert default.cpu_request > 0 and default.memory_limit >= default.memory_request > 0
    assert found[dag.TRAINER].resources.memory_request > found[dag.PUSHER].resources.memory_request
    assert found[dag.TRANSFORM].resources.cpu_request > found[dag.PUSHER].resources.cpu_request


@pytest.mark.parametrize("flags, message", [
    (["--trainer-cpu", "two"], "--trainer-cpu/--trainer-memory: CPU 'two'"),
    (["--task-memory", "4GB"], "--task-cpu/--task-memory: memory '4GB'"),
    (["--transform-memory", "4Gi:2Gi"], "the limit is below the request"),
    (["--epochs", "0"], "epochs must be at least 1"),
])
def test_bad_options_fail_before_compiling(flags, message, tmp_path, capsys):
    assert cli.main(["compile-kubeflow", *BUCKET_FLAGS, "--output", str(tmp_path / "p.json"), *flags]) == 2
    assert message in capsys.readouterr().err
    assert not (tmp_path / "p.json").exists()


def _flags(command: str) -> dict[str, argparse.Action]:
    parser = cli.build_parser()
    (subparsers,) = [action for action in parser._actions if isinstance(action, argparse._SubParsersAction)]
    return {option: action for action in subparsers.choices[command]._actions for option in action.option_strings}


def test_run_and_compile_share_the_pipeline_options():
    shared = {"--preset", "--epochs", "--batch-size", "--ensemble-size", "--min-auc", "--split", "--truncating",
              "--drop-invalid", *(f"--{column}-column" for column in ("id", "title", "author", "text", "label"))}
    run, compile_ = _flags("run"), _flags("compile-kubeflow")
    for flag in shared:
        assert (run[flag].default, run[flag].type, run[flag].help) == \
            (compile_[flag].default, compile_[flag].type, compile_[flag].help), flag


def test_column_options_reach_the_config():
    from fakenews.commands import input_options, pipeline_options

    parser = argparse.ArgumentParser()
    input_options.add_column_arguments(parser)
    pipeline_options.add_arguments(parser)
    args = parser.parse_args(["--id-column", "uid", "--title-column", "", "--text-column", "body", "--drop-invalid"])
    config = pipeline_options.config_from(args)
    assert config.columns == Columns(id="uid", title=None, author="author", text="body", label="label")
    assert config.drop_invalid
