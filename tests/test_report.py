"""The evaluation report's pieces, without a pipeline run: metrics against scikit-learn, the
figures' text objects, the blessing's checks against TFMA's own config and validation protos,
the rendered text, model card and artifact files, and the component as Kubeflow compiles it."""

from __future__ import annotations

import dataclasses
import io
import json
import math

import numpy as np
import pytest
import tensorflow_model_analysis as tfma
import yaml
from google.protobuf import json_format
from hypothesis import given, settings
from hypothesis import strategies as st
from PIL import Image
from sklearn import metrics as sk
from tensorflow_model_analysis.proto import validation_result_pb2
from tfx.orchestration.kubeflow.v2 import compiler_utils
from tfx.types.experimental.simple_artifacts import File
from tfx.utils import import_utils

from components.hyperparameters import PRESETS
from components.evaluation import eval_config
from components.input_checks import InputCounts
from components.report import blessing, explanations, layout, model_card, plots, render, writer
from components.report.component import EvaluationReport
from components.report.inputs import Layer, Report, ServedModel, SplitCounts
from components.report.metrics import (
    CLASS_NAMES,
    Confusion,
    CurvePoint,
    classification_report,
    format_classification_report,
    operating_point,
    precision_recall_curve,
    roc_curve,
)
from components.report.layout import OVERALL_SLICE
from components.report.tfma_results import Evaluation, SliceResult
from fakenews import cli
from kubeflow import runner
from pipeline.config import PipelineConfig
from pipeline import pipeline as wiring

AUTHOR_0 = (("author_present", 0),)
AUTHOR_1 = (("author_present", 1),)


def confusion_of(truth: np.ndarray, predicted: np.ndarray) -> Confusion:
    return Confusion(tp=int(np.sum((truth == 1) & (predicted == 1))), fp=int(np.sum((truth == 0) & (predicted == 1))),
                     tn=int(np.sum((truth == 0) & (predicted == 0))), fn=int(np.sum((truth == 1) & (predicted == 0))))


def sklearn_report(truth: np.ndarray, predicted: np.ndarray, **kwargs):
    return sk.classification_report(truth, predicted, labels=[0, 1], target_names=CLASS_NAMES,
                                    zero_division=0, **kwargs)


def assert_same_report(mine: dict, reference: dict) -> None:
    assert mine.keys() == reference.keys()
    for key, value in reference.items():
        assert mine[key] == pytest.approx(value, abs=1e-12), key


# --- metrics ------------------------------------------------------------------------------

@settings(max_examples=200, deadline=None)
@given(st.lists(st.tuples(st.integers(0, 1), st.integers(0, 1)), min_size=1, max_size=300))
def test_classification_report_equals_sklearn_for_any_labels(pairs):
    truth, predicted = (np.array(column) for column in zip(*pairs))
    mine = classification_report(confusion_of(truth, predicted))
    assert_same_report(mine, sklearn_report(truth, predicted, output_dict=True))


@pytest.mark.parametrize("predicted_share", [0.0, 0.3, 1.0])  # 0.0: the model flags nothing.
def test_classification_report_text_equals_sklearn(predicted_share):
    rng = np.random.default_rng(7)
    truth = rng.integers(0, 2, 500)
    predicted = (rng.random(500) < predicted_share).astype(int)
    text = format_classification_report(classification_report(confusion_of(truth, predicted)))
    assert text == sklearn_report(truth, predicted, digits=4)


def test_confusion_matrix_is_sklearns_layout():
    truth = np.array([0, 0, 0, 1, 1, 0, 1])
    predicted = np.array([0, 1, 0, 1, 0, 0, 1])
    assert confusion_of(truth, predicted).matrix() == sk.confusion_matrix(truth, predicted).tolist()


def curve_from_scores(truth: np.ndarray, scores: np.ndarray, thresholds: np.ndarray) -> list[CurvePoint]:
    """What TFMA's ConfusionMatrixPlot records: counts where score > threshold is positive."""
    return [CurvePoint(float(t), confusion_of(truth, (scores > t).astype(int))) for t in thresholds]


