"""The network and its training helpers, on small inputs: ensemble views, masking, word
dropout, class weights and the threshold search."""

from __future__ import annotations

import numpy as np
import pytest
import tensorflow as tf
import tf_keras as keras

from components import trainer
from components.fused import GroupedLSTM, can_fuse, fuse
from components.model import (AUTHOR_WEIGHTS, LOG_LOSS, LSTM, STYLE_LOGIT, WIDE, build_model, input_keys, lstm_columns, parameter_count,
                              serving_model)
from components.hyperparameters import PRESETS, Hyperparameters, hyperparameters_for, wide_part_alone
from preprocessing import features, porter, style, text
from preprocessing.transform import preprocessing_fn

SMALL = dict(embedding_dim=8, lstm_units=4, dense_units=(4,))


def _padded(rng: np.random.Generator, lengths: list[int], width: int) -> np.ndarray:
    ids = np.zeros((len(lengths), width), dtype=np.int64)
    for row, length in enumerate(lengths):
        ids[row, width - length:] = rng.integers(1, features.VOCAB_SIZE, size=length)
    return ids


def test_the_served_ensemble_outputs_the_mean_of_its_members():
    hparams = hyperparameters_for("improved", ensemble_size=3, **SMALL)
    model = build_model(hparams)
    ids = tf.constant(_padded(np.random.default_rng(0), [5, 9, 2], 9))
    members = model(ids, training=False).numpy()
    assert members.shape == (3, 3)
    # Each member draws its own initial weights, so their outputs differ…
    assert np.ptp(members, axis=1).min() > 1e-6
    # …in every layer, not only the embedding.
    kernel = model.get_layer(LSTM).forward_layer.cell.kernel.numpy()
    blocks = [kernel[m * 8:(m + 1) * 8][:, columns] for m, columns in enumerate(lstm_columns(4, 3))]
    assert not np.allclose(blocks[0], blocks[1]) and not np.allclose(blocks[1], blocks[2])
    served = serving_model(model).predict_on_batch(ids)
    np.testing.assert_allclose(served, members.mean(axis=1, keepdims=True), rtol=1e-6)


def test_the_training_loss_is_the_mean_of_the_members_losses():
    hparams = hyperparameters_for("improved", ensemble_size=2, **SMALL)
    model = build_model(hparams)
    ids = tf.constant(_padded(np.random.default_rng(1), [4, 7, 3, 6], 7))
    labels = np.array([1, 0, 0, 1])
    members = model(ids, training=False).numpy()
    bce = keras.losses.binary_crossentropy
    expected = np.mean([np.mean(bce(labels[:, None], members[:, [m]]).numpy()) for m in range(2)])
    assert model.evaluate(ids, labels, verbose=0)[0] == pytest.approx(expected, rel=1e-5)


def _copy_output(model: keras.Model, ids: tf.Tensor, copy: int) -> np.ndarray:
    return model(ids, training=False).numpy()[:, copy]


def test_copies_stay_independent_through_training():
    hparams = hyperparameters_for("improved", ensemble_size=3, **SMALL)
    model = build_model(hparams)
    rng = np.random.default_rng(7)
    ids = _padded(rng, list(rng.integers(1, 30, 64)), 30)
    model.fit(ids, rng.integers(0, 2, 64), batch_size=16, epochs=2, verbose=0)
    # The weights between copies are still exactly zero…
    for variable in model.trainable_weights:
        if getattr(variable, "constraint", None) is not None:
            np.testing.assert_array_equal(variable.numpy()[variable.constraint.mask == 0], 0)
    # …so changing copy 1's embeddings changes copy 1's prediction and no other.
    probe = tf.constant(ids[:8])
    before = model(probe, training=False).numpy()
    embedding = model.get_layer("embedding")
    table = embedding.get_weights()[0]
    table[:, 8:16] = rng.normal(0, 1, (table.shape[0], 8))  # Copy 1's columns (embedding_dim 8).
    embedding.set_weights([table])
    after = model(probe, training=False).numpy()
    np.testing.assert_array_equal(after[:, [0, 2]], before[:, [0, 2]])
    assert np.abs(after[:, 1] - before[:, 1]).max() > 1e-4


