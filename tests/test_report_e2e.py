"""Acceptance of the evaluation report (issue 6) on the session's run over 1,000 real articles.

The report is built from TFMA's outputs; here its numbers are recomputed independently: the
eval split's tf.Examples, read from CsvExampleGen's artifact, scored by the pushed SavedModel,
the decisions counted by scikit-learn.
"""

from __future__ import annotations

import json
import os
import pathlib

import numpy as np
import pytest
import tensorflow as tf
from PIL import Image
from sklearn import metrics as sk

from components.report import layout, plots, tfma_results
from components.report.metrics import CLASS_NAMES, Confusion
from components.report.layout import OVERALL_SLICE
from components.signatures import PREDICTED_LABEL, PROBABILITY
from fakenews.commands import report as report_command
from pipeline import pipeline as dag
from preprocessing import features
from tests.conftest import MEETABLE_MIN_AUC

pytestmark = pytest.mark.e2e

_BATCH = 256


@pytest.fixture(scope="module")
def report_dir(pipeline_run) -> pathlib.Path:
    folder = report_command.report_folder(pipeline_run.folder.metadata_path, pipeline_run.config.pipeline_name)
    assert folder is not None, "the run made no EvaluationReport artifact"
    return pathlib.Path(folder)


@pytest.fixture(scope="module")
def report_json(report_dir) -> dict:
    return json.loads((report_dir / layout.REPORT_JSON).read_text())


@pytest.fixture(scope="module")
def served(pipeline_run):
    assert pipeline_run.summary.pushed_path, "the session's run should push its model"
    return tf.saved_model.load(pipeline_run.summary.pushed_path)


@pytest.fixture(scope="module")
def eval_split(pipeline_run, served) -> dict[str, np.ndarray]:
    """Label, served probability and decision, and author presence of every eval example."""
    _, outputs = pipeline_run.latest_outputs()
    files = tf.io.gfile.glob(os.path.join(outputs[dag.EXAMPLE_GEN]["examples"][0].uri, "Split-eval", "*"))
    records = [record.numpy() for record in tf.data.TFRecordDataset(files, compression_type="GZIP")]
    truth = [tf.train.Example.FromString(r).features.feature[features.LABEL_KEY].int64_list.value[0] for r in records]
    probability, predicted, author_present = [], [], []
    for start in range(0, len(records), _BATCH):
        batch = tf.constant(records[start:start + _BATCH])
        outputs = served.signatures["predict_examples"](examples=batch)
        probability.append(outputs[PROBABILITY].numpy())
        predicted.append(outputs[PREDICTED_LABEL].numpy())
        author_present.append(
            served.signatures["transform_features"](examples=batch)[features.AUTHOR_PRESENT_KEY].numpy())
    return {"truth": np.array(truth), "probability": np.concatenate(probability).reshape(-1),
            "predicted": np.concatenate(predicted).reshape(-1),
            "author_present": np.concatenate(author_present).reshape(-1)}


def test_classification_report_equals_sklearn_on_the_eval_split(report_dir, eval_split):
    reported = json.loads((report_dir / layout.CLASSIFICATION_REPORT_JSON).read_text())
    expected = sk.classification_report(eval_split["truth"], eval_split["predicted"], labels=[0, 1],
                                        target_names=CLASS_NAMES, output_dict=True, zero_division=0)
    assert reported.keys() == expected.keys()
    assert reported["accuracy"] == pytest.approx(expected["accuracy"], abs=1e-6)
    for row in (*CLASS_NAMES, "macro avg", "weighted avg"):
        for score in ("precision", "recall", "f1-score"):
            assert reported[row][score] == pytest.approx(expected[row][score], abs=1e-6), (row, score)
        assert reported[row]["support"] == expected[row]["support"], row
    assert reported[CLASS_NAMES[1]]["support"] > 0 and reported[CLASS_NAMES[0]]["support"] > 0


@pytest.mark.parametrize("slice_name, author_present", [
    (OVERALL_SLICE, None), ("author_present=0", 0), ("author_present=1", 1),
])
def test_confusion_counts_match_exactly(report_json, eval_split, slice_name, author_present):
    rows = np.ones_like(eval_split["truth"], dtype=bool)
    if author_present is not None:
        rows = eval_split["author_present"] == author_present
    expected = sk.confusion_matrix(eval_split["truth"][rows], eval_split["predicted"][rows], labels=[0, 1])
    assert Confusion(**report_json["slices"][slice_name]["confusion"]).matrix() == expected.tolist()