@pytest.fixture(scope="module")
def scored():
    rng = np.random.default_rng(3)
    truth = rng.integers(0, 2, 400)
    # Scores between grid points k/1000, so the 1,000-threshold grid separates every pair of
    # distinct scores and the curves are exact.
    scores = np.clip(np.round(rng.normal(0.35 + 0.3 * truth, 0.2), 3), 0, 0.999) + 0.0005
    thresholds = np.concatenate([[-1e-6], np.arange(1001) / 1000])
    return truth, scores, curve_from_scores(truth, scores, thresholds)


def test_roc_curve_area_equals_sklearn_auc(scored):
    truth, scores, curve = scored
    fpr, tpr = roc_curve(curve)
    assert fpr[0] == tpr[0] == 1.0 and fpr[-1] == tpr[-1] == 0.0
    assert -np.trapz(tpr, fpr) == pytest.approx(sk.roc_auc_score(truth, scores), abs=1e-12)


def test_precision_recall_points_lie_on_sklearns_curve(scored):
    truth, scores, curve = scored
    recalls, precisions = precision_recall_curve(curve)
    sk_precision, sk_recall, _ = sk.precision_recall_curve(truth, scores)
    reference = set(zip(np.round(sk_recall, 12), np.round(sk_precision, 12)))
    assert len(recalls) > 100
    assert set(zip(np.round(recalls, 12), np.round(precisions, 12))) <= reference


def test_operating_point_without_flagged_articles_has_no_precision():
    point = operating_point(Confusion(tp=0, fp=0, tn=90, fn=10))
    assert (point.false_positive_rate, point.recall, point.precision) == (0.0, 0.0, None)


# --- figures ------------------------------------------------------------------------------

def test_heatmap_annotates_the_four_counts_in_their_cells():
    confusion = Confusion(tp=61, fp=7, tn=240, fn=18)
    figure = plots.confusion_matrix_figure(confusion, threshold=0.5)
    axes = figure.axes[0]
    cells = {(round(text.get_position()[1]), round(text.get_position()[0])): text.get_text() for text in axes.texts}
    # (row = truth, column = predicted)
    assert cells == {(0, 0): "240", (0, 1): "7", (1, 0): "18", (1, 1): "61"}
    assert axes.get_xlabel() == "Predicted" and axes.get_ylabel() == "Truth"
    assert [t.get_text() for t in axes.get_xticklabels()] == list(CLASS_NAMES)
    assert [t.get_text() for t in axes.get_yticklabels()] == list(CLASS_NAMES)
    assert "(threshold 0.5)" in axes.get_title()


def legend_texts(figure) -> list[str]:
    return [text.get_text() for text in figure.axes[0].get_legend().get_texts()]


def test_roc_figure_shows_auc_and_marks_the_served_threshold(scored):
    _, _, curve = scored
    at_threshold = next(point.confusion for point in curve if point.threshold == 0.5)
    figure = plots.roc_figure(curve, auc=0.8764, threshold=0.5, at_threshold=at_threshold)
    texts = legend_texts(figure)
    assert "ROC (AUC = 0.876)" in texts
    marked = operating_point(at_threshold)
    assert f"served threshold 0.5: FPR {marked.false_positive_rate:.3f}, TPR {marked.recall:.3f}" in texts
    marker = figure.axes[0].get_lines()[-1]
    assert (marker.get_xdata()[0], marker.get_ydata()[0]) == (marked.false_positive_rate, marked.recall)


def test_precision_recall_figure_marks_the_threshold_or_says_nothing_is_flagged(scored):
    _, _, curve = scored
    flagged = next(point.confusion for point in curve if point.threshold == 0.5)
    figure = plots.precision_recall_figure(curve, auc=0.7, threshold=0.5, at_threshold=flagged)
    point = operating_point(flagged)
    assert "precision-recall (AUC = 0.700)" in legend_texts(figure)
    assert f"served threshold 0.5: recall {point.recall:.3f}, precision {point.precision:.3f}" in legend_texts(figure)

    nothing = Confusion(tp=0, fp=0, tn=250, fn=80)
    figure = plots.precision_recall_figure(curve, auc=0.7, threshold=0.9137, at_threshold=nothing)
    assert "served threshold 0.9137: no article called unreliable" in [t.get_text() for t in figure.axes[0].texts]