def test_a_single_network_has_no_blocks():
    model = build_model(hyperparameters_for("notebook", **SMALL))
    assert model.output.shape[-1] == 1
    assert model.get_layer(LSTM).cell.kernel_constraint is None


def test_autograph_converts_neither_keras_nor_our_code():
    """components/keras_autograph.py: once a model is built, AutoGraph calls Keras' and our
    functions as written; the Transform's entry point is marked for processes that build none."""
    from tensorflow.python.autograph.impl import api, conversion  # The predicates AutoGraph applies its rules with.

    build_model(hyperparameters_for("notebook", **SMALL))
    for function in (keras.layers.Dense.call, GroupedLSTM.call, trainer.drop_words, text.pad_front, porter.stem):
        assert conversion.is_allowlisted(function), function
    assert api.is_autograph_artifact(preprocessing_fn)
    assert not conversion.is_allowlisted(_padded)  # The rules name our packages, not every module.


def test_a_masked_bidirectional_network_ignores_the_padding_in_front():
    hparams = hyperparameters_for("improved", bidirectional=True, ensemble_size=2, **SMALL)
    served = serving_model(build_model(hparams))
    ids = _padded(np.random.default_rng(2), [3, 11], 11)
    short = served.predict_on_batch(tf.constant(ids[:1, -3:]))
    long = served.predict_on_batch(tf.constant(ids[:1]))
    np.testing.assert_allclose(short, long, rtol=0, atol=1e-6)


def test_word_dropout_turns_words_into_padding_and_leaves_padding_alone():
    tf.random.set_seed(3)
    ids = tf.constant(_padded(np.random.default_rng(3), [400] * 50, 500))
    dropped = trainer.drop_words(ids, 0.25).numpy()
    original = ids.numpy()
    assert np.all(dropped[original == features.PAD_ID] == features.PAD_ID)
    kept = dropped[original != features.PAD_ID]
    assert np.all((kept == features.PAD_ID) | (kept == original[original != features.PAD_ID]))
    assert np.mean(kept == features.PAD_ID) == pytest.approx(0.25, abs=0.01)


def test_word_dropout_happens_in_training_batches_only():
    hparams = hyperparameters_for("improved", word_dropout=0.5, batch_size=8)
    rows = _padded(np.random.default_rng(4), [30] * 16, features.MAX_LENGTH)
    dataset = tf.data.Dataset.from_tensor_slices(({features.TOKEN_IDS_KEY: rows}, np.zeros(16, dtype=np.int64)))
    words = lambda training: sum(int(np.count_nonzero(inputs[features.TOKEN_IDS_KEY]))  # noqa: E731
                                 for inputs, _ in trainer.batches(dataset, hparams, training))
    assert words(training=False) == 16 * 30
    assert 0.35 * 16 * 30 < words(training=True) < 0.65 * 16 * 30


@pytest.mark.parametrize("bad, message", [
    (dict(ensemble_size=0), "ensemble_size"),
    (dict(word_dropout=1.0), "word_dropout"),
    (dict(word_dropout=0.1, mask_padding=False), "mask_padding"),
    (dict(style=True, style_dropout=1.0), "style_dropout"),
    (dict(author=True, author_l2=-1e-4), "author_l2"),
])
def test_hyperparameters_reject_settings_that_cannot_work(bad, message):
    with pytest.raises(ValueError, match=message):
        Hyperparameters(**{"mask_padding": True, **bad})


def test_class_weights_make_each_class_half_of_the_loss():
    labels = np.array([0] * 75 + [1] * 25)
    weights = trainer.class_weights(labels)
    assert weights[0] * 75 == pytest.approx(50) and weights[1] * 25 == pytest.approx(50)
    assert trainer.class_weights(np.zeros(10)) == {0: 1.0, 1: 1.0}


