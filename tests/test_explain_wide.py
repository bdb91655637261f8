"""The `explain` signature of models with a linear (wide) part: the `linear`, `wide-deep` and
`wide-style` presets.

Each is trained briefly on the fixture model's articles through a wide model's Transform graph
(tests/fixture_model.py's TfidfGraph: the TF-IDF's analysis runs on Beam, so these tests are
e2e) with components.trainer.train, as the pipeline trains it, and exported with that graph
(components.signatures), so the words, the TF-IDF and the weights are real. The linear model's attributions are checked
against weight x TF-IDF value worked out here in Python from the Transform graph's TF-IDF and
the reference cleaning's stems: a term's value split evenly over its occurrences and the words
they cover, scaled by the sigmoid's mean slope along the path, which for a linear model is
exactly (probability - baseline) / (logit - bias).
"""

from __future__ import annotations

import collections

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
import tf_keras as keras

from components import signatures, trainer
from components.hyperparameters import hyperparameters_for
from components.model import AUTHOR_WEIGHTS, STYLE_LOGIT, WIDE
from preprocessing import features
from preprocessing.tfidf import NGRAM_SEPARATOR
from tests import explain_checks, reference
from tests.data import read_rows, serialized_example
from tests.fixture_model import FIXTURE_ROWS
from tests.tfidf_values import graph_tfidf, vocabulary

pytestmark = pytest.mark.e2e  # The TF-IDF's analysis (tfidf_graph) runs on Beam.

ARTICLES = 24
SMALL = dict(embedding_dim=8, lstm_units=4, dense_units=(4,))
# Brief training: weights that rank real articles, in seconds. wide-deep's joint fit skips the
# residual stage's separate fit of the wide part; the exported network is the same.
PRESETS = {
    "linear": hyperparameters_for("linear", epochs=3),
    "wide-deep": hyperparameters_for("wide-deep", epochs=1, joining="joint", **SMALL),
    "wide-style": hyperparameters_for("wide-style", epochs=3),
}


