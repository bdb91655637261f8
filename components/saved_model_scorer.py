"""The exported model's `serving_default` signature called from Python: what batch scoring
(components/batch_scoring.py) and the drift check (pipeline/drift.py) run, so that their
scores are the served ones.

`tf.saved_model.load` restores the SavedModel's signature functions themselves: the
SignatureDef TF Serving runs (components/signatures.py), raw title, author and text in, the
Transform graph, the model and its stored threshold inside. TFX's BulkInferrer, the stock way
to score a data set with a pushed model, fails for Keras models in TFX 1.16
(tensorflow/tfx#7782).
"""

from __future__ import annotations

import dataclasses
from typing import Sequence

import numpy as np
import tensorflow as tf

from components.signature_names import PREDICTED_LABEL, PROBABILITY, TOKEN_COUNT
from preprocessing import features

SIGNATURE = tf.saved_model.DEFAULT_SERVING_SIGNATURE_DEF_KEY  # "serving_default"


@dataclasses.dataclass(frozen=True)
class Scores:
    """One batch's outputs, row for row."""

    probability: np.ndarray  # float32: the probability of "unreliable" (fake).
    label: np.ndarray  # int64: 1 (unreliable) where probability >= the model's threshold.
    token_count: np.ndarray  # int64: the tokens the model read; 0: nothing (no a-z words).


class SavedModelScorer:
    """One loaded version of the exported model."""

    def __init__(self, path: str) -> None:
        # The loaded object owns the variables the signature reads: keep it alive with it.
        self._loaded = tf.saved_model.load(path)
        self._signature = self._loaded.signatures[SIGNATURE]
        self.path = path

    def score(self, titles: Sequence[str], authors: Sequence[str], texts: Sequence[str]) -> Scores:
        """Scores a batch of articles ('' for a missing title or author)."""
        columns = dict(zip(features.TEXT_KEYS, (titles, authors, texts)))
        outputs = self._signature(**{key: tf.constant(list(values), tf.string) for key, values in columns.items()})
        return Scores(probability=outputs[PROBABILITY].numpy(), label=outputs[PREDICTED_LABEL].numpy(),
                      token_count=outputs[TOKEN_COUNT].numpy())