@pytest.mark.parametrize("bidirectional, ensemble_size, dense_units", [
    (True, 3, (4,)), (True, 1, (4,)), (False, 2, (4,)), (True, 2, (5, 3)), (True, 2, ()),
])
def test_the_fused_network_computes_the_ensembles_mean(bidirectional, ensemble_size, dense_units):
    hparams = hyperparameters_for("improved", bidirectional=bidirectional, ensemble_size=ensemble_size,
                                  embedding_dim=6, lstm_units=4, dense_units=dense_units)
    model = build_model(hparams)
    # Trained-looking weights: the initial biases are zeros, which would hide a misplaced block.
    # Zero between copies, as training keeps them.
    rng = np.random.default_rng(6)
    for variable in model.weights:
        values = rng.normal(0, 0.5, variable.shape).astype(np.float32)
        constraint = getattr(variable, "constraint", None)
        variable.assign(values if constraint is None else constraint(values))
    fused = fuse(model, hparams)
    ids = tf.constant(_padded(rng, [1, 4, 12, 0, 7, 20], 20))  # Unsorted lengths; one empty document.
    expected = serving_model(model).predict_on_batch(ids)
    np.testing.assert_allclose(fused.predict_on_batch(ids), expected, rtol=0, atol=1e-6)
    # A batch cut to its longest document, as the serving graph does, gives the same numbers.
    np.testing.assert_allclose(fused.predict_on_batch(ids[:, -12:][:4]), expected[:4], rtol=0, atol=1e-6)
    # Fewer steps than the loop takes a turn (components.fused.STEPS_PER_ITERATION).
    np.testing.assert_allclose(fused.predict_on_batch(ids[:1, -3:]), expected[:1], rtol=0, atol=1e-6)
    loops = [layer for layer in fused.layers if isinstance(layer, (keras.layers.RNN, GroupedLSTM))]
    assert len(loops) == 1 and loops[0].parts == ensemble_size * (2 if bidirectional else 1)


def test_fusing_needs_the_mask_and_something_to_fuse():
    assert not can_fuse(hyperparameters_for("notebook"))
    assert not can_fuse(hyperparameters_for("improved", bidirectional=False, ensemble_size=1))
    with pytest.raises(ValueError, match="mask_padding"):
        fuse(build_model(hyperparameters_for("notebook", **SMALL)), hyperparameters_for("notebook", **SMALL))


def test_the_parameter_count_leaves_out_the_zeros_between_copies():
    one = build_model(hyperparameters_for("improved", ensemble_size=1, **SMALL))
    three = build_model(hyperparameters_for("improved", ensemble_size=3, **SMALL))
    assert parameter_count(three) == 3 * parameter_count(one) == 3 * one.count_params()
    assert three.count_params() > parameter_count(three)


def _tfidf(rng: np.random.Generator, terms_per_document: list[int]) -> tuple[tf.SparseTensor, tf.SparseTensor]:
    """Random TF-IDF inputs shaped as Transform gives them: [batch, (terms)] ids and weights."""
    ids = [sorted(rng.choice(50, size=n, replace=False)) for n in terms_per_document]
    weights = [list(rng.uniform(0.1, 1.0, size=n)) for n in terms_per_document]
    return (tf.ragged.constant(ids, dtype=tf.int64, ragged_rank=1).to_sparse(),
            tf.ragged.constant(weights, dtype=tf.float32, ragged_rank=1).to_sparse())


def _randomised(model: keras.Model, rng: np.random.Generator) -> keras.Model:
    """Trained-looking weights (zero between copies, as training keeps them)."""
    for variable in model.weights:
        values = rng.normal(0, 0.5, variable.shape).astype(np.float32)
        constraint = getattr(variable, "constraint", None)
        variable.assign(values if constraint is None else constraint(values))
    return model


def test_the_linear_preset_is_a_logistic_regression_over_the_tfidf():
    model = _randomised(build_model(hyperparameters_for("linear")), np.random.default_rng(9))
    ids, weights = _tfidf(np.random.default_rng(10), [3, 0, 7])  # The middle document has no known term.
    probabilities = serving_model(model)({features.TFIDF_IDS_KEY: ids, features.TFIDF_WEIGHTS_KEY: weights}).numpy()
    kernel, bias = (value * model.get_layer(WIDE).step_scale for value in model.get_layer(WIDE).get_weights())
    dense = np.zeros((3, features.TFIDF_VOCABULARY_LIMIT), np.float32)
    dense[ids.indices[:, 0], ids.values] = weights.values
    np.testing.assert_allclose(probabilities, 1 / (1 + np.exp(-(dense @ kernel + bias)))[:, None], rtol=1e-5)


