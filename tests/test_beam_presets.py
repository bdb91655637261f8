"""Beam presets: each builds arguments that Beam itself parses into the intended options, and a
preset missing a value fails with the flag (and environment variable) to set."""

from __future__ import annotations

import argparse
import logging
import pathlib

import pytest
from apache_beam.options.pipeline_options import (
    DirectOptions,
    FlinkRunnerOptions,
    GoogleCloudOptions,
    PipelineOptions,
    PortableOptions,
    StandardOptions,
    WorkerOptions,
)

from pipeline import beam_presets
from pipeline.beam_presets import BeamSettings, PresetError, beam_args
from pipeline.config import DEFAULT_BEAM_ARGS

IMAGE = "europe-docker.pkg.dev/my-project/pipelines/fakenews:0.1.0"
DATAFLOW = BeamSettings(project="my-project", region="europe-west1", temp_location="gs://my-bucket/tmp",
                        machine_type="n2-standard-8", max_workers=20)
README = pathlib.Path(__file__).resolve().parent.parent / "README.md"


def parsed(args: tuple[str, ...], caplog: pytest.LogCaptureFixture) -> PipelineOptions:
    """Beam's own parsing; Beam logs (and drops) any argument it does not know: that fails."""
    with caplog.at_level(logging.WARNING, logger="apache_beam.options.pipeline_options"):
        options = PipelineOptions(list(args))
        options.get_all_options()
    assert "Discarding unparseable args" not in caplog.text
    return options


def test_direct_is_the_local_default(caplog):
    assert beam_presets.DEFAULT_PRESET == "direct"
    args = beam_args("direct", BeamSettings(), IMAGE)
    assert args == DEFAULT_BEAM_ARGS
    assert parsed(args, caplog).view_as(DirectOptions).direct_running_mode == "in_memory"


def test_dataflow(caplog):
    options = parsed(beam_args("dataflow", DATAFLOW, IMAGE), caplog)
    assert options.view_as(StandardOptions).runner == "DataflowRunner"
    cloud = options.view_as(GoogleCloudOptions)
    assert (cloud.project, cloud.region, cloud.temp_location) == ("my-project", "europe-west1", "gs://my-bucket/tmp")
    worker = options.view_as(WorkerOptions)
    assert worker.machine_type == "n2-standard-8"
    assert worker.max_num_workers == 20
    assert worker.autoscaling_algorithm == "THROUGHPUT_BASED"
    assert worker.sdk_container_image == IMAGE  # Workers import the project's code from the image.


@pytest.mark.parametrize("preset", ["flink", "spark"])
def test_portable(preset, caplog):
    settings = BeamSettings(job_endpoint="beam-job-server.beam:8099", parallelism=8)
    options = parsed(beam_args(preset, settings, IMAGE), caplog)
    assert options.view_as(StandardOptions).runner == "PortableRunner"
    portable = options.view_as(PortableOptions)
    assert portable.job_endpoint == "beam-job-server.beam:8099"
    assert (portable.environment_type, portable.environment_config) == ("EXTERNAL", "localhost:50000")
    assert options.view_as(FlinkRunnerOptions).parallelism == (8 if preset == "flink" else -1)


@pytest.mark.parametrize("preset, settings, expected", [
    ("dataflow", BeamSettings(), ["--dataflow-project (or FAKENEWS_DATAFLOW_PROJECT)",
                                  "--dataflow-region (or FAKENEWS_DATAFLOW_REGION)",
                                  "--dataflow-temp-location (or FAKENEWS_DATAFLOW_TEMP_LOCATION)"]),
    ("dataflow", BeamSettings(project="p", region="r", temp_location="/tmp/beam"), ["needs a gs:// location"]),
    ("dataflow", BeamSettings(project="p", region="r", temp_location="gs://b/t", max_workers=0), ["at least 1"]),
    ("flink", BeamSettings(), ["--beam-job-endpoint (or FAKENEWS_BEAM_JOB_ENDPOINT)"]),
    ("spark", BeamSettings(job_endpoint="spark-job-server"), ["expected HOST:PORT"]),
    ("spark", BeamSettings(job_endpoint="h:8099", worker_pool="pool"), ["--beam-worker-pool", "expected HOST:PORT"]),
    ("samza", BeamSettings(), ["unknown Beam preset 'samza'", "direct, dataflow, flink, spark"]),
])
def test_bad_settings_name_what_to_fix(preset, settings, expected):
    with pytest.raises(PresetError) as error:
        beam_args(preset, settings, IMAGE)
    for text in expected:
        assert text in str(error.value)


def parse(argv: list[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser()
    beam_presets.add_arguments(parser)
    return parser.parse_args(argv)


def test_settings_come_from_flags_then_environment(monkeypatch):
    monkeypatch.setenv("FAKENEWS_BEAM_PRESET", "dataflow")
    monkeypatch.setenv("FAKENEWS_DATAFLOW_PROJECT", "from-env")
    monkeypatch.setenv("FAKENEWS_DATAFLOW_MAX_WORKERS", "7")
    args = parse(["--dataflow-region", "us-central1"])
    settings = beam_presets.settings_from(args)
    assert args.beam_preset == "dataflow"
    assert (settings.project, settings.region, settings.max_workers) == ("from-env", "us-central1", 7)
    assert beam_presets.settings_from(parse(["--dataflow-project", "from-flag"])).project == "from-flag"
    assert beam_presets.settings_from(parse([])).machine_type == "n1-standard-4"


def test_bad_environment_value_fails_like_a_bad_flag(monkeypatch, capsys):
    monkeypatch.setenv("FAKENEWS_DATAFLOW_MAX_WORKERS", "many")
    with pytest.raises(SystemExit):
        parse([])
    assert "--dataflow-max-workers: invalid int value: 'many'" in capsys.readouterr().err


def test_every_preset_is_documented():
    readme = README.read_text(encoding="utf-8")
    for name in beam_presets.PRESETS:
        assert f"`{name}`" in readme
