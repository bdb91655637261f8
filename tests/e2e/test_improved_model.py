"""The improved model (the default): padding cannot change a prediction, and the evaluation,
the report and the served label all decide with the one threshold stored in the model."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import tensorflow as tf

from components.report import layout
from fakenews.commands import report as report_command
from pipeline import pipeline as dag
from preprocessing import features
from tests.data import read_rows, serialized_example

pytestmark = pytest.mark.e2e


def tfma_confusion(evaluation_uri: str) -> dict[str, int]:
    """The overall slice's confusion counts of the served label, read with TFMA's own loader
    (not the report's reader, so the report is checked against TFMA, not against itself)."""
    import tensorflow_model_analysis as tfma

    result = tfma.load_eval_result(evaluation_uri)
    overall = next(by_output for key, by_output in result.slicing_metrics if not key)
    matrix = overall["label"][""]["confusion_matrix_at_thresholds"]["confusionMatrixAtThresholds"]["matrices"][0]
    return {cell: int(matrix.get(cell, 0)) for cell in ("truePositives", "falsePositives", "trueNegatives",
                                                        "falseNegatives")}


@pytest.fixture(scope="module")
def served(pipeline_run):
    assert pipeline_run.config.hyperparameters.mask_padding, "the session's run uses the default model"
    return tf.saved_model.load(pipeline_run.summary.pushed_path)


def test_prediction_does_not_depend_on_the_padding_in_front(served):
    rows = [row for row in read_rows("articles.csv", limit=120) if row["text"].strip()][:50]
    examples = tf.constant([serialized_example(row) for row in rows])
    padded = served.signatures["transform_features"](examples=examples)
    token_ids = padded[features.TOKEN_IDS_KEY].numpy()
    lengths = np.count_nonzero(token_ids, axis=1)
    assert len(rows) == 50 and lengths.min() >= 1
    assert np.sum(lengths < features.MAX_LENGTH) >= 45  # Nearly all have padding to drop.
    for ids, length in zip(token_ids, lengths):
        own_length = served.model(tf.constant(ids[None, -length:]), training=False).numpy()
        full_length = served.model(tf.constant(ids[None, :]), training=False).numpy()
        np.testing.assert_allclose(own_length, full_length, rtol=0, atol=1e-5)


def test_tfma_the_report_and_the_served_label_use_the_stored_threshold(pipeline_run, served):
    threshold = float(served.threshold.numpy())
    _, outputs = pipeline_run.latest_outputs()
    files = tf.io.gfile.glob(os.path.join(outputs[dag.EXAMPLE_GEN]["examples"][0].uri, "Split-eval", "*"))
    examples = [tf.train.Example.FromString(r.numpy())
                for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    assert len(examples) >= 200

    def text_of(example: tf.train.Example, key: str) -> str:
        values = example.features.feature[key].bytes_list.value
        return values[0].decode("utf-8") if values else ""

    # The served decision: raw strings through serving_default, as a TF Serving client sends them.
    raw = {key: tf.constant([text_of(ex, key) for ex in examples]) for key in features.TEXT_KEYS}
    answer = served.signatures["serving_default"](**raw)
    probability, label = answer["probability"].numpy(), answer["label"].numpy()
    np.testing.assert_array_equal(label, (probability >= threshold).astype(np.int64))
    truth = np.array([ex.features.feature[features.LABEL_KEY].int64_list.value[0] for ex in examples])
    served_counts = {
        "truePositives": int(np.sum((label == 1) & (truth == 1))),
        "falsePositives": int(np.sum((label == 1) & (truth == 0))),
        "trueNegatives": int(np.sum((label == 0) & (truth == 0))),
        "falseNegatives": int(np.sum((label == 0) & (truth == 1))),
    }

    assert tfma_confusion(outputs[dag.EVALUATOR]["evaluation"][0].uri) == served_counts

    report_folder = report_command.report_folder(pipeline_run.folder.metadata_path, pipeline_run.config.pipeline_name)
    report = json.loads(open(os.path.join(report_folder, layout.REPORT_JSON), encoding="utf-8").read())
    assert report["threshold"] == pytest.approx(threshold)
    report_counts = report["slices"]["overall"]["confusion"]
    assert {"truePositives": report_counts["tp"], "falsePositives": report_counts["fp"],
            "trueNegatives": report_counts["tn"], "falseNegatives": report_counts["fn"]} == served_counts