def test_curves_are_drawn_from_counts_that_match_the_served_probabilities(pipeline_run, eval_split):
    """The ROC and precision-recall figures come from TFMA's counts at 1,000 thresholds; these
    count both classes as predicted, even when the served threshold calls nothing unreliable."""
    _, outputs = pipeline_run.latest_outputs()
    overall = tfma_results.read(outputs[dag.EVALUATOR]["evaluation"][0].uri).slices[OVERALL_SLICE]
    truth, probability = eval_split["truth"], eval_split["probability"]
    checked = 0
    for point in overall.curve:
        # TFMA counts from a calibration histogram of 10,000 buckets: a probability less than
        # one bucket from the threshold may land on either side of it.
        if np.min(np.abs(probability - point.threshold)) < 1e-4:
            continue
        predicted = (probability > point.threshold).astype(int)
        assert point.confusion.matrix() == sk.confusion_matrix(truth, predicted, labels=[0, 1]).tolist()
        checked += 1
    assert checked > 900
    # The legends' AUC is TFMA's, computed on its own 10,000-threshold grid.
    assert overall.candidate["auc"] == pytest.approx(sk.roc_auc_score(truth, probability), abs=2e-3)


def test_threshold_is_the_served_models(report_json, served):
    assert report_json["threshold"] == pytest.approx(float(served.threshold.numpy()))


def test_heatmap_annotates_this_runs_counts(report_json, eval_split):
    figure = plots.confusion_matrix_figure(Confusion(**report_json["slices"][OVERALL_SLICE]["confusion"]),
                                           report_json["threshold"])
    cells = {(round(t.get_position()[1]), round(t.get_position()[0])): int(t.get_text()) for t in figure.axes[0].texts}
    expected = sk.confusion_matrix(eval_split["truth"], eval_split["predicted"], labels=[0, 1])
    assert cells == {(row, column): int(expected[row, column]) for row in range(2) for column in range(2)}


@pytest.mark.parametrize("name", layout.FIGURES)
def test_figures_are_pngs_of_sensible_size(report_dir, name):
    with Image.open(report_dir / name) as image:
        assert image.format == "PNG"
        width, height = image.size
        image.verify()
    assert 600 <= width <= 2000 and 400 <= height <= 2000


def test_blessing_checks_explain_the_decision(pipeline_run, report_json):
    checks = report_json["checks"]
    assert report_json["blessed"] is pipeline_run.summary.blessed is True
    value_checks = {c["slice"]: c for c in checks if not c["is_change"]}
    assert value_checks.keys() == {OVERALL_SLICE}  # The gate reads the overall slice only.
    assert all(c["rule"] == f"auc >= {MEETABLE_MIN_AUC:g}" and c["candidate"] >= MEETABLE_MIN_AUC
               for c in value_checks.values())
    assert all(c["passed"] for c in checks)
    # Change thresholds apply exactly when the Evaluator had a blessed baseline to compare with.
    assert any(c["is_change"] for c in checks) == (report_json["baseline_model_uri"] is not None)


def test_model_card_describes_this_run(pipeline_run, report_dir):
    card = (report_dir / layout.MODEL_CARD_MD).read_text()
    _, outputs = pipeline_run.latest_outputs()
    training = json.loads(pathlib.Path(outputs[dag.TRAINER]["model_run"][0].uri, "training_summary.json").read_text())
    for split, rows in pipeline_run.summary.split_rows.items():
        assert f"| {split} | {rows:,} |" in card
    if training["hyperparameters"]["ensemble_size"] == 1:
        # The served model's weights add up to what Keras counted at training time.
        assert f"| total |  | {training['parameter_count']:,} |" in card
    else:  # The served dense layers also hold the zeros between copies; the card says so.
        assert f"({training['parameter_count']:,} parameters in all)" in card
    assert f"`{pipeline_run.data}`" in card
    assert "## Intended use" in card and "## Known limits" in card


def test_report_command_prints_the_report_and_where_the_figures_are(pipeline_run, report_dir, capsys):
    from fakenews import cli

    assert cli.main(["report", "--output", pipeline_run.folder.path]) == 0
    printed = capsys.readouterr().out
    assert (report_dir / layout.CLASSIFICATION_REPORT_TXT).read_text().rstrip() in printed
    for name in layout.FIGURES:
        assert str(report_dir / name) in printed
