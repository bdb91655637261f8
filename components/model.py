"""The notebook's network, built from hyperparameters.

Embedding -> Dropout -> LSTM -> Dropout -> Dense(relu)… -> Dense(1, sigmoid). Dropout is a
separate layer, not the LSTM's `dropout=` argument, which tf_keras' saved graphs handle badly.
With `mask_padding`, the Embedding's mask makes the LSTM skip padding steps: its state (and
so the prediction) does not depend on how much padding precedes a document.
"""

from __future__ import annotations

import tf_keras as keras

from pipeline.config import Hyperparameters
from preprocessing import features


def build_model(hparams: Hyperparameters) -> keras.Model:
    keras.utils.set_random_seed(hparams.seed)
    token_ids = keras.Input(shape=(None,), dtype="int64", name=features.TOKEN_IDS_KEY)
    x = keras.layers.Embedding(
        features.VOCAB_SIZE, hparams.embedding_dim, mask_zero=hparams.mask_padding, name="embedding"
    )(token_ids)
    x = keras.layers.Dropout(hparams.dropout_embedding)(x)
    x = keras.layers.LSTM(hparams.lstm_units, name="lstm")(x)
    x = keras.layers.Dropout(hparams.dropout_lstm)(x)
    for units in hparams.dense_units:
        x = keras.layers.Dense(units, activation="relu")(x)
    probability = keras.layers.Dense(1, activation="sigmoid", name="probability")(x)
    model = keras.Model(token_ids, probability, name=f"fakenews_{hparams.model}")
    model.compile(
        optimizer=keras.optimizers.Adam(learning_rate=hparams.learning_rate),
        loss="binary_crossentropy",
        metrics=[keras.metrics.AUC(name="auc"), keras.metrics.BinaryAccuracy(name="accuracy")],
    )
    return model
