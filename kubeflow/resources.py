"""CPU and memory for each Kubeflow task: requests (what the scheduler reserves) and limits.

Every task gets the default; Transform (tf.Transform's full pass over the data, the vocabulary
in memory) and the Trainer (the network, its batches and the in-memory datasets) get more.
A task's pod imports TensorFlow, TFX, tf.Transform and TFMA before it reads a row: 0.8 GB
resident here, measured, so 2 GiB leaves each small task over a gigabyte for data of the size
README's Results use (6,859 articles, 5 MB; the full Kaggle set is 20,800, about 95 MB).

They are written into the compiled spec (PipelineContainerSpec.resources, the fields kfp 2.5's
own set_cpu_request/set_cpu_limit/set_memory_request/set_memory_limit write: CPU in cores,
memory in GB), not through TFX's `with_platform_config`: TFX 1.16's compiler copies that into
every container but CsvExampleGen's (step_builder._build_file_based_example_gen_spec ignores
it), so one pass over the compiled executors treats all tasks alike.
"""

from __future__ import annotations

import argparse
import dataclasses
import re

from kfp.pipeline_spec import pipeline_spec_pb2

from pipeline import pipeline as dag

_CPU = re.compile(r"^(\d+(\.\d+)?|\d+m)$")  # Kubernetes CPU: cores, or millicores.
# Kubernetes memory with the suffixes kfp accepts; in GB (10^9 bytes) as the spec stores it.
_MEMORY = re.compile(r"^(\d+)(Ki|Mi|Gi|Ti|K|M|G|T)?$")
_MEMORY_UNITS = {None: 1, "K": 1e3, "M": 1e6, "G": 1e9, "T": 1e12,
                 "Ki": 2**10, "Mi": 2**20, "Gi": 2**30, "Ti": 2**40}


def cpu_cores(quantity: str) -> float:
    if not _CPU.match(quantity):
        raise ValueError(f"CPU {quantity!r}: expected cores (2, 0.5) or millicores (500m)")
    return int(quantity[:-1]) / 1000 if quantity.endswith("m") else float(quantity)


def memory_gb(quantity: str) -> float:
    match = _MEMORY.match(quantity)
    if not match:
        raise ValueError(f"memory {quantity!r}: expected bytes with a suffix like 512Mi, 4Gi, 2G")
    return int(match.group(1)) * _MEMORY_UNITS[match.group(2)] / 1e9


@dataclasses.dataclass(frozen=True)
class Amount:
    """A request and a limit, as Kubernetes quantities; the limit defaults to the request."""

    request: str
    limit: str

    @classmethod
    def parse(cls, text: str, to_number) -> "Amount":
        """REQUEST or REQUEST:LIMIT, checked by `to_number` (cpu_cores or memory_gb)."""
        request, _, limit = text.partition(":")
        limit = limit or request
        if to_number(limit) < to_number(request):
            raise ValueError(f"{text!r}: the limit is below the request")
        return cls(request, limit)


@dataclasses.dataclass(frozen=True)
class TaskResources:
    cpu: Amount
    memory: Amount

    def spec(self) -> pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec:
        return pipeline_spec_pb2.PipelineDeploymentConfig.PipelineContainerSpec.ResourceSpec(
            cpu_request=cpu_cores(self.cpu.request), cpu_limit=cpu_cores(self.cpu.limit),
            memory_request=memory_gb(self.memory.request), memory_limit=memory_gb(self.memory.limit))


# Limits equal requests by default: a task runs on exactly what it was scheduled with, so a
# busy node neither throttles it below what it was promised nor OOM-kills it for using memory
# it was allowed beyond its request.
DEFAULTS = {
    "task": TaskResources(Amount("1", "1"), Amount("2Gi", "2Gi")),  # Every other task.
    "transform": TaskResources(Amount("2", "2"), Amount("4Gi", "4Gi")),
    "trainer": TaskResources(Amount("2", "2"), Amount("4Gi", "4Gi")),
}
_TASKS = {"transform": dag.TRANSFORM, "trainer": dag.TRAINER}  # Flag prefix -> TFX node id.


@dataclasses.dataclass(frozen=True)
class Resources:
    """What every task gets, and the tasks that get more, by TFX node id."""

    default: TaskResources
    by_task: dict[str, TaskResources]

    def of(self, task: str) -> TaskResources:
        return self.by_task.get(task, self.default)


def _text(amount: Amount) -> str:
    return amount.request if amount.limit == amount.request else f"{amount.request}:{amount.limit}"


def add_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group(
        "task resources", "REQUEST or REQUEST:LIMIT, as Kubernetes quantities (CPU: 2, 500m; memory: 4Gi, 512Mi);"
        " the limit defaults to the request")
    for prefix, default in DEFAULTS.items():
        which = "every task but Transform and the Trainer" if prefix == "task" else f"the {_TASKS[prefix]}"
        group.add_argument(f"--{prefix}-cpu", metavar="CPU", default=_text(default.cpu),
                           help=f"CPU of {which} (default: %(default)s)")
        group.add_argument(f"--{prefix}-memory", metavar="MEMORY", default=_text(default.memory),
                           help=f"memory of {which} (default: %(default)s)")


def resources_from(args: argparse.Namespace) -> Resources:
    def read(prefix: str) -> TaskResources:
        try:
            return TaskResources(Amount.parse(getattr(args, f"{prefix}_cpu"), cpu_cores),
                                 Amount.parse(getattr(args, f"{prefix}_memory"), memory_gb))
        except ValueError as error:
            raise ValueError(f"--{prefix}-cpu/--{prefix}-memory: {error}") from None

    return Resources(read("task"), {node: read(prefix) for prefix, node in _TASKS.items()})


DEFAULT_RESOURCES = Resources(DEFAULTS["task"], {node: DEFAULTS[prefix] for prefix, node in _TASKS.items()})
