"""Shared fixtures. The expensive one, `pipeline_run`, runs the whole TFX DAG once per session
on a 1,000-row sample of the real articles; end-to-end, serving and report tests share it."""

from __future__ import annotations

import csv
import dataclasses
import os
import pathlib

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # Before anything imports TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

SAMPLE_ROWS = 1_000
# The default model is small: one epoch over ~600 training articles is ten gradient steps and
# leaves its AUC near 0.66, too close to any bound for a stable test. Five epochs cost a few
# seconds and reach ~0.85, well above this bound; 1.01 no model can reach.
SAMPLE_EPOCHS = 5
MEETABLE_MIN_AUC = 0.6
IMPOSSIBLE_MIN_AUC = 1.01


@dataclasses.dataclass
class PipelineRun:
    config: object  # pipeline.config.PipelineConfig
    data: str  # The input CSV.
    folder: object  # pipeline.run_folder.RunFolder
    report: object  # pipeline.input_check.StagingReport
    durations: dict
    summary: object  # pipeline.summary.RunSummary

    @property
    def serving_base(self) -> str:
        return self.folder.serving_base(self.config.model_name)

    def latest_outputs(self) -> tuple[dict, dict]:
        """pipeline.summary.latest_run_outputs of this run's folder: (executions, outputs) by node."""
        from pipeline.summary import latest_run_outputs

        return latest_run_outputs(self.folder.metadata_path, self.config.pipeline_name)


def write_sample(target: pathlib.Path, rows: int = SAMPLE_ROWS, source: str = "articles.csv") -> pathlib.Path:
    from tests.data import canonical_path

    target.parent.mkdir(parents=True, exist_ok=True)
    with canonical_path(source).open(encoding="utf-8", newline="") as src, target.open(
        "w", encoding="utf-8", newline=""
    ) as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow(next(reader))
        for _, row in zip(range(rows), reader):
            writer.writerow(row)
    return target


def run_pipeline(config, data: str | os.PathLike, output: str | os.PathLike) -> PipelineRun:
    from pipeline import local_runner, summary
    from pipeline.run_folder import RunFolder

    folder = RunFolder(str(output))
    report, durations = local_runner.run(config, str(data), folder)
    return PipelineRun(config, str(data), folder, report, durations,
                       summary.collect(folder.metadata_path, config.pipeline_name, report, durations))


@pytest.fixture(scope="session")
def sample_csv(tmp_path_factory) -> pathlib.Path:
    return write_sample(tmp_path_factory.mktemp("data") / "articles_sample.csv")


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory, sample_csv) -> PipelineRun:
    """The whole DAG, default model, on the sample; its model is blessed and pushed."""
    from components.hyperparameters import hyperparameters_for
    from pipeline.config import PipelineConfig

    config = PipelineConfig(hyperparameters=hyperparameters_for(epochs=SAMPLE_EPOCHS), min_auc=MEETABLE_MIN_AUC)
    return run_pipeline(config, sample_csv, tmp_path_factory.mktemp("run"))