def test_png_bytes_is_a_png_of_sensible_size():
    image = Image.open(io.BytesIO(plots.png_bytes(plots.confusion_matrix_figure(Confusion(1, 2, 3, 4), 0.5))))
    assert image.format == "PNG" and image.size == (720, 600)


# --- blessing -----------------------------------------------------------------------------

def slice_result(key: tuple, auc: float, baseline_auc: float | None, confusion: Confusion) -> SliceResult:
    return SliceResult(
        key=key,
        candidate={"auc": auc, "example_count": float(confusion.total), "precision": math.nan},
        baseline={} if baseline_auc is None else {"auc": baseline_auc},
        change={} if baseline_auc is None else {"auc": auc - baseline_auc},
        confusion=confusion,
        curve=(),
    )


def applied_config(min_auc: float, has_baseline: bool) -> tfma.EvalConfig:
    """The config as the Evaluator stores it with the evaluation."""
    return tfma.utils.update_eval_config_with_defaults(eval_config(min_auc), has_baseline=has_baseline,
                                                       rubber_stamp=True)


def validation_failure(slice_key: tuple, name: str, is_diff: bool) -> validation_result_pb2.ValidationResult:
    result = validation_result_pb2.ValidationResult(validation_ok=False)
    per_slice = result.metric_validations_per_slice.add()
    per_slice.slice_key.CopyFrom(tfma.slicer.serialize_slice_key(slice_key))
    per_slice.failures.add().metric_key.CopyFrom(
        tfma.metrics.MetricKey(name=name, model_name=tfma.CANDIDATE_KEY, output_name="probability",
                               is_diff=is_diff).to_proto())
    return result


SLICES = {
    OVERALL_SLICE: slice_result((), 0.81, 0.80, Confusion(tp=60, fp=10, tn=230, fn=30)),
    "author_present=0": slice_result(AUTHOR_0, 0.83, 0.80, Confusion(tp=55, fp=8, tn=220, fn=25)),
    "author_present=1": slice_result(AUTHOR_1, 0.65, 0.70, Confusion(tp=5, fp=2, tn=10, fn=5)),
}


def test_the_gate_checks_the_overall_slice_against_value_and_change_thresholds_tfmas_verdict_kept():
    failed = blessing.failures(validation_failure((), "auc", is_diff=True))
    assert failed == {(OVERALL_SLICE, "auc", True)}
    checks = blessing.gate_checks(applied_config(0.6, has_baseline=True), SLICES, failed)
    by_kind = {(c.slice, c.is_change): c for c in checks}
    # The author slices can be tiny, so the AUC gate reads the overall slice only.
    assert set(by_kind) == {(OVERALL_SLICE, False), (OVERALL_SLICE, True)} and len(checks) == 2
    assert by_kind[(OVERALL_SLICE, False)].rule == "auc >= 0.6" and by_kind[(OVERALL_SLICE, False)].candidate == 0.81
    change = by_kind[(OVERALL_SLICE, True)]
    assert change.rule == "auc change >= -1e-10"
    assert (change.candidate, change.baseline, change.change) == (0.81, 0.80, pytest.approx(0.01))
    # The value bound passed (TFMA listed no such failure); only the change is reported failed.
    assert [(c.slice, c.is_change) for c in checks if not c.passed] == [(OVERALL_SLICE, True)]


def test_without_a_baseline_only_value_thresholds_apply():
    checks = blessing.gate_checks(applied_config(0.6, has_baseline=False), SLICES, set())
    assert [(c.slice, c.is_change) for c in checks] == [(OVERALL_SLICE, False)]
    assert all(c.passed and c.baseline is None for c in checks)


# --- explanations -------------------------------------------------------------------------

def explained(probability: float, label: int, *words: tuple[str, float]) -> explanations.ExplainedArticle:
    return explanations.ExplainedArticle(probability, label, 0.3, tuple(words))


EXPLAINED = (
    explained(0.9, 1, ("hillary", 0.3), ("email", 0.2), ("said", -0.1), ("hillary", 0.1)),
    explained(0.8, 1, ("email", 0.25), ("fbi", 0.15), ("<b>", 0.05), ("reuters", -0.02)),
    explained(0.1, 0, ("reuters", -0.3), ("said", -0.1), ("email", 0.01)),
    explained(0.5, 0),  # Read nothing.
)


