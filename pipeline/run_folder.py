"""The layout of a local run folder (`fakenews run --output DIR`): where a local run's things live."""

from __future__ import annotations

import dataclasses
import os

from pipeline.config import Locations, serving_base


@dataclasses.dataclass(frozen=True)
class RunFolder:
    path: str

    @property
    def pipeline_root(self) -> str:
        return os.path.join(self.path, "pipeline")

    @property
    def metadata_path(self) -> str:
        """ML Metadata's SQLite store: every run's executions and artifacts."""
        return os.path.join(self.path, "metadata.sqlite")

    @property
    def serving_root(self) -> str:
        return os.path.join(self.path, "serving")

    def serving_base(self, model_name: str) -> str:
        """Where the Pusher puts, and `fakenews serve` finds, the versions of `model_name`."""
        return serving_base(self.serving_root, model_name)

    @property
    def log_path(self) -> str:
        return os.path.join(self.path, "run.log")

    def locations(self, data: str) -> Locations:
        return Locations(data=data, pipeline_root=self.pipeline_root, serving_root=self.serving_root)
