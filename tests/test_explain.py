"""The `explain` signature (components/signatures.py, components/attribution.py) on real articles.

The words it returns are the reference cleaning's before stemming, truncation included, and
the very words whose ids the model read; its served outputs are serving_default's; integrated
gradients are complete. Run on the fixture model (pushed, called as TF Serving would call it)
and, for the other truncation side, on a model exported with a Transform graph traced with
truncating="post".
"""

from __future__ import annotations

import functools
import os

import numpy as np
import pytest
import tensorflow as tf
import tensorflow_transform as tft
from tensorflow_transform import impl_helper
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils

from components import attribution, signatures
from components.fused import fuse
from components.hyperparameters import hyperparameters_for
from components.model import build_model, serving_model
from preprocessing import features, porter, text
from preprocessing.transform import TRUNCATING, preprocessing_fn
from serving import explanations
from tests import explain_checks, reference
from tests.data import read_rows, serialized_example

TEXT_SPECS = {key: tf.TensorSpec([None], tf.string, name=key) for key in features.TEXT_KEYS}
ARTICLES = 100
SOURCE_ROWS = 1_000  # The ARTICLES: every one of these rows longer than MAX_LENGTH words, then the first rows.
BATCH = 50


def _words(row: dict[str, str]) -> list[str]:
    return reference.clean(reference.join_fields(*(row[key] for key in features.TEXT_KEYS)), stem=False)


@pytest.fixture(scope="module")
def model(fixture_saved_model):
    return fixture_saved_model


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    """ARTICLES real articles, the long ones (which the model reads truncated) first."""
    source = read_rows("articles.csv", limit=SOURCE_ROWS)
    long = [row for row in source if len(_words(row)) > features.MAX_LENGTH]
    return (long + [row for row in source if row not in long])[:ARTICLES]


def _explain(explain, rows: list[dict[str, str]]) -> dict[str, np.ndarray]:
    """`explain`'s outputs (the signature, or the function export saves as it) over `rows` in batches."""
    found: dict[str, list] = {}
    for start in range(0, len(rows), BATCH):
        batch = rows[start:start + BATCH]
        out = explain(**{key: tf.constant([row[key] for row in batch]) for key in features.TEXT_KEYS})
        for name, value in out.items():
            found.setdefault(name, []).extend(value.numpy())
    return {name: values for name, values in found.items()}


@pytest.fixture(scope="module")
def explained(model, rows) -> dict[str, list]:
    return _explain(model.signatures[signatures.EXPLAIN], rows)


def _token_ids(transform_features, rows: list[dict[str, str]]) -> np.ndarray:
    examples = tf.constant([serialized_example(row) for row in rows])
    return transform_features(examples=examples)[features.TOKEN_IDS_KEY].numpy()


def _read_words(tokens: np.ndarray) -> list[str]:
    return [token.decode() for token in tokens if token]


def _ids_of(documents: list[list[str]]) -> list[np.ndarray]:
    """The ids the pipeline's graph gives each document's words: stemmed, then hashed (all
    documents in one call: run eagerly, the stemmer costs about as much for one word as for
    thousands)."""
    stems = porter.stem(tf.constant([word for words in documents for word in words], tf.string))
    ids = text.hash_tokens(tf.RaggedTensor.from_row_lengths(stems, [len(words) for words in documents]))
    return [row.numpy() for row in ids]


def test_it_takes_raw_strings_and_returns_the_served_outputs_words_and_shares(model):
    signature = model.signatures[signatures.EXPLAIN]
    assert signature.structured_input_signature == ((), TEXT_SPECS)
    assert signature.structured_outputs == {
        signatures.PROBABILITY: tf.TensorSpec([None], tf.float32, name=signatures.PROBABILITY),
        signatures.PREDICTED_LABEL: tf.TensorSpec([None], tf.int64, name=signatures.PREDICTED_LABEL),
        signatures.TOKEN_COUNT: tf.TensorSpec([None], tf.int64, name=signatures.TOKEN_COUNT),
        signatures.TOKENS: tf.TensorSpec([None, None], tf.string, name=signatures.TOKENS),
        signatures.ATTRIBUTIONS: tf.TensorSpec([None, None], tf.float32, name=signatures.ATTRIBUTIONS),
        signatures.BASELINE_PROBABILITY: tf.TensorSpec([None], tf.float32, name=signatures.BASELINE_PROBABILITY),
    }


