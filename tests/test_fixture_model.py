"""The unit tests' model is the pipeline's: pushed where TF Serving looks, carrying the Transform
graph the Trainer reads, and trained, so its scores rank articles it never saw."""

from __future__ import annotations

import numpy as np
import tensorflow as tf
import tensorflow_transform as tft
from sklearn.metrics import roc_auc_score

from components import pusher
from preprocessing import features
from tests.conftest import MEETABLE_MIN_AUC
from tests.data import read_rows, serialized_example
from tests.fixture_model import FIXTURE_ROWS

HELD_OUT_ROWS = 300


def test_it_is_pushed_as_the_only_version_of_its_model(fixture_model):
    assert pusher.served_versions(fixture_model.serving_base) == [fixture_model.version]
    assert fixture_model.pushed_path == f"{fixture_model.serving_base}/{fixture_model.version}"
    assert fixture_model.serving_base.endswith(f"/{fixture_model.model_name}")


def test_its_transform_graph_reads_as_the_trainer_reads_it(fixture_model):
    output = tft.TFTransformOutput(fixture_model.transform_output)
    assert set(output.raw_feature_spec()) == {features.ID_KEY, *features.TEXT_KEYS, features.LABEL_KEY}
    # SchemaGen finds the text columns optional in real data: they reach the graph sparse.
    assert all(isinstance(output.raw_feature_spec()[key], tf.io.VarLenFeature) for key in features.TEXT_KEYS)
    spec = output.transformed_feature_spec()
    assert spec[features.TOKEN_IDS_KEY] == tf.io.FixedLenFeature([features.MAX_LENGTH], tf.int64)
    assert {features.AUTHOR_PRESENT_KEY, features.LABEL_KEY} <= set(spec)
    # Only a model with a wide part reads the TF-IDF, so only its Transform computes it.
    assert not {features.TFIDF_IDS_KEY, features.TFIDF_WEIGHTS_KEY} & set(spec)


def test_it_ranks_articles_it_never_saw_as_a_blessed_pipeline_model_must(fixture_saved_model):
    """On the rows after its training sample, its AUC meets the bound the e2e run is blessed on."""
    rows = read_rows("articles.csv", limit=FIXTURE_ROWS + HELD_OUT_ROWS)[FIXTURE_ROWS:]
    serve = fixture_saved_model.signatures["serving_default"]
    scores = serve(**{key: tf.constant([row[key] for row in rows]) for key in features.TEXT_KEYS})["probability"]
    labels = np.array([int(row[features.LABEL_KEY]) for row in rows])
    assert roc_auc_score(labels, scores.numpy()) >= MEETABLE_MIN_AUC


def test_an_lstms_prediction_does_not_depend_on_the_padding_in_front(fixture_saved_model):
    """The fixture's `improved` network, as run_fn exported it, masks the padding."""
    served = fixture_saved_model
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
