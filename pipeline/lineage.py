"""From a run folder's ML Metadata, the data a served model was trained on.

The newest version under the run's serving folder is what a model server answers with (the
version rule: components/served_versions.py). ML Metadata records which Pusher execution
pushed it (its pushed_model's `pushed_destination`), and from there back: the Pusher's input
model, the Trainer execution that wrote it, the Transform that wrote the Trainer's examples,
and the ExampleGen's examples the Transform read. Walking that lineage, not taking the latest
run's outputs, finds the right data when later runs pushed nothing (a model not blessed) or
were served from the cache.
"""

from __future__ import annotations

import dataclasses
import os

import ml_metadata as mlmd
from ml_metadata.proto import metadata_store_pb2
from tfx import v1 as tfx

from components.served_versions import served_versions
from pipeline.run_folder import RunFolder

_PUSHED_DESTINATION = "pushed_destination"  # The Pusher's custom properties (components/pusher.py).
_PUSHED = "pushed"


class LineageError(ValueError):
    """The run folder does not record what is asked, in one line."""


@dataclasses.dataclass(frozen=True)
class ServedModelData:
    version: int
    model_path: str  # The served version's folder.
    examples_uri: str  # The ExampleGen's examples the model was trained (train split) and evaluated (eval) on.

    def split_pattern(self, split: str) -> str:
        """The examples' files of one split (the ExampleGen writes gzipped TFRecords)."""
        return os.path.join(self.examples_uri, f"Split-{split}", "*.gz")


class _Lineage:
    def __init__(self, metadata_path: str) -> None:
        if not os.path.exists(metadata_path):
            raise LineageError(f"{metadata_path}: no ML Metadata here; pass the folder of a `fakenews run --output`")
        self.store = mlmd.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path))

    def producer(self, artifact_id: int) -> int | None:
        """The execution that wrote the artifact (the first, if cached executions re-use it)."""
        outputs = [event.execution_id for event in self.store.get_events_by_artifact_ids([artifact_id])
                   if event.type == metadata_store_pb2.Event.OUTPUT]
        return min(outputs) if outputs else None

    def inputs(self, execution_id: int, key: str) -> list[metadata_store_pb2.Artifact]:
        ids = [event.artifact_id for event in self.store.get_events_by_execution_ids([execution_id])
               if event.type == metadata_store_pb2.Event.INPUT and event.path.steps and event.path.steps[0].key == key]
        return self.store.get_artifacts_by_id(ids)

    def one_input(self, execution_id: int | None, key: str, what: str) -> metadata_store_pb2.Artifact:
        found = self.inputs(execution_id, key) if execution_id is not None else []
        if len(found) != 1:
            raise LineageError(f"ML Metadata records no single {what} (input {key!r} of execution {execution_id})")
        return found[0]


def served_model_data(folder: RunFolder, model_name: str) -> ServedModelData:
    """The newest served version of `model_name` in the run folder, and its training examples."""
    base = folder.serving_base(model_name)
    versions = served_versions(base)
    if not versions:
        raise LineageError(f"{base}: no model served (no version folders)")
    version, model_path = versions[-1], os.path.join(base, str(versions[-1]))
    lineage = _Lineage(folder.metadata_path)
    pushes = [artifact for artifact in lineage.store.get_artifacts_by_type("PushedModel")
              if artifact.custom_properties[_PUSHED].int_value
              and os.path.normpath(artifact.custom_properties[_PUSHED_DESTINATION].string_value) == model_path]
    if not pushes:
        raise LineageError(f"{folder.metadata_path} records no push of {model_path}"
                           " (was it pushed by another run folder?)")
    pusher = lineage.producer(max(pushes, key=lambda artifact: artifact.id).id)
    model = lineage.one_input(pusher, "model", "model pushed")
    transformed = lineage.one_input(lineage.producer(model.id), "examples", "Trainer examples")
    examples = lineage.one_input(lineage.producer(transformed.id), "examples", "Transform examples")
    return ServedModelData(version=version, model_path=model_path, examples_uri=examples.uri)