def test_words_are_counted_where_they_are_among_an_articles_strongest_each_way():
    summary = explanations.summarize(EXPLAINED)
    assert summary.articles == 4
    unreliable = {count.word: count for count in summary.toward["unreliable"]}
    assert list(unreliable)[:2] == ["email", "hillary"]  # email in three articles, hillary in one.
    assert unreliable["email"].articles == 3
    assert unreliable["hillary"].mean_share == pytest.approx(0.4)  # Both occurrences.
    reliable = summary.toward["reliable"]
    assert [(count.word, count.articles) for count in reliable] == [("reuters", 2), ("said", 2)]
    assert reliable[0].mean_share == pytest.approx(-0.16)


def test_the_figures_article_is_the_most_surely_unreliable_short_one():
    assert explanations.figure_article(EXPLAINED) is EXPLAINED[0]
    long = explained(0.99, 1, *(("word", 0.001),) * (explanations.FIGURE_MAX_WORDS + 1))
    assert explanations.figure_article([long, *EXPLAINED[2:]]) is EXPLAINED[2]  # No short one is flagged.
    assert explanations.figure_article([long]) is long
    assert explanations.figure_article([EXPLAINED[3]]) is None


def test_the_article_page_colours_each_word_by_its_share_and_escapes_it():
    page = explanations.article_html(EXPLAINED[1])
    assert "&lt;b&gt;" in page and "<b>" not in page
    spans = page.split('<p class="words">')[1].split("</p>")[0].split("</span>")[:-1]
    assert len(spans) == 4
    assert 'title="+0.25000"' in spans[0] and "rgba(214, 39, 40, 0.850)" in spans[0]  # The largest: full red.
    assert "rgba(31, 119, 180" in spans[3]  # Toward reliable: blue.
    assert "Why the model called this article unreliable" in page


# --- text report, model card, artifact files ----------------------------------------------

@pytest.fixture
def report(scored) -> Report:
    _, _, curve = scored
    overall = SliceResult((), {"auc": 0.81, "auc_precision_recall": 0.62, "loss": 0.45, "binary_accuracy": 0.88,
                               "precision": 0.857, "recall": 0.667, "f1_score": 0.75},
                          {"auc": 0.83}, {"auc": -0.02}, Confusion(tp=60, fp=10, tn=230, fn=30), curve)
    config = applied_config(0.6, has_baseline=True)
    slices = {OVERALL_SLICE: overall, **{k: v for k, v in SLICES.items() if k != OVERALL_SLICE}}
    failed = {(OVERALL_SLICE, "auc", True)}
    return Report(
        model_uri="/runs/x/Trainer/model/7",
        served=ServedModel(threshold=0.5, layers=(Layer("embedding", ((10_000, 300),), 3_000_000),
                                                  Layer("probability", ((43, 1), (1,)), 44))),
        blessed=False,
        baseline_model_uri="/runs/x/ServedModelBaseline/baseline/3",
        baseline_served={"version": "1700000000", "path": "/runs/x/serving/fakenews/1700000000"},
        evaluation=Evaluation(slices, config=config,
                              validation=validation_failure((), "auc", is_diff=True)),
        checks=blessing.gate_checks(config, slices, failed),
        classification=classification_report(overall.confusion),
        splits={"train": SplitCounts(rows=670, unreliable=173), "eval": SplitCounts(rows=330, unreliable=90)},
        data_source="/data/articles.csv",
        input_counts=InputCounts(rows_read=1_002, rows_staged=1_000, invalid_labels_skipped=2,
                                 label_counts={"0": 737, "1": 263}),
        training={"epochs_run": 3, "best_epoch": 2, "parameter_count": 3_000_044, "threshold": 0.5,
                  "hyperparameters": {"preset": "notebook", "epochs": 10}, "history": {"val_loss": [0.5, 0.4, 0.45]}},
        explanations=explanations.summarize(EXPLAINED),
    )


