"""A Pusher whose pushes are atomic and idempotent.

TFX's stock Pusher copies files straight into `<base>/<version>/` (saved_model.pb last), so a
crash mid-copy leaves a half-written version folder that a model server may try to load;
and a re-run that re-blesses the same model pushes it again under a new version. This
executor copies into a hidden, non-numeric folder in the same base directory (not a version
folder by the rule model servers follow, serving/version_folders.py) and renames it into
place once complete, and it skips the push when the newest served version is already this
very model (same SavedModel fingerprint).

A rename within one folder is atomic on POSIX filesystems and Kubernetes volumes; on object
stores (GCS, S3) it is a copy, and a server only sees the folder once saved_model.pb exists.
"""

from __future__ import annotations

import os
import time
import uuid
from typing import Any

from absl import logging
from tfx import types
from tfx.components.pusher import executor as pusher_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.proto import pusher_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import io_utils, proto_utils
from tfx import v1 as tfx

from components.served_versions import served_versions

STAGING_PREFIX = ".pushing-"
_FINGERPRINT = "fingerprint.pb"


def _same_model(model_path: str, version_path: str) -> bool:
    mine, theirs = os.path.join(model_path, _FINGERPRINT), os.path.join(version_path, _FINGERPRINT)
    if not (fileio.exists(mine) and fileio.exists(theirs)):
        return False
    with fileio.open(mine, "rb") as a, fileio.open(theirs, "rb") as b:
        return a.read() == b.read()


def push_atomically(model_path: str, base_directory: str) -> tuple[str, str, bool]:
    """Publishes model_path as a new version under base_directory.

    Returns (version folder, version, whether a copy was made): when the newest version
    already holds this model, that version is returned and nothing is copied.
    """
    versions = served_versions(base_directory)
    if versions:
        newest = os.path.join(base_directory, str(versions[-1]))
        if _same_model(model_path, newest):
            return newest, str(versions[-1]), False
    # Seconds since the epoch like the stock Pusher, but always above the newest version.
    version = str(max(int(time.time()), versions[-1] + 1 if versions else 0))
    staging = os.path.join(base_directory, f"{STAGING_PREFIX}{version}-{uuid.uuid4().hex[:8]}")
    fileio.makedirs(base_directory)
    io_utils.copy_dir(model_path, staging)
    target = os.path.join(base_directory, version)
    fileio.rename(staging, target)
    return target, version, True


class AtomicPushExecutor(pusher_executor.Executor):
    """Filesystem pushes only (the only destination this project configures)."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        self._log_startup(input_dict, output_dict, exec_properties)
        model_push = artifact_utils.get_single_instance(output_dict[standard_component_specs.PUSHED_MODEL_KEY])
        if not self.CheckBlessing(input_dict):
            self._MarkNotPushed(model_push)
            return
        destination = pusher_pb2.PushDestination()
        proto_utils.json_to_proto(exec_properties[standard_component_specs.PUSH_DESTINATION_KEY], destination)
        if destination.WhichOneof("destination") != "filesystem":
            raise NotImplementedError("AtomicPushExecutor pushes to a filesystem destination only")
        model_path = self.GetModelPath(input_dict)
        path, version, copied = push_atomically(model_path, destination.filesystem.base_directory)
        logging.info("Model %s %s.", "pushed to" if copied else "already served as", path)
        self._MarkPushed(model_push, pushed_destination=path, pushed_version=version)


class AtomicPusher(tfx.components.Pusher):
    """tfx.components.Pusher with AtomicPushExecutor; same inputs, outputs and properties."""

    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(AtomicPushExecutor)
