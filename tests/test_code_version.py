"""A change to module code must reach the cache key of the components that run it."""

from __future__ import annotations

import json
import shutil
import sys

from pipeline import pipeline as dag
from pipeline.code_version import source_fingerprint
from pipeline.config import PipelineConfig


def custom_config(pipeline, node_id: str) -> dict:
    node = next(c for c in pipeline.components if c.id == node_id)
    return json.loads(node.exec_properties["custom_config"])


def test_transform_and_trainer_carry_the_code_fingerprint(tmp_path):
    pipeline = dag.create_pipeline(PipelineConfig(data="d.csv", output=str(tmp_path)), data_root=str(tmp_path))
    assert custom_config(pipeline, dag.TRANSFORM)["code"] == source_fingerprint("preprocessing")
    assert custom_config(pipeline, dag.TRAINER)["code"] == source_fingerprint("components", "preprocessing")


def test_fingerprint_follows_the_source(tmp_path, monkeypatch):
    package = tmp_path / "toy_package"
    package.mkdir()
    (package / "__init__.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = source_fingerprint.__wrapped__("toy_package")
    assert source_fingerprint.__wrapped__("toy_package") == before
    (package / "__init__.py").write_text("X = 2\n")
    assert source_fingerprint.__wrapped__("toy_package") != before
    shutil.rmtree(package)
    sys.modules.pop("toy_package", None)