@pytest.mark.parametrize("ensemble_size", [1, 3])
def test_the_fused_wide_and_deep_network_computes_the_ensembles_mean(ensemble_size):
    hparams = hyperparameters_for("wide-deep", ensemble_size=ensemble_size, embedding_dim=6, lstm_units=4,
                                  dense_units=(4,))
    rng = np.random.default_rng(11)
    model = _randomised(build_model(hparams), rng)
    ids, weights = _tfidf(rng, [2, 5, 0, 4])
    token_ids = _padded(rng, [3, 9, 0, 5], 9)
    inputs = {features.TOKEN_IDS_KEY: tf.constant(token_ids), features.TFIDF_IDS_KEY: ids,
              features.TFIDF_WEIGHTS_KEY: weights}
    members = model(inputs, training=False).numpy()
    expected = serving_model(model)(inputs).numpy()
    np.testing.assert_allclose(expected, members.mean(axis=1, keepdims=True), rtol=1e-6)
    fused = fuse(model, hparams)
    np.testing.assert_allclose(fused(inputs).numpy(), expected, rtol=0, atol=1e-6)
    # More padding in front changes nothing: the LSTM skips it, the wide part never sees it.
    padded = {**inputs, features.TOKEN_IDS_KEY: tf.constant(np.pad(token_ids, [[0, 0], [7, 0]]))}
    np.testing.assert_allclose(fused(padded).numpy(), expected, rtol=0, atol=1e-6)
    # Both parts count: the wide part's weights move the probability.
    model.get_layer(WIDE).set_weights([np.zeros_like(w) for w in model.get_layer(WIDE).get_weights()])
    assert np.abs(serving_model(model)(inputs).numpy() - expected).max() > 1e-3


def test_residual_fitting_freezes_the_wide_part_as_fitted_alone():
    """joining="residual": the wide part is the `linear` fit on the same data, unchanged by the
    LSTM's training (the layers store their weights at different step scales)."""
    rng = np.random.default_rng(12)
    ids, weights = _tfidf(rng, list(rng.integers(1, 8, 48)))
    examples = tf.data.Dataset.from_tensor_slices((
        {features.TOKEN_IDS_KEY: _padded(rng, list(rng.integers(1, 12, 48)), 12),
         features.TFIDF_IDS_KEY: ids, features.TFIDF_WEIGHTS_KEY: weights},
        rng.integers(0, 2, 48)))
    hparams = hyperparameters_for("wide-deep", joining="residual", epochs=2, batch_size=8, **SMALL)
    served = trainer.train(hparams, examples, verbose=0).model
    alone = trainer.train(wide_part_alone(hparams), examples, verbose=0).model

    def in_use(model: keras.Model) -> list[np.ndarray]:
        layer = model.get_layer(WIDE)
        return [value * layer.step_scale for value in layer.get_weights()]

    for joined, fitted in zip(in_use(served), in_use(alone)):
        np.testing.assert_allclose(joined, fitted, rtol=1e-6, atol=1e-7)
    assert np.abs(in_use(alone)[0]).max() > 1e-3  # The wide part did learn.


def _style_logit(model: keras.Model, style_features: np.ndarray) -> np.ndarray:
    """The style part's layers worked out in numpy (dropout is off at inference)."""
    x = style_features
    for index in range(len(PRESETS["wide-style"].style_units)):
        kernel, bias = model.get_layer(f"style{index + 1}").get_weights()
        x = np.maximum(x @ kernel + bias, 0)
    kernel, bias = model.get_layer(STYLE_LOGIT).get_weights()
    return x @ kernel + bias


def test_the_wide_style_preset_adds_the_style_networks_and_the_authors_logits_to_the_linear_one():
    rng = np.random.default_rng(13)
    model = _randomised(build_model(hyperparameters_for("wide-style")), rng)
    assert input_keys(PRESETS["wide-style"]) == (features.TFIDF_IDS_KEY, features.TFIDF_WEIGHTS_KEY, features.STYLE_KEY,
                                                 features.AUTHOR_ID_KEY)
    ids, weights = _tfidf(rng, [3, 0, 7, 1])
    style_features = rng.normal(size=(4, style.SIZE)).astype(np.float32)
    authors = np.array([5, 0, 5, features.AUTHOR_BUCKETS - 1], np.int64)  # 0: no author.
    inputs = {features.TFIDF_IDS_KEY: ids, features.TFIDF_WEIGHTS_KEY: weights, features.STYLE_KEY: style_features,
              features.AUTHOR_ID_KEY: authors}
    probabilities = serving_model(model)(inputs).numpy()
    kernel, bias = (value * model.get_layer(WIDE).step_scale for value in model.get_layer(WIDE).get_weights())
    dense = np.zeros((4, features.TFIDF_VOCABULARY_LIMIT), np.float32)
    dense[ids.indices[:, 0], ids.values] = weights.values
    author_weights = model.get_layer(AUTHOR_WEIGHTS).get_weights()[0]
    logit = (dense @ kernel + bias)[:, None] + _style_logit(model, style_features) + author_weights[authors]
    np.testing.assert_allclose(probabilities, 1 / (1 + np.exp(-logit)), rtol=1e-5)