def test_the_clients_name_the_signature_and_outputs_as_the_model_does():
    assert (explanations.EXPLAIN_SIGNATURE, explanations.TOKENS, explanations.ATTRIBUTIONS) == (
        signatures.EXPLAIN, signatures.TOKENS, signatures.ATTRIBUTIONS)


def test_probability_label_and_token_count_are_serving_defaults(model, rows, explained):
    served = model.signatures["serving_default"](**{key: tf.constant([row[key] for row in rows[:BATCH]])
                                                    for key in features.TEXT_KEYS})
    # The same network on the same ids, in a batch with the path's points: equal to float rounding,
    # as TF Serving's request batching leaves serving_default's own answers.
    np.testing.assert_allclose(explained[signatures.PROBABILITY][:BATCH], served[signatures.PROBABILITY].numpy(),
                               rtol=0, atol=1e-6)
    np.testing.assert_array_equal(explained[signatures.TOKEN_COUNT][:BATCH], served[signatures.TOKEN_COUNT].numpy())
    np.testing.assert_array_equal(explained[signatures.PREDICTED_LABEL][:BATCH], served[signatures.PREDICTED_LABEL].numpy())


def test_tokens_are_the_reference_words_before_stemming_truncation_included(rows, explained):
    truncated = 0
    for row, tokens in zip(rows, explained[signatures.TOKENS]):
        words = _words(row)
        truncated += len(words) > features.MAX_LENGTH
        assert _read_words(tokens) == words[-features.MAX_LENGTH:]  # The pipeline truncates "pre".
    assert truncated >= 10, "the articles should include long ones, which the model reads truncated"


def test_each_token_is_the_word_whose_id_the_model_read_at_its_place(model, rows, explained):
    token_ids = _token_ids(model.signatures["transform_features"], rows)
    hashed = _ids_of([_read_words(tokens) for tokens in explained[signatures.TOKENS]])
    for hashed_words, ids, count in zip(hashed, token_ids, explained[signatures.TOKEN_COUNT]):
        assert len(hashed_words) == count
        np.testing.assert_array_equal(hashed_words, ids[ids != features.PAD_ID])


def test_padding_is_an_empty_token_with_no_share(explained):
    for tokens, shares, count in zip(explained[signatures.TOKENS], explained[signatures.ATTRIBUTIONS],
                                     explained[signatures.TOKEN_COUNT]):
        assert all(tokens[:count]) and not any(tokens[count:])
        assert not shares[count:].any()


def test_integrated_gradients_add_up_to_the_change_from_the_baseline(explained):
    assert signatures.EXPLAIN_RULE is attribution.INTEGRATED_GRADIENTS
    assert len(attribution.INTEGRATED_GRADIENTS.points) >= 16
    probability, baseline = explained[signatures.PROBABILITY], explained[signatures.BASELINE_PROBABILITY]
    totals = np.array([shares.sum() for shares in explained[signatures.ATTRIBUTIONS]])
    complete = explain_checks.complete(probability, baseline, totals)
    relative, absolute = explain_checks.completeness_errors(probability, baseline, totals)
    assert complete.all(), (f"{np.sum(~complete)} of {len(complete)} articles miss: largest relative error "
                            f"{relative.max(initial=0):.4f}, largest absolute error on a small change "
                            f"{absolute.max(initial=0):.5f}")