def test_text_report_has_classification_report_slices_and_blessing(report):
    text = render.render_text(report)
    assert format_classification_report(report.classification).rstrip() in text
    assert "Eval split: 330 articles, 90 unreliable (27.3%)" in text
    table_rows = {line.split()[0]: line.split() for line in text.splitlines() if line.startswith(("overall", "author"))}
    assert table_rows["overall"][1:4] == ["330", "90", "0.8100"]
    assert table_rows["author_present=1"][1:3] == ["22", "10"]
    assert "n/a" in table_rows["author_present=1"]  # TFMA's NaN precision.
    assert ("NOT blessed: compared with the served model, version 1700000000 (/runs/x/serving/fakenews/1700000000)"
            in text)
    first_check = text.split("NOT blessed")[1].splitlines()[1].strip()
    assert first_check == "FAILED  auc change >= -1e-10 [overall]: 0.8100 vs baseline 0.8300: change -0.0200"


def test_a_slice_of_one_class_shows_its_auc_as_undefined(report):
    """TFMA writes AUC 0.0 for a slice whose articles all carry one label; it is undefined."""
    one_class = slice_result(AUTHOR_1, 0.0, None, Confusion(tp=0, fp=2, tn=10, fn=0))
    report = dataclasses.replace(report, evaluation=dataclasses.replace(
        report.evaluation, slices={**report.evaluation.slices, "author_present=1": one_class}))
    text = render.render_text(report)
    row = next(line.split() for line in text.splitlines() if line.startswith("author_present=1"))
    assert row[3] == "undefined" and "0.0000" not in row[3:5]
    assert render.UNDEFINED_NOTE in text
    assert render.UNDEFINED_NOTE in model_card.render(report)
    both = next(line.split() for line in text.splitlines() if line.startswith("author_present=0"))
    assert "undefined" not in both


def test_model_card_holds_data_model_metrics_and_limits(report):
    card = model_card.render(report)
    for section in ("## Model", "## Data", "## Evaluation (eval split)", "## Blessing", "## Intended use",
                    "## Known limits"):
        assert section in card
    assert "| eval | 330 | 90 | 27.3% |" in card
    assert "| total |  | 3,000,044 |" in card
    assert "`/data/articles.csv`" in card
    assert "1,000 rows staged of 1,002 read (fake 263 / reliable 737); invalid labels skipped: 2." in card
    assert "3 of at most 10 epochs" in card and "best epoch 2, validation loss 0.4000" in card
    assert "Slice `author_present=1` has only 22 eval examples" in card
    for figure in layout.FIGURES:
        assert f"({figure})" in card


def test_model_card_names_the_values_the_tuner_chose(report):
    assert "Tuned:" not in model_card.render(report)
    tuned = dataclasses.replace(report, training={**report.training, "tuned": {"lstm_units": 64, "wide_l2": 1e-06}})
    assert ("- Tuned: the pipeline's Tuner chose `lstm_units=64`, `wide_l2=1e-06` by validation log loss"
            in model_card.render(tuned))


def test_report_and_model_card_say_what_the_threshold_was_chosen_for(report):
    def rendered(**hyperparameters) -> tuple[str, str]:
        training = {**report.training, "hyperparameters": {**report.training["hyperparameters"], **hyperparameters}}
        changed = dataclasses.replace(report, training=training)
        return render.render_text(changed), model_card.render(changed)

    for changes, said in (({"tune_threshold": False}, "the notebook's rule"),
                           ({"tune_threshold": True, "threshold_metric": "f1"},
                            "chosen for F1 of `unreliable` on the validation slice of the train split"),
                           ({"tune_threshold": True, "threshold_metric": "accuracy"},
                            "chosen for accuracy on the validation slice of the train split")):
        text, card = rendered(**changes)
        assert f"is called unreliable; {said})" in text
        assert f"is called `unreliable`; {said} (components/decision_threshold.py)." in card


def test_text_report_and_model_card_list_the_words_that_pushed_each_way(report):
    text = render.render_text(report)
    heading = render.explanation_heading(report)
    assert heading in text and "4 articles" in heading
    table = text.split(heading)[1].strip().splitlines()
    assert table[0].split() == ["toward", "unreliable", "articles", "mean", "share", "toward", "reliable", "articles",
                                "mean", "share"]
    assert table[1].split()[:3] == ["email", "3", "+0.1533"] and table[1].split()[3:6] == ["reuters", "2", "-0.1600"]
    card = model_card.render(report)
    assert "## Explanations" in card and f"({layout.EXPLANATION_HTML})" in card


