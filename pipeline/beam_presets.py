"""Named `beam_pipeline_args` presets: where the Beam-heavy components run.

TFX hands the pipeline's Beam arguments to every Beam-powered component (CsvExampleGen,
StatisticsGen, Transform, Evaluator); a preset is one way to run them, chosen by name:

- direct:   Beam's DirectRunner inside the component's own process (the local default).
- dataflow: Google Cloud Dataflow. Its workers run the pipeline image, so they import the
            project's module code (Transform's preprocessing_fn) and the pinned stack exactly
            as the Kubeflow pods do, and install nothing at run time.
- flink, spark: Beam's portable runner, submitting to a Beam job server in front of a Flink or
            Spark cluster; the SDK workers are the pipeline image started as a worker pool
            (`--worker_pool`) beside each task manager or executor. The two differ only in
            the job server they talk to (and Flink's parallelism).

Every value a preset needs comes from `BeamSettings`, filled from CLI flags or FAKENEWS_*
environment variables (`add_arguments`); a preset missing a value names the flag to set.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
from typing import Any, Callable

from pipeline.config import DEFAULT_BEAM_ARGS

DEFAULT_PRESET = "direct"
ENV_PREFIX = "FAKENEWS_"


class PresetError(ValueError):
    """A preset that cannot be built, explained in one line."""


def _setting(flag: str, help_text: str, default: Any = None, value_type: type = str) -> Any:
    """A BeamSettings field with its CLI flag; the environment variable is derived from the flag."""
    return dataclasses.field(default=default, metadata={"flag": flag, "help": help_text, "type": value_type})


@dataclasses.dataclass(frozen=True)
class BeamSettings:
    project: str | None = _setting("--dataflow-project", "Google Cloud project that runs the Dataflow jobs")
    region: str | None = _setting("--dataflow-region", "Dataflow region, e.g. europe-west1")
    temp_location: str | None = _setting(
        "--dataflow-temp-location", "gs:// folder for Dataflow's temporary and staging files")
    machine_type: str = _setting("--dataflow-machine-type", "Dataflow worker machine type", "n1-standard-4")
    max_workers: int = _setting("--dataflow-max-workers", "upper bound of Dataflow's autoscaling", 10, int)
    job_endpoint: str | None = _setting("--beam-job-endpoint", "HOST:PORT of the Flink or Spark Beam job server")
    worker_pool: str = _setting(
        "--beam-worker-pool", "HOST:PORT of the SDK worker pool beside each Flink/Spark worker", "localhost:50000")
    parallelism: int | None = _setting("--flink-parallelism", "Flink parallelism (default: the cluster's)", None, int)


def env_var(flag: str) -> str:
    return ENV_PREFIX + flag.lstrip("-").upper().replace("-", "_")


def _flag(field_name: str) -> str:
    flag = BeamSettings.__dataclass_fields__[field_name].metadata["flag"]
    return f"{flag} (or {env_var(flag)})"


def _require(settings: BeamSettings, preset: str, *field_names: str) -> None:
    missing = [_flag(name) for name in field_names if getattr(settings, name) in (None, "")]
    if missing:
        raise PresetError(f"Beam preset {preset!r} needs {', '.join(missing)}")


def _host_port(value: str, field_name: str) -> str:
    host, _, port = value.rpartition(":")
    if not host or not port.isdigit():
        raise PresetError(f"{_flag(field_name)}: expected HOST:PORT, got {value!r}")
    return value


def _direct(settings: BeamSettings, image: str) -> tuple[str, ...]:
    return DEFAULT_BEAM_ARGS


def _dataflow(settings: BeamSettings, image: str) -> tuple[str, ...]:
    _require(settings, "dataflow", "project", "region", "temp_location")
    if not image:  # `fakenews score` takes it as an option; compile-kubeflow always has one.
        raise PresetError("Beam preset 'dataflow' needs the pipeline image its workers run (--image)")
    if not settings.temp_location.startswith("gs://"):
        raise PresetError(f"{_flag('temp_location')}: Dataflow needs a gs:// location, got {settings.temp_location!r}")
    if settings.max_workers < 1:
        raise PresetError(f"{_flag('max_workers')}: must be at least 1")
    return (
        "--runner=DataflowRunner",
        f"--project={settings.project}",
        f"--region={settings.region}",
        f"--temp_location={settings.temp_location}",
        f"--machine_type={settings.machine_type}",
        "--autoscaling_algorithm=THROUGHPUT_BASED",
        f"--max_num_workers={settings.max_workers}",
        # The workers run the pipeline image: same code, same pinned stack, nothing installed
        # at run time (Beam 2.59 stages no SDK tarball for a custom container).
        f"--sdk_container_image={image}",
    )


def _portable(preset: str) -> Callable[[BeamSettings, str], tuple[str, ...]]:
    def build(settings: BeamSettings, image: str) -> tuple[str, ...]:
        _require(settings, preset, "job_endpoint")
        args = (
            "--runner=PortableRunner",
            f"--job_endpoint={_host_port(settings.job_endpoint, 'job_endpoint')}",
            # EXTERNAL, not DOCKER: Kubernetes workers have no Docker daemon to start SDK
            # containers, so the pipeline image runs beside them as a worker pool instead.
            "--environment_type=EXTERNAL",
            f"--environment_config={_host_port(settings.worker_pool, 'worker_pool')}",
        )
        if preset == "flink" and settings.parallelism is not None:
            args += (f"--parallelism={settings.parallelism}",)
        return args

    return build


@dataclasses.dataclass(frozen=True)
class Preset:
    summary: str
    build: Callable[[BeamSettings, str], tuple[str, ...]]


PRESETS: dict[str, Preset] = {
    "direct": Preset("DirectRunner inside each component's pod (the local default)", _direct),
    "dataflow": Preset("Google Cloud Dataflow, workers running the pipeline image", _dataflow),
    "flink": Preset("portable runner on a Flink cluster through its Beam job server", _portable("flink")),
    "spark": Preset("portable runner on a Spark cluster through its Beam job server", _portable("spark")),
}


def beam_args(preset: str, settings: BeamSettings, image: str) -> tuple[str, ...]:
    """The Beam arguments of `preset`; image: the pipeline image (the workers' SDK container)."""
    if preset not in PRESETS:
        raise PresetError(f"unknown Beam preset {preset!r}; choose from {', '.join(PRESETS)}")
    return PRESETS[preset].build(settings, image)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    """`--beam-preset` and one flag per BeamSettings field, defaulting to its FAKENEWS_* variable."""
    group = parser.add_argument_group("Beam runner of the Beam-heavy components")
    preset_env = env_var("--beam-preset")
    group.add_argument(
        "--beam-preset", choices=PRESETS, default=os.environ.get(preset_env, DEFAULT_PRESET),
        help="; ".join(f"{name}: {preset.summary}" for name, preset in PRESETS.items())
        + f" (default: %(default)s) [{preset_env}]",
    )
    for field in dataclasses.fields(BeamSettings):
        flag, env = field.metadata["flag"], env_var(field.metadata["flag"])
        # argparse converts a string default with `type`, so a bad environment value fails alike.
        shown_default = "" if field.default is None else " (default: %(default)s)"
        group.add_argument(flag, dest=field.name, type=field.metadata["type"], metavar=field.name.upper(),
                           default=os.environ.get(env, field.default),
                           help=f"{field.metadata['help']}{shown_default} [{env}]")


def settings_from(args: argparse.Namespace) -> BeamSettings:
    return BeamSettings(**{field.name: getattr(args, field.name) for field in dataclasses.fields(BeamSettings)})
