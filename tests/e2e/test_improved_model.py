"""The pipeline's pushed model (the default): the evaluation, the report and the served label all
decide with the one threshold stored in the model. (That padding cannot change an LSTM's
prediction is tests/test_fixture_model.py's, on the `improved` model the pipeline's code exports.)"""

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
    return tf.saved_model.load(pipeline_run.summary.pushed_path)


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