def _words(row: dict[str, str], stem: bool) -> list[str]:
    """The words the model reads (the pipeline truncates "pre", keeping the last MAX_LENGTH)."""
    words = reference.clean(reference.join_fields(*(row[key] for key in features.TEXT_KEYS)), stem=stem)
    return words[-features.MAX_LENGTH:]


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    """Held-out articles (not analyzed, not trained on), long ones (read truncated) first."""
    source = read_rows("articles.csv", limit=FIXTURE_ROWS + 1_000)[FIXTURE_ROWS:]
    long = [row for row in source if len(_words(row, stem=False)) == features.MAX_LENGTH]
    return (long[:ARTICLES // 3] + [row for row in source if row not in long])[:ARTICLES]


@pytest.fixture(scope="module")
def transform_output(tfidf_graph) -> tft.TFTransformOutput:
    return tft.TFTransformOutput(tfidf_graph.transform_output)


@pytest.fixture(scope="module")
def exported(tfidf_graph, transform_output, tmp_path_factory):
    """{preset: (the trained serving network, the loaded SavedModel)}."""
    models = {}
    for preset, hparams in PRESETS.items():
        examples = trainer.read_examples([tfidf_graph.transformed_examples], transform_output)
        result = trainer.train(hparams, examples, verbose=0)
        path = str(tmp_path_factory.mktemp(preset) / "model")
        signatures.export(result.model, transform_output, result.threshold, path, trim_padding=hparams.mask_padding)
        models[preset] = (result.model, tf.saved_model.load(path))
    return models


def _strings(rows: list[dict[str, str]]) -> dict[str, tf.Tensor]:
    return {key: tf.constant([row[key] for row in rows]) for key in features.TEXT_KEYS}


def _explain(loaded, rows: list[dict[str, str]]) -> dict[str, np.ndarray]:
    return {name: value.numpy() for name, value in loaded.signatures[signatures.EXPLAIN](**_strings(rows)).items()}


@pytest.mark.parametrize("preset", list(PRESETS))
def test_every_signature_is_exported_and_explain_serves_serving_defaults_probability(exported, rows, preset):
    _, loaded = exported[preset]
    assert set(loaded.signatures) == {"serving_default", "predict_examples", "transform_features", signatures.EXPLAIN}
    out = _explain(loaded, rows)
    served = loaded.signatures["serving_default"](**_strings(rows))
    # The wide logit rebuilt from each word's part: the same number as the model's own.
    np.testing.assert_allclose(out[signatures.PROBABILITY], served[signatures.PROBABILITY].numpy(), rtol=0, atol=1e-5)
    np.testing.assert_array_equal(out[signatures.TOKEN_COUNT], served[signatures.TOKEN_COUNT].numpy())
    for row, tokens, count in zip(rows, out[signatures.TOKENS], out[signatures.TOKEN_COUNT]):
        assert [token.decode() for token in tokens[:count]] == _words(row, stem=False)
        assert not any(tokens[count:])


@pytest.mark.parametrize("preset", list(PRESETS))
def test_integrated_gradients_add_up_to_the_change_from_the_baseline(exported, rows, preset):
    _, loaded = exported[preset]
    out = _explain(loaded, rows)
    probability, baseline = out[signatures.PROBABILITY], out[signatures.BASELINE_PROBABILITY]
    totals = out[signatures.ATTRIBUTIONS].sum(axis=1)
    relative, absolute = explain_checks.completeness_errors(probability, baseline, totals)
    assert explain_checks.complete(probability, baseline, totals).all(), (
        f"largest relative error {relative.max(initial=0):.4f}, absolute {absolute.max(initial=0):.5f}")
    assert np.abs(probability - baseline).max() > 0.05  # The weights do move the probability.


def _word_logits(stems: list[str], tfidf: dict[str, float], kernel: dict[str, float]) -> np.ndarray:
    """Each word's part of the linear logit: a term's weight x TF-IDF split evenly over its
    occurrences, and an occurrence's over the words it covers."""
    occurrences = [(start, width, NGRAM_SEPARATOR.join(stems[start:start + width]))
                   for width in range(1, features.TFIDF_NGRAM_WIDTH + 1) for start in range(len(stems) - width + 1)]
    counts = collections.Counter(term for _, _, term in occurrences)
    parts = np.zeros(len(stems))
    for start, width, term in occurrences:
        if term in tfidf:
            parts[start:start + width] += kernel[term] * tfidf[term] / (counts[term] * width)
    return parts


def test_a_linear_models_words_get_their_weight_times_tfidf(exported, transform_output, rows):
    network, loaded = exported["linear"]
    layer = network.get_layer(WIDE)
    kernel_in_use, bias = (value * layer.step_scale for value in layer.get_weights())
    kernel = dict(zip(vocabulary(transform_output), kernel_in_use))
    out = _explain(loaded, rows)
    for row, tfidf, shares, probability, baseline, count in zip(
            rows, graph_tfidf(transform_output, rows), out[signatures.ATTRIBUTIONS], out[signatures.PROBABILITY],
            out[signatures.BASELINE_PROBABILITY], out[signatures.TOKEN_COUNT]):
        parts = _word_logits(_words(row, stem=True), tfidf, kernel)
        assert len(parts) == count
        logit = parts.sum()
        assert probability == pytest.approx(1 / (1 + np.exp(-(bias[0] + logit))), abs=1e-5)
        assert baseline == pytest.approx(1 / (1 + np.exp(-bias[0])), abs=1e-6)
        # Integrated gradients of sigmoid(bias + sum of parts): each part times the mean slope.
        expected = parts * (probability - baseline) / logit
        np.testing.assert_allclose(shares[:count], expected, rtol=0, atol=1e-6 + 1e-3 * np.abs(expected).max())
        assert not shares[count:].any()
        # So the words rank by attribution as by weight x TF-IDF (ties aside).
        by_share = parts[np.argsort(-shares[:count], kind="stable")]
        assert np.all(np.diff(by_share) <= 1e-5 * np.abs(parts).max())

def test_an_article_without_known_words_explains_as_the_bias_alone(exported, rows):
    _, loaded = exported["linear"]
    out = loaded.signatures[signatures.EXPLAIN](title=tf.constant(["", rows[0]["title"]]),
                                                author=tf.constant(["", rows[0]["author"]]),
                                                text=tf.constant(["这是中文。", rows[0]["text"]]))
    assert out[signatures.TOKEN_COUNT].numpy()[0] == 0 and not out[signatures.ATTRIBUTIONS].numpy()[0].any()
    assert out[signatures.PROBABILITY].numpy()[0] == pytest.approx(out[signatures.BASELINE_PROBABILITY].numpy()[0])
    alone = _explain(loaded, rows[:1])
    np.testing.assert_allclose(out[signatures.ATTRIBUTIONS].numpy()[1], alone[signatures.ATTRIBUTIONS][0],
                               rtol=0, atol=1e-7)


def test_with_the_first_words_kept_the_wide_part_reads_the_words_explain_names(exported, tfidf_post_graph,
                                                                              tmp_path, rows):
    """truncating="post": the TF-IDF, and so each word's part, is of a long article's first words."""
    network, _ = exported["linear"]
    path = str(tmp_path / "post_linear")
    signatures.export(network, tft.TFTransformOutput(tfidf_post_graph.transform_output), 0.5, path)
    post = tf.saved_model.load(path)
    long = [row for row in rows if len(_words(row, stem=False)) == features.MAX_LENGTH]
    out = _explain(post, long)
    served = post.signatures["serving_default"](**_strings(long))[signatures.PROBABILITY].numpy()
    np.testing.assert_allclose(out[signatures.PROBABILITY], served, rtol=0, atol=1e-5)
    for row, tokens in zip(long, out[signatures.TOKENS]):
        everything = reference.clean(reference.join_fields(*(row[key] for key in features.TEXT_KEYS)), stem=False)
        assert [token.decode() for token in tokens] == everything[:features.MAX_LENGTH]
    totals = out[signatures.ATTRIBUTIONS].sum(axis=1)
    assert explain_checks.complete(out[signatures.PROBABILITY], out[signatures.BASELINE_PROBABILITY], totals).all()


def test_the_style_and_author_parts_keep_the_documents_own_at_the_baseline(exported, rows):
    """The baseline is "no words, this style, this author": sigmoid(the wide part's bias + the
    style part's logit of the document's own style + its author's weight), so the words' shares
    are what they add to those."""
    network, loaded = exported["wide-style"]
    out = _explain(loaded, rows)
    transformed = loaded.signatures["transform_features"](examples=tf.constant([serialized_example(row) for row in rows]))
    style = transformed[features.STYLE_KEY]
    style_logit = keras.Model(network.get_layer(features.STYLE_KEY).output,
                                 network.get_layer(STYLE_LOGIT).output)(style).numpy().reshape(-1)
    author_weight = network.get_layer(AUTHOR_WEIGHTS).get_weights()[0][transformed[features.AUTHOR_ID_KEY].numpy(), 0]
    wide = network.get_layer(WIDE)
    bias = wide.get_weights()[1][0] * wide.step_scale
    np.testing.assert_allclose(out[signatures.BASELINE_PROBABILITY],
                               1 / (1 + np.exp(-(bias + style_logit + author_weight))),
                               rtol=0, atol=1e-5)
    assert np.ptp(out[signatures.BASELINE_PROBABILITY]) > 0.01  # The style differs from article to article.
