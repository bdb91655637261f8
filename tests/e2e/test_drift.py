"""`fakenews drift` against the session run (a model trained on articles.csv): exit 0 for a
fresh sample of articles.csv, 3 for LIAR's statements; the reference is the data the served
model was trained on, found through the run's ML Metadata."""

from __future__ import annotations

import re

import pytest

from fakenews.cli import main as cli
from fakenews.commands.drift import EXIT_DRIFT
from pipeline import drift, pipeline as dag
from pipeline.lineage import served_model_data
from tests.data import read_rows
from tests.e2e.batch_score import FRESH_ROWS, fresh_articles, write_csv

pytestmark = pytest.mark.e2e


def test_the_reference_is_the_served_models_training_examples(pipeline_run):
    served = served_model_data(pipeline_run.folder, pipeline_run.config.model_name)
    _, outputs = pipeline_run.latest_outputs()
    assert served.model_path == pipeline_run.summary.pushed_path
    assert served.examples_uri == outputs[dag.EXAMPLE_GEN]["examples"][0].uri


_DISTANCE_THRESHOLD_VERDICT = re.compile(r"\s(\d+\.\d{4})\s+(\d+\.\d{4})\s+(DRIFT|ok)\b")


def verdicts(printed: str) -> dict[str, str]:
    """measure -> its verdict, from the printed table's rows (checked against their figures)."""
    found = {}
    for measure in drift.MEASURES:
        line = next(line for line in printed.splitlines() if line.startswith(measure.name))
        distance, threshold, verdict = _DISTANCE_THRESHOLD_VERDICT.search(line).groups()
        assert float(threshold) == measure.threshold
        assert verdict == ("DRIFT" if float(distance) > measure.threshold else "ok")
        found[measure.name] = verdict
    return found


def test_a_fresh_sample_of_the_training_source_does_not_drift(pipeline_run, tmp_path, capsys):
    data = write_csv(tmp_path / "fresh.csv", fresh_articles())
    assert cli(["drift", "--output", pipeline_run.folder.path, "--data", str(data)]) == 0
    printed = capsys.readouterr().out
    assert f"({FRESH_ROWS} articles)" in printed
    assert set(verdicts(printed).values()) == {"ok"}
    assert "No drift: all 5 measures within their thresholds" in printed


def test_liar_statements_drift(pipeline_run, tmp_path, capsys):
    data = write_csv(tmp_path / "liar.csv", read_rows("liar_binary.csv", limit=FRESH_ROWS))
    assert cli(["drift", "--output", pipeline_run.folder.path, "--data", str(data)]) == EXIT_DRIFT
    assert set(verdicts(capsys.readouterr().out).values()) == {"DRIFT"}