def test_writer_writes_every_file_as_valid_json_and_png(report, tmp_path):
    writer.write(report, str(tmp_path))
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted(
        [layout.REPORT_TXT, layout.REPORT_JSON, layout.CLASSIFICATION_REPORT_TXT, layout.CLASSIFICATION_REPORT_JSON,
         layout.MODEL_CARD_MD, *layout.FIGURES, layout.EXPLANATION_HTML])
    # Strict JSON: TFMA's NaN precision must come out as null.
    saved = json.loads((tmp_path / layout.REPORT_JSON).read_text(), parse_constant=pytest.fail)
    assert saved["slices"]["author_present=1"]["metrics"]["precision"] is None
    assert saved["slices"][OVERALL_SLICE]["confusion"] == {"tp": 60, "fp": 10, "tn": 230, "fn": 30}
    assert json.loads((tmp_path / layout.CLASSIFICATION_REPORT_JSON).read_text()) == report.classification
    for name in layout.FIGURES:
        assert Image.open(tmp_path / name).format == "PNG"
    assert saved["explanations"]["toward"]["unreliable"][0] == {"word": "email", "articles": 3,
                                                                 "mean_share": pytest.approx(0.46 / 3)}
    assert (tmp_path / layout.EXPLANATION_HTML).read_text() == explanations.article_html(EXPLAINED[0])


def test_kubeflow_pod_can_import_the_executor_and_rebuild_the_output_type():
    """On Kubeflow the pod imports the executor by path and rebuilds each artifact's Python class
    from its schema title: both must resolve to this component's code and TFX types."""
    locations = runner.kubeflow_locations("gs://bucket/fakenews", "gs://bucket/fakenews/staged/0123456789abcdef")
    spec = json_format.MessageToDict(
        runner.compile_pipeline(PipelineConfig(), locations, "registry.example/fakenews:0.1.0").pipeline_spec)
    task = spec["root"]["dag"]["tasks"][wiring.EVALUATION_REPORT]
    producers = {key: (value["taskOutputArtifact"]["producerTask"], value["taskOutputArtifact"]["outputArtifactKey"])
                 for key, value in task["inputs"]["artifacts"].items()}
    assert producers == {"evaluation": (wiring.EVALUATOR, "evaluation"), "blessing": (wiring.EVALUATOR, "blessing"),
                         "model": (wiring.TRAINER, "model"), "model_run": (wiring.TRAINER, "model_run"),
                         "statistics": (wiring.STATISTICS_GEN, "statistics"),
                         "examples": (wiring.EXAMPLE_GEN, "examples")}
    component = spec["components"][task["componentRef"]["name"]]
    args = spec["deploymentSpec"]["executors"][component["executorLabel"]]["container"]["args"]
    executor_path = args[args.index("--executor_class_path") + 1]
    assert import_utils.import_class_by_path(executor_path) is EvaluationReport.EXECUTOR_SPEC.executor_class
    schema = component["outputDefinitions"]["artifacts"]["report"]["artifactType"]["instanceSchema"]
    title = yaml.safe_load(schema)["title"]
    assert import_utils.import_class_by_path(compiler_utils.TITLE_TO_CLASS_PATH[title]) is File


def test_report_command_refuses_a_folder_without_a_run(tmp_path, capsys):
    assert cli.main(["report", "--output", str(tmp_path)]) == 2
    assert "not found" in capsys.readouterr().err
    assert not (tmp_path / "metadata.sqlite").exists()


def test_model_card_names_the_models_parts(report):
    def architecture(preset: str) -> str:
        hyperparameters = dataclasses.asdict(PRESETS[preset])
        card = model_card.render(dataclasses.replace(report, training={**report.training,
                                                                       "hyperparameters": hyperparameters}))
        return next(line for line in card.splitlines() if line.startswith("- Architecture"))

    assert "the notebook's LSTM over the token ids read both ways; preset `improved`" in architecture("improved")
    assert "): a logistic regression over the TF-IDF of the words and word pairs; preset `linear`" in architecture("linear")
    assert ("a logistic regression over the TF-IDF of the words and word pairs, a small network over the article's "
            "style (`preprocessing/style.py`), a weight per author (`preprocessing/author.py`), their logits added; "
            "preset `wide-style`") in architecture("wide-style")