def test_the_author_part_starts_at_no_effect_and_its_weights_are_penalised():
    model = build_model(hyperparameters_for("wide-style"))
    layer = model.get_layer(AUTHOR_WEIGHTS)
    assert layer.get_weights()[0].shape == (features.AUTHOR_BUCKETS, 1)
    assert not np.any(layer.get_weights()[0])  # An author unseen in training moves nothing.
    layer.set_weights([np.full((features.AUTHOR_BUCKETS, 1), 0.5, np.float32)])
    penalty = PRESETS["wide-style"].author_l2 * 0.25 * features.AUTHOR_BUCKETS
    assert float(tf.add_n(layer.losses)) == pytest.approx(penalty, rel=1e-5)


def test_the_log_loss_metric_is_the_loss_without_the_l2_penalties():
    """What the Tuner compares settings by (components/tuning.py): with penalised wide and
    author weights, Keras' loss is the log loss plus the penalties, the metric the log loss."""
    rng = np.random.default_rng(17)
    model = _randomised(build_model(hyperparameters_for("wide-style", wide_l2=1e-3, author_l2=1e-3)), rng)
    model.get_layer(AUTHOR_WEIGHTS).set_weights([np.full((features.AUTHOR_BUCKETS, 1), 0.01, np.float32)])
    ids, weights = _tfidf(rng, [3, 0, 7, 1])
    inputs = {features.TFIDF_IDS_KEY: ids, features.TFIDF_WEIGHTS_KEY: weights,
              features.STYLE_KEY: rng.normal(size=(4, style.SIZE)).astype(np.float32),
              features.AUTHOR_ID_KEY: np.array([5, 0, 5, 9], np.int64)}
    labels = np.array([1, 0, 0, 1])
    probabilities = serving_model(model)(inputs).numpy().reshape(-1)
    log_loss = -np.mean(labels * np.log(probabilities) + (1 - labels) * np.log(1 - probabilities))
    penalties = float(tf.add_n(model.losses))
    assert penalties > 0.1 * log_loss  # Large enough to tell the two apart.
    loss, _, metric = model.evaluate(inputs, labels, verbose=0)
    assert model.metrics_names == ["loss", "auc", LOG_LOSS]
    assert metric == pytest.approx(log_loss, rel=1e-4)
    assert loss == pytest.approx(log_loss + penalties, rel=1e-4)


def test_a_fused_lstm_with_style_and_author_parts_computes_the_ensembles_mean():
    hparams = hyperparameters_for("improved", style=True, author=True, embedding_dim=6, lstm_units=4, dense_units=(4,))
    rng = np.random.default_rng(14)
    model = _randomised(build_model(hparams), rng)
    inputs = {features.TOKEN_IDS_KEY: tf.constant(_padded(rng, [3, 9, 0, 5], 9)),
              features.STYLE_KEY: rng.normal(size=(4, style.SIZE)).astype(np.float32),
              features.AUTHOR_ID_KEY: tf.constant([1, 0, 77, 1], tf.int64)}
    expected = model(inputs, training=False).numpy().mean(axis=1, keepdims=True)
    np.testing.assert_allclose(fuse(model, hparams)(inputs).numpy(), expected, rtol=0, atol=1e-6)
    # The style moves each copy's probability: its logit is added before the sigmoid.
    model.get_layer(STYLE_LOGIT).set_weights([np.zeros_like(w) for w in model.get_layer(STYLE_LOGIT).get_weights()])
    assert np.abs(model(inputs, training=False).numpy().mean(axis=1, keepdims=True) - expected).max() > 1e-3