def test_an_article_of_no_words_has_no_tokens_and_a_document_alone_explains_as_in_a_batch(model, rows):
    out = model.signatures[signatures.EXPLAIN](title=tf.constant(["", rows[1]["title"]]),
                                               author=tf.constant(["", rows[1]["author"]]),
                                               text=tf.constant(["这是中文。", rows[1]["text"]]))
    assert out[signatures.TOKEN_COUNT].numpy()[0] == 0 and not any(out[signatures.TOKENS].numpy()[0])
    alone = model.signatures[signatures.EXPLAIN](**{key: tf.constant([rows[1][key]]) for key in features.TEXT_KEYS})
    count = int(alone[signatures.TOKEN_COUNT].numpy()[0])
    np.testing.assert_allclose(out[signatures.ATTRIBUTIONS].numpy()[1][:count],
                               alone[signatures.ATTRIBUTIONS].numpy()[0][:count], rtol=0, atol=1e-6)


def _post_transform_graph(fixture_model, output: str) -> tft.TFTransformOutput:
    """The fixture's Transform graph traced again with truncating="post" (as tf.Transform's
    in-place analysis writes it, the fixture model's Transform step)."""
    schema = tft.TFTransformOutput(fixture_model.transform_output).raw_metadata.schema
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(schema),
                               os.path.join(output, tft.TFTransformOutput.RAW_METADATA_DIR))
    feature_specs = schema_utils.schema_as_feature_spec(schema).feature_spec
    impl_helper.analyze_in_place(
        functools.partial(preprocessing_fn, custom_config={TRUNCATING: "post"}), force_tf_compat_v1=False,
        feature_specs=feature_specs, type_specs=impl_helper.get_type_specs_from_feature_specs(feature_specs),
        transform_output_path=output)
    return tft.TFTransformOutput(output)


def test_a_model_whose_transform_keeps_the_first_words_explains_the_first_words(fixture_model, tmp_path, rows):
    """truncating="post": the explain signature reads the side from the Transform graph.

    Called as the ServingModule's functions that `signatures.export` saves, without the save:
    the round trip through a SavedModel is the fixture model's, tested above. The words are the
    point, so the network is a small one (one copy, 4 units), fused as the default's is."""
    hparams = hyperparameters_for("improved", epochs=1, ensemble_size=1, embedding_dim=4, lstm_units=4,
                                  dense_units=(4,))
    post = signatures.ServingModule(fuse(build_model(hparams), hparams),
                                    _post_transform_graph(fixture_model, str(tmp_path / "tg")), 0.5, trim_padding=True)
    long_rows = [row for row in rows if len(_words(row)) > features.MAX_LENGTH][:4] + rows[-2:]
    out = post.explain(**{key: tf.constant([row[key] for row in long_rows]) for key in features.TEXT_KEYS})
    token_ids = _token_ids(post.transform_features, long_rows)
    words = [_read_words(tokens) for tokens in out[signatures.TOKENS].numpy()]
    for row, row_words, hashed, ids in zip(long_rows, words, _ids_of(words), token_ids):
        assert row_words == _words(row)[:features.MAX_LENGTH]
        np.testing.assert_array_equal(hashed, ids[ids != features.PAD_ID])


def test_the_notebooks_network_unmasked_and_unfused_explains_too(fixture_model, rows):
    """Every exported model has the signature: here the notebook's layers (small), which read
    all 500 steps, padding included; the padding sits at the baseline, so it gets no share.
    (The ServingModule's explain function, unsaved, as in the test above.)"""
    hparams = hyperparameters_for("notebook", embedding_dim=4, lstm_units=3, dense_units=(4,), epochs=1)
    notebook = signatures.ServingModule(serving_model(build_model(hparams)),
                                        tft.TFTransformOutput(fixture_model.transform_output), 0.5, trim_padding=False)
    chosen = rows[-3:]
    out = _explain(notebook.explain, chosen)
    for row, tokens in zip(chosen, out[signatures.TOKENS]):
        assert _read_words(tokens) == _words(row)[-features.MAX_LENGTH:]
    totals = np.array([shares.sum() for shares in out[signatures.ATTRIBUTIONS]])
    assert explain_checks.complete(out[signatures.PROBABILITY], out[signatures.BASELINE_PROBABILITY], totals).all()
