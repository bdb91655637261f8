"""`--tune` end to end: the Tuner runs in the local DAG and the Trainer trains its best values."""

from __future__ import annotations

import json

import pytest
from tfx.utils import io_utils

from components import search_space, training_summary
from components.hyperparameters import hyperparameters_for
from pipeline import pipeline as dag
from pipeline.config import PipelineConfig
from tests.conftest import MEETABLE_MIN_AUC, run_pipeline, write_sample

pytestmark = pytest.mark.e2e


def test_tuned_run_trains_the_tuners_best(tmp_path):
    # Small: 300 articles, one copy, two one-epoch trials, so the test stays a few minutes.
    config = PipelineConfig(hyperparameters=hyperparameters_for("improved", epochs=2, ensemble_size=1),
                            min_auc=MEETABLE_MIN_AUC, compare_with_baseline=False,
                            tune=True, tune_trials=2, tune_epochs=1)
    run = run_pipeline(config, write_sample(tmp_path / "sample.csv", rows=300), tmp_path / "run")
    assert run.summary.components[dag.TUNER][0] == "ran"
    _, outputs = run.latest_outputs()
    best_uri = outputs[dag.TUNER]["best_hyperparameters"][0].uri
    with open(io_utils.get_only_uri_in_dir(best_uri), encoding="utf-8") as f:  # As TFX's Trainer reads it.
        best = search_space.tuned_values(json.load(f))
    assert set(best) == set(search_space.search_space(config.hyperparameters))
    summary = training_summary.read(outputs[dag.TRAINER]["model_run"][0].uri)
    assert summary["tuned"] == best
    assert summary["hyperparameters"]["lstm_units"] == best["lstm_units"]
