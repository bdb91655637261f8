"""Runs batch scoring (components/batch_scoring.py) on a Beam runner: which model, which files,
where the shards go, and the summary the run leaves.

The model base is a folder of numbered versions, as the Pusher writes it (<run>/serving/<model>;
the version rule is serving/version_folders.py's, read through components/served_versions.py
so that a bucket works too): the newest version is scored unless one is named. The Beam
arguments are a preset's (pipeline/beam_presets.py), exactly as the pipeline's components get
them.
"""

from __future__ import annotations

import dataclasses
import json
import posixpath
import time
from typing import Any

import apache_beam as beam
from apache_beam.options.pipeline_options import PipelineOptions
from tfx.dsl.io import fileio

from components import batch_scoring, checked_rows
from components.input_checks import ArticleColumns, InputCounts, InputError
from components.served_versions import served_versions


class ScoreError(ValueError):
    """A model base, version or output folder that cannot be used, in one line."""


@dataclasses.dataclass(frozen=True)
class ScoreSummary:
    model_path: str
    version: int
    input_counts: InputCounts
    scored: int
    unreliable: int
    shards: list[str]
    summary_file: str  # The summary as the run wrote it (batch_scoring.SUMMARY_FILE).
    seconds: float


def model_version(model_base: str, version: int | None = None) -> tuple[int, str]:
    """(version, its folder): the newest version under model_base, or `version`."""
    versions = served_versions(model_base)
    if not versions:
        raise ScoreError(f"{model_base}: no version folders (numbered sub-folders, as the Pusher writes"
                         " <run>/serving/<model>/<version>)")
    if version is None:
        version = versions[-1]
    elif version not in versions:
        raise ScoreError(f"{model_base}: no version {version} (versions: {', '.join(map(str, versions))})")
    return version, posixpath.join(model_base, str(version))


def _check_output(output: str) -> None:
    """Refuses a folder that already holds scores: shards of two runs would mix (their number
    is the runner's choice, so new ones need not overwrite old ones)."""
    if not fileio.exists(output):
        return
    held = [name for name in fileio.listdir(output) if name.rstrip("/").startswith(batch_scoring.SHARD_PREFIX)
            or name.rstrip("/") == batch_scoring.SUMMARY_FILE]
    if held:
        raise ScoreError(f"{output} already holds scores ({sorted(held)[0]}, ...); pass a new or empty folder")


def score(data: str, model_base: str, output: str, beam_args: tuple[str, ...],
          columns: ArticleColumns = ArticleColumns(), version: int | None = None) -> ScoreSummary:
    """Scores the articles of `data` (a CSV file or a folder of them) with a version of the model
    under model_base into `output`. Raises ScoreError, InputError (bad input: the checks' one
    line), or what the runner raises when a worker fails."""
    version, model_path = model_version(model_base, version)
    _check_output(output)
    # The pipeline's rules (pipeline/local_runner.py): a file is one named .csv, else a folder.
    if not fileio.exists(data):
        raise InputError(f"{data}: no such file or folder")
    if not fileio.isdir(data) and not data.lower().endswith(".csv"):
        raise InputError(f"{data}: not a .csv file; pass a .csv file or a folder of them")
    files = checked_rows.input_files(*checked_rows.input_pattern(data))
    started = time.monotonic()
    model = {"base": model_base, "version": version, "path": model_path}
    with beam.Pipeline(options=PipelineOptions(list(beam_args))) as pipeline:
        _ = pipeline | "ScoreArticles" >> batch_scoring.ScoreArticles(files, data, columns, model, output)
    seconds = time.monotonic() - started
    summary_file = posixpath.join(output, batch_scoring.SUMMARY_FILE)
    with fileio.open(summary_file, "r") as file:
        written: dict[str, Any] = json.loads(file.read())
    shard_pattern = posixpath.join(output, f"{batch_scoring.SHARD_PREFIX}*{batch_scoring.SHARD_SUFFIX}")
    return ScoreSummary(model_path=model_path, version=version, input_counts=InputCounts(**written["input_counts"]),
                        scored=written["scored"], unreliable=written["unreliable"],
                        shards=sorted(fileio.glob(shard_pattern)), summary_file=summary_file, seconds=seconds)


def input_error_line(error: BaseException) -> str | None:
    """The one line of an InputError raised in a worker, whatever the runner wrapped around it
    (Beam appends the step, " [while running 'Read/Check']"; a portable runner reports the
    worker's traceback as text); None for any other error."""
    text, marker = str(error), f"{InputError.__name__}: "
    if not isinstance(error, InputError):
        if marker not in text:
            return None
        text = text.rsplit(marker, 1)[1]
    return text.split(" [while running")[0].strip().splitlines()[0]
