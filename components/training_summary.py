"""The Trainer's `training_summary.json` in its `model_run` artifact: written by the Trainer's
run_fn, read by the EvaluationReport (model card, text report).

A module of its own so the report depends on this file's format, not on the training code:
editing the model re-runs the Trainer, and the report only because its input model changed.
"""

from __future__ import annotations

import json
import os
from typing import Any

import tensorflow as tf

FILE = "training_summary.json"


def write(model_run_dir: str, summary: dict[str, Any]) -> None:
    tf.io.gfile.makedirs(model_run_dir)
    with tf.io.gfile.GFile(os.path.join(model_run_dir, FILE), "w") as f:
        f.write(json.dumps(summary, indent=2))


def read(model_run_uri: str) -> dict[str, Any]:
    with tf.io.gfile.GFile(os.path.join(model_run_uri, FILE)) as f:
        return json.load(f)
