"""Acceptance of the explain signature on the session's run (the default model, pushed by the
pipeline): faithfulness by the deletion test on the eval-split articles the model calls
unreliable, completeness there, and the evaluation report's words and figure."""

from __future__ import annotations

import json
import pathlib

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tfx.types import standard_artifacts

from components import attribution, signatures
from components.model import input_keys
from components.report import explanations, inputs, layout
from fakenews.commands import report as report_command
from pipeline import pipeline as dag
from preprocessing import features
from serving.explanations import strongest, word_shares
from tests import explain_checks
from tests.data import serialized_example

pytestmark = pytest.mark.e2e

_BATCH = 64


@pytest.fixture(scope="module")
def served(pipeline_run):
    assert pipeline_run.summary.pushed_path, "the session's run should push its model"
    return tf.saved_model.load(pipeline_run.summary.pushed_path)


@pytest.fixture(scope="module")
def eval_articles(pipeline_run) -> dict[str, list[str]]:
    """title, author, text of the eval split, read from the ExampleGen's artifact as the report reads them."""
    _, outputs = pipeline_run.latest_outputs()
    examples = standard_artifacts.Examples()
    examples.set_mlmd_artifact(outputs[dag.EXAMPLE_GEN]["examples"][0])  # ML Metadata's record, as TFX types it.
    return inputs.eval_articles(examples)


@pytest.fixture(scope="module")
def explained(served, eval_articles) -> dict[str, list]:
    found: dict[str, list] = {}
    for start in range(0, len(eval_articles["text"]), _BATCH):
        out = served.signatures[signatures.EXPLAIN](**{key: tf.constant(column[start:start + _BATCH])
                                                       for key, column in eval_articles.items()})
        for name, value in out.items():
            found.setdefault(name, []).extend(value.numpy())
    return found


def _transformed(transform_output: tft.TFTransformOutput, columns: dict[str, list[str]]) -> dict[str, tf.Tensor]:
    examples = [serialized_example(dict(zip(columns, values))) for values in zip(*columns.values())]
    raw_spec = {key: spec for key, spec in transform_output.raw_feature_spec().items() if key in features.TEXT_KEYS}
    return transform_output.transform_raw_features(tf.io.parse_example(tf.constant(examples), raw_spec))


def test_deleting_the_top_words_lowers_the_probability_more_than_deleting_random_ones(pipeline_run, served, explained,
                                                                                     eval_articles):
    chosen = [index for index, (label, tokens) in enumerate(zip(explained[signatures.PREDICTED_LABEL],
                                                                explained[signatures.TOKENS]))
              if label == 1 and sum(map(bool, tokens)) > explain_checks.DELETED]
    articles = [
        explain_checks.Explained(float(explained[signatures.PROBABILITY][index]), tuple(word for word, _ in words),
                                 tuple(s for _, s in words))
        for index in chosen
        for words in [word_shares([t.decode() for t in explained[signatures.TOKENS][index]],
                                  explained[signatures.ATTRIBUTIONS][index].tolist())]]
    assert len(articles) >= 30, f"only {len(articles)} eval articles called unreliable"
    _, outputs = pipeline_run.latest_outputs()
    transform_output = tft.TFTransformOutput(outputs[dag.TRANSFORM]["transform_graph"][0].uri)
    hyperparameters = pipeline_run.config.hyperparameters
    # The words' shares are of what they add to the article's style and author
    # (components/attribution.py): the texts cut from an article keep those, as the explanation's path does.
    chosen_articles = _transformed(transform_output, {key: [eval_articles[key][i] for i in chosen]
                                                      for key in features.TEXT_KEYS})
    held = {key: chosen_articles[key].numpy() for key in attribution.HELD_KEYS if key in input_keys(hyperparameters)}

    def score(texts: list[str], owners: list[int]) -> np.ndarray:
        empty = [""] * len(texts)
        transformed = _transformed(transform_output, {"title": empty, "author": empty, "text": texts})
        for key, values in held.items():
            transformed[key] = tf.constant(values[owners])
        inputs = [transformed[key] for key in input_keys(hyperparameters)]
        return served.model(inputs if len(inputs) > 1 else inputs[0], training=False).numpy().reshape(-1)

    outcomes = explain_checks.run(articles, score)
    # The deletions are of what the model read: the words joined again score as the article.
    np.testing.assert_allclose([o.full for o in outcomes], [a.probability for a in articles], atol=1e-5)
    assert explain_checks.top_beats_random(outcomes) >= explain_checks.FAITHFUL


def test_the_eval_articles_shares_add_up_to_their_change_from_the_baseline(explained):
    totals = np.array([shares.sum() for shares in explained[signatures.ATTRIBUTIONS]])
    assert explain_checks.complete(explained[signatures.PROBABILITY], explained[signatures.BASELINE_PROBABILITY],
                                   totals).all()


@pytest.fixture(scope="module")
def report_dir(pipeline_run) -> pathlib.Path:
    return pathlib.Path(report_command.report_folder(pipeline_run.folder.metadata_path,
                                                     pipeline_run.config.pipeline_name))


def test_the_report_lists_the_words_that_most_often_pushed_each_way(report_dir, explained):
    saved = json.loads((report_dir / layout.REPORT_JSON).read_text())["explanations"]
    chosen = explanations.sample(len(explained[signatures.PROBABILITY]))  # The report's sample of the split.
    assert saved["articles"] == len(chosen) == min(len(explained[signatures.PROBABILITY]), explanations.EXPLAINED_ARTICLES)
    unreliable = saved["toward"]["unreliable"]
    assert len(unreliable) == explanations.LISTED and all(count["mean_share"] > 0 for count in unreliable)
    assert all(count["mean_share"] < 0 for count in saved["toward"]["reliable"])
    # Recounted from the served signature's outputs: the first word is among that many articles' top words.
    top_word = unreliable[0]
    tops = [
        {word for word, _ in strongest(word_shares([t.decode() for t in tokens], shares.tolist()),
                                       explanations.PER_ARTICLE, True)}
        for tokens, shares in ((explained[signatures.TOKENS][i], explained[signatures.ATTRIBUTIONS][i]) for i in chosen)]
    assert sum(top_word["word"] in words for words in tops) == top_word["articles"]
    assert "Words that most often pushed eval articles each way" in (report_dir / layout.REPORT_TXT).read_text()


def test_the_report_shows_one_article_coloured_by_its_shares(report_dir):
    page = (report_dir / layout.EXPLANATION_HTML).read_text()
    assert page.startswith("<!DOCTYPE html>")
    words = page.split('<p class="words">')[1].split("</p>")[0]
    assert 0 < words.count("<span") <= explanations.FIGURE_MAX_WORDS
