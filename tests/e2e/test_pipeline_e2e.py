"""The whole DAG on 1,000 real articles: artifacts, metrics, push and no-push, caching,
and the pushed model agreeing with the Trainer's model on the Transform output."""

from __future__ import annotations

import csv
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_serving.apis import prediction_log_pb2

from components.model import input_keys
from components.report.layout import OVERALL_SLICE
from pipeline import pipeline as dag
from preprocessing import features
from tests.conftest import IMPOSSIBLE_MIN_AUC, MEETABLE_MIN_AUC, run_pipeline
from tests.data import serialized_example

pytestmark = pytest.mark.e2e

ALL_COMPONENTS = {dag.EXAMPLE_GEN, dag.STATISTICS_GEN, dag.SCHEMA_GEN, dag.EXAMPLE_VALIDATOR,
                  dag.TRANSFORM, dag.TRAINER, dag.SERVED_BASELINE, dag.EVALUATOR, dag.PUSHER}


def test_every_component_ran_and_wrote_its_artifacts(pipeline_run):
    executions, outputs = pipeline_run.latest_outputs()
    assert ALL_COMPONENTS <= set(executions)
    for node, by_key in outputs.items():
        for key, artifacts in by_key.items():
            for artifact in artifacts:
                assert os.path.exists(artifact.uri), f"{node}.{key}: {artifact.uri} missing"
    assert pipeline_run.summary.split_rows.keys() == {"train", "eval"}
    assert sum(pipeline_run.summary.split_rows.values()) == 1_000


def test_split_is_about_two_to_one(pipeline_run):
    rows = pipeline_run.summary.split_rows
    assert 0.27 < rows["eval"] / (rows["train"] + rows["eval"]) < 0.40


def test_evaluator_metrics_and_confusion_counts(pipeline_run):
    overall = pipeline_run.summary.overall_metrics
    for name in ("auc", "precision", "recall", "f1_score", "binary_accuracy"):
        assert name in overall
    cells = sum(overall[c] for c in ("tp", "fp", "tn", "fn"))
    assert cells == pipeline_run.summary.split_rows["eval"] == overall["example_count"]
    slices = set(pipeline_run.summary.evaluation["slices"]) - {OVERALL_SLICE}
    assert slices == {"author_present=0", "author_present=1"}


def test_blessed_model_is_pushed_where_tf_serving_looks(pipeline_run):
    summary = pipeline_run.summary
    assert summary.overall_metrics["auc"] >= MEETABLE_MIN_AUC
    assert summary.blessed is True
    versions = os.listdir(pipeline_run.serving_base)
    assert len(versions) == 1 and versions[0].isdigit()
    assert summary.pushed_path == os.path.join(pipeline_run.serving_base, versions[0])
    assert os.path.exists(os.path.join(summary.pushed_path, "saved_model.pb"))


def test_unchanged_rerun_is_served_from_cache(pipeline_run):
    rerun = run_pipeline(pipeline_run.config, pipeline_run.data, pipeline_run.folder.path)
    states = {node: state for node, (state, _) in rerun.summary.components.items()}
    assert states[dag.TRAINER] == states[dag.TRANSFORM] == states[dag.EXAMPLE_GEN] == "cached", states
    # The candidate is the cached one, so is its baseline lookup and its evaluation: the
    # decision stands, and nothing is pushed again.
    assert set(states.values()) == {"cached"}, states
    assert rerun.summary.blessed is True
    assert rerun.summary.pushed_path == pipeline_run.summary.pushed_path
    assert len(os.listdir(pipeline_run.serving_base)) == 1
    overall = rerun.summary.overall_metrics  # The candidate's, not candidate-minus-baseline.
    cells = sum(overall[c] for c in ("tp", "fp", "tn", "fn"))
    assert cells == pipeline_run.summary.split_rows["eval"]


def test_impossible_bound_pushes_nothing(tmp_path, sample_csv):
    from components.hyperparameters import hyperparameters_for
    from pipeline.config import PipelineConfig

    config = PipelineConfig(min_auc=IMPOSSIBLE_MIN_AUC, hyperparameters=hyperparameters_for(epochs=1))
    run = run_pipeline(config, sample_csv, tmp_path)
    assert run.summary.blessed is False
    failed = [check for check in run.summary.evaluation["checks"] if not check["passed"]]
    assert [(check["metric"], check["is_change"]) for check in failed] == [("auc", False)], failed
    assert run.summary.pushed_path is None
    assert not os.path.exists(run.serving_base) or not os.listdir(run.serving_base)


def test_pushed_model_equals_trainer_model_on_transform_output(pipeline_run):
    with open(pipeline_run.data, encoding="utf-8", newline="") as f:
        rows = [row for _, row in zip(range(200), csv.DictReader(f))]
    # With id and label: the raw feature spec parsed below (the Transform's input) requires them.
    examples = tf.constant([
        serialized_example(row, ("id", *features.TEXT_KEYS), with_label=True) for row in rows
    ])

    pushed = tf.saved_model.load(pipeline_run.summary.pushed_path)
    served = pushed.signatures["predict_examples"](examples=examples)["probability"].numpy()

    _, outputs = pipeline_run.latest_outputs()
    transform_output = tft.TFTransformOutput(outputs[dag.TRANSFORM]["transform_graph"][0].uri)
    raw_spec = transform_output.raw_feature_spec()
    transformed = transform_output.transform_raw_features(tf.io.parse_example(examples, raw_spec))
    trainer_export = tf.saved_model.load(os.path.join(outputs[dag.TRAINER]["model"][0].uri, "Format-Serving"))
    # The model's inputs in its own order (components.model.input_keys), a lone one bare.
    inputs = [transformed[key] for key in input_keys(pipeline_run.config.hyperparameters)]
    trained = trainer_export.model(inputs if len(inputs) > 1 else inputs[0], training=False).numpy().reshape(-1)

    np.testing.assert_allclose(served, trained, rtol=0, atol=1e-6)
    assert len(served) == 200 and 0 < served.min() and served.max() < 1


def test_the_pushed_model_is_warmed_up_on_eval_split_articles(pipeline_run):
    """TF Serving's warmup requests ship in the pushed model, drawn from the eval split's raw
    articles (the ExampleGen's, handed to the Trainer)."""
    from components import warmup as requests
    from serving import warmup_file as warmup

    _, outputs = pipeline_run.latest_outputs()
    examples_uri = outputs[dag.EXAMPLE_GEN]["examples"][0].uri
    eval_articles = {tuple(article.values()) for article in requests.raw_articles(f"{examples_uri}/Split-eval/*")}
    logs = [prediction_log_pb2.PredictionLog.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(warmup.requests_path(pipeline_run.summary.pushed_path))]
    assert len(logs) == requests.RECORDS
    sent = {tuple(log.predict_log.request.inputs[key].string_val[0].decode("utf-8") for key in features.TEXT_KEYS)
            for log in logs}
    assert sent <= eval_articles
