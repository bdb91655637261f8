"""Runs the pipeline on this machine: LocalDagRunner, Beam DirectRunner, SQLite ML Metadata."""

from __future__ import annotations

import contextlib
import logging
import os
import sys
import time
from typing import Callable, Iterator, TextIO

import absl.logging

from tfx import v1 as tfx

from pipeline.config import PipelineConfig
from pipeline.input_check import StagingReport, check_and_stage
from pipeline.pipeline import create_pipeline

LOG_FILE = "run.log"


class ComponentProgress(logging.Handler):
    """Turns LocalDagRunner's "Component X is running/finished." log lines into progress lines."""

    def __init__(self, write: Callable[[str], None]):
        super().__init__(logging.INFO)
        self._write = write
        self._started: dict[str, float] = {}
        self.durations: dict[str, float] = {}

    def emit(self, record: logging.LogRecord) -> None:
        if record.msg == "Component %s is running." and record.args:
            node_id = str(record.args[0])
            self._started[node_id] = time.monotonic()
            self._write(f"  ▸ {node_id} …")
        elif record.msg == "Component %s is finished." and record.args:
            node_id = str(record.args[0])
            self.durations[node_id] = time.monotonic() - self._started.pop(node_id, time.monotonic())
            self._write(f"  ✓ {node_id} ({self.durations[node_id]:.1f} s)")


@contextlib.contextmanager
def _logging_to(log_path: str, progress: ComponentProgress) -> Iterator[None]:
    """Full logs go to the run's log file; the console gets only progress lines."""
    root = logging.getLogger()
    file_handler = logging.FileHandler(log_path, encoding="utf-8")
    file_handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    absl_logger = logging.getLogger("absl")
    tf_logger = logging.getLogger("tensorflow")  # TensorFlow gives its logger its own console handler.
    saved = (root.level, list(root.handlers), absl_logger.level, absl.logging.get_verbosity(),
             list(tf_logger.handlers))
    root.handlers = [file_handler]
    tf_logger.handlers = []
    root.setLevel(logging.INFO)
    # Through absl's own flag, not only the logger's level: a component that parses absl
    # flags mid-run (Transform does) would otherwise reset the level and hide INFO lines.
    absl.logging.set_verbosity(absl.logging.INFO)
    absl_logger.addHandler(progress)
    logging.captureWarnings(True)  # Library warnings go to the log file, not the console.
    try:
        yield
    finally:
        logging.captureWarnings(False)
        absl_logger.removeHandler(progress)
        root.setLevel(saved[0])
        root.handlers = saved[1]
        absl_logger.setLevel(saved[2])
        absl.logging.set_verbosity(saved[3])
        tf_logger.handlers = saved[4]
        file_handler.close()


def run(config: PipelineConfig, out: TextIO = sys.stdout) -> tuple[StagingReport, dict[str, float]]:
    """Checks and stages the input, then runs the whole DAG. Returns the staging report and
    each component's wall time in seconds. Raises InputError before Beam starts on bad input."""
    report = check_and_stage(config.data, config.staging_dir, config.columns, config.drop_invalid)
    print(f"Input: {report.rows_staged:,} rows from {len(report.files)} file(s) → {report.staged_csv}", file=out)
    os.makedirs(config.output, exist_ok=True)
    pipeline = create_pipeline(
        config,
        data_root=os.path.dirname(report.staged_csv),
        metadata_connection_config=tfx.orchestration.metadata.sqlite_metadata_connection_config(
            config.metadata_path
        ),
    )
    progress = ComponentProgress(lambda line: print(line, file=out, flush=True))
    with _logging_to(os.path.join(config.output, LOG_FILE), progress):
        tfx.orchestration.LocalDagRunner().run(pipeline)
    return report, progress.durations
