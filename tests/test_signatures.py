"""The pushed SavedModel's signatures, called in process: the contract TF Serving relies on.

serving_default takes raw title/author/text strings and does all preprocessing in the graph;
predict_examples does the same from serialized tf.Examples (TFMA); both return the probability,
the label and how many tokens the model read. transform_features gives the Transform layer's
output (TFMA slicing). explain has its own tests (test_explain.py).
"""

from __future__ import annotations

import os

import numpy as np
import pytest
import tensorflow as tf
from tensorflow.core.protobuf import saved_model_pb2

from preprocessing import features
from serving.version_folders import list_versions
from tests.data import read_rows

TEXT_SPECS = {key: tf.TensorSpec([None], tf.string, name=key) for key in features.TEXT_KEYS}
# Ops that call back into Python: TF Serving has no Python to run them.
PYTHON_OPS = {"PyFunc", "PyFuncStateless", "EagerPyFunc"}


@pytest.fixture(scope="module")
def model_dir(fixture_model) -> str:
    versions = list_versions(fixture_model.serving_base)
    assert versions, f"nothing pushed to {fixture_model.serving_base}"
    return versions[max(versions)]


@pytest.fixture(scope="module")
def model(fixture_model, fixture_saved_model, model_dir):
    assert model_dir == fixture_model.pushed_path  # The fixture's only version.
    return fixture_saved_model


@pytest.fixture(scope="module")
def rows() -> list[dict[str, str]]:
    return read_rows("articles.csv", limit=16)


def _strings(rows: list[dict[str, str]]) -> dict[str, tf.Tensor]:
    return {key: tf.constant([row[key] for row in rows]) for key in features.TEXT_KEYS}


def _example(row: dict[str, str]) -> bytes:
    feature = {key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[row[key].encode()]))
               for key in (features.ID_KEY, *features.TEXT_KEYS)}
    return tf.train.Example(features=tf.train.Features(feature=feature)).SerializeToString()


def test_serving_default_takes_raw_strings_and_returns_probability_label_and_token_count(model):
    signature = model.signatures["serving_default"]
    assert signature.structured_input_signature == ((), TEXT_SPECS)
    assert signature.structured_outputs == {
        "probability": tf.TensorSpec([None], tf.float32, name="probability"),
        "label": tf.TensorSpec([None], tf.int64, name="label"),
        "token_count": tf.TensorSpec([None], tf.int64, name="token_count"),
    }


def test_the_other_signatures_take_serialized_examples(model):
    examples = ((), {"examples": tf.TensorSpec([None], tf.string, name="examples")})
    assert model.signatures["predict_examples"].structured_input_signature == examples
    assert set(model.signatures["predict_examples"].structured_outputs) == {"probability", "label", "token_count"}
    assert model.signatures["transform_features"].structured_input_signature == examples


def test_scores_are_probabilities_and_labels_their_threshold(model, rows):
    outputs = model.signatures["serving_default"](**_strings(rows))
    probability, label = outputs["probability"].numpy(), outputs["label"].numpy()
    assert probability.shape == label.shape == (len(rows),)
    assert ((probability >= 0) & (probability <= 1)).all() and set(label) <= {0, 1}
    # One threshold separates the labels, whatever its value.
    if 0 in label and 1 in label:
        assert probability[label == 0].max() < probability[label == 1].min()


def test_empty_strings_are_a_valid_article(model):
    empty = {key: tf.constant(["", ""]) for key in features.TEXT_KEYS}
    probability = model.signatures["serving_default"](**empty)["probability"].numpy()
    assert probability.shape == (2,) and np.isfinite(probability).all()
    assert probability[0] == probability[1]


def test_token_count_is_what_the_model_read_and_zero_without_a_z_words(model, rows):
    """A document in another script is scored like an empty one: token_count 0 says so."""
    foreign = {"title": "Новости дня", "author": "Иван Петров", "text": "这是一篇中文文章。Это статья на русском."}
    batch = [*rows, foreign, {"title": "", "author": "", "text": ""}]
    outputs = model.signatures["serving_default"](**_strings(batch))
    token_ids = model.signatures["transform_features"](
        examples=tf.constant([_example({**row, "id": "0"}) for row in batch]))[features.TOKEN_IDS_KEY].numpy()
    counts = outputs["token_count"].numpy()
    np.testing.assert_array_equal(counts, (token_ids != features.PAD_ID).sum(axis=1))
    assert counts[-2] == counts[-1] == 0 and (counts[:-2] > 0).all()
    assert counts.max() <= features.MAX_LENGTH  # Counted after truncation.
    assert outputs["probability"].numpy()[-2] == outputs["probability"].numpy()[-1]  # Nothing read, same score.
    long_article = {"title": "", "author": "", "text": " ".join(["election"] * (features.MAX_LENGTH + 100))}
    assert model.signatures["serving_default"](**_strings([long_article]))["token_count"].numpy()[0] == features.MAX_LENGTH


def test_a_row_scores_the_same_alone_and_in_a_batch(model, rows):
    """TF Serving's batching merges requests; a row's score must not depend on its batch."""
    signature = model.signatures["serving_default"]
    batched = signature(**_strings(rows))["probability"].numpy()
    alone = [signature(**_strings([row]))["probability"].numpy()[0] for row in rows[:4]]
    np.testing.assert_allclose(alone, batched[:4], atol=1e-6)


def test_predict_examples_scores_as_serving_default(model, rows):
    from_strings = model.signatures["serving_default"](**_strings(rows))
    from_examples = model.signatures["predict_examples"](examples=tf.constant([_example(row) for row in rows]))
    np.testing.assert_allclose(from_examples["probability"].numpy(), from_strings["probability"].numpy(), atol=1e-6)
    np.testing.assert_array_equal(from_examples["label"].numpy(), from_strings["label"].numpy())
    np.testing.assert_array_equal(from_examples["token_count"].numpy(), from_strings["token_count"].numpy())


def test_transform_features_gives_the_models_input_and_the_slice(model, rows):
    outputs = model.signatures["transform_features"](examples=tf.constant([_example(row) for row in rows]))
    token_ids = outputs[features.TOKEN_IDS_KEY].numpy()
    assert token_ids.shape == (len(rows), features.MAX_LENGTH) and token_ids.dtype == np.int64
    assert ((token_ids >= 0) & (token_ids < features.VOCAB_SIZE)).all()
    np.testing.assert_array_equal(outputs[features.AUTHOR_PRESENT_KEY].numpy(),
                                  [int(bool(row["author"].strip())) for row in rows])


def _saved_model(model_dir: str) -> saved_model_pb2.SavedModel:
    saved_model = saved_model_pb2.SavedModel()
    with open(os.path.join(model_dir, "saved_model.pb"), "rb") as f:
        saved_model.ParseFromString(f.read())
    return saved_model


def test_all_preprocessing_is_in_the_graph(model_dir):
    """No op calls back into Python, so TF Serving (C++ only) can run every signature."""
    [graph] = _saved_model(model_dir).meta_graphs
    ops = {node.op for node in graph.graph_def.node}
    ops |= {node.op for function in graph.graph_def.library.function for node in function.node_def}
    assert not ops & PYTHON_OPS
    # The text cleaning is there, as graph ops.
    assert ops & {"StaticRegexReplace", "RegexReplace"} and ops & {"StringSplitV2", "UnicodeDecodeWithOffsets"}


def test_signatures_use_tf_servings_predict_method(model_dir):
    [graph] = _saved_model(model_dir).meta_graphs
    assert list(graph.meta_info_def.tags) == [tf.saved_model.SERVING]
    for name in ("serving_default", "predict_examples", "transform_features", "explain"):
        assert graph.signature_def[name].method_name == tf.saved_model.PREDICT_METHOD_NAME
