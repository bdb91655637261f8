"""tf.Transform `preprocessing_fn`: raw title/author/text -> token ids, TF-IDF, style and author id, in the graph.

The Transform component references this function by import path
(`preprocessing.transform.preprocessing_fn`); the Trainer embeds the resulting graph in the
exported model, so TF Serving applies exactly this code to raw request strings.

Its custom_config (the pipeline's Transform passes it):
- TRUNCATING ("pre" | "post", default "pre"): which end of a long document the token ids keep;
- TFIDF (bool, default False): also the TF-IDF features, for a model with a wide part. Only
  then: their analysis (a vocabulary of every document's words and word pairs) is most of a
  Transform's time, and a preprocessing_fn without analyzers is traced in place, with no Beam;
- STYLE (bool, default False): also the style features (preprocessing/style.py), for a model
  with a style part; their scaling is analyzed too.
"""

from __future__ import annotations

from typing import Any, Mapping

import tensorflow as tf
import tensorflow_transform as tft

from preprocessing import author, features, porter, style, text, tfidf

Tensor = tf.Tensor | tf.SparseTensor

TRUNCATING, TFIDF, STYLE = "truncating", "tfidf", "style"  # custom_config keys (the module's docstring).


def _dense_string(feature: Tensor | None, batch_size: tf.Tensor) -> tf.Tensor:
    """A [batch] string tensor; a missing value, or a missing column, becomes ''.

    SchemaGen infers title/author/text optional (real files have gaps), so they arrive as
    SparseTensors [batch, 1]; at serving they arrive dense.
    """
    if feature is None:
        return tf.fill([batch_size], "")
    if isinstance(feature, tf.SparseTensor):
        feature = tft.sparse_tensor_to_dense_with_shape(feature, [None, 1], default_value="")
    return tf.reshape(feature, [-1])


def _dense_label(label: Tensor) -> tf.Tensor:
    if isinstance(label, tf.SparseTensor):
        label = tft.sparse_tensor_to_dense_with_shape(label, [None, 1], default_value=0)
    return tf.reshape(tf.cast(label, tf.int64), [-1])


def stems(fields: Mapping[str, tf.Tensor]) -> tf.RaggedTensor:
    """[batch, (words)]: join, clean and stem one batch of documents (the notebook's cleaning)."""
    tokens = text.tokenize(text.join_fields(*(fields[key] for key in features.TEXT_KEYS)))
    # Stopwords are dropped before stemming, in the notebook's order.
    return tokens.with_flat_values(porter.stem(tokens.flat_values))


def token_ids(document_stems: tf.RaggedTensor, truncating: str = "pre") -> tf.Tensor:
    """[batch, MAX_LENGTH] int64: hash and pre-pad the stems."""
    return text.pad_front(text.hash_tokens(document_stems), features.MAX_LENGTH, truncating)


# Traced as written, without AutoGraph: the cleaning is TF ops only (its Python `if`s test
# Python values), so the rewrite would change no graph and only cost trace time.
@tf.autograph.experimental.do_not_convert
def preprocessing_fn(
    inputs: Mapping[str, Tensor], custom_config: Mapping[str, Any] | None = None
) -> dict[str, tf.Tensor]:
    """TFX Transform entry point; custom_config: TRUNCATING, TFIDF, STYLE (the module's docstring)."""
    truncating = (custom_config or {}).get(TRUNCATING, "pre")
    present = [inputs[key] for key in features.TEXT_KEYS if key in inputs]
    if not present:
        raise ValueError(f"None of the text columns {features.TEXT_KEYS} is in the data")
    reference = present[0]
    batch_size = (
        reference.dense_shape[0] if isinstance(reference, tf.SparseTensor) else tf.shape(reference)[0]
    )
    fields = {key: _dense_string(inputs.get(key), batch_size) for key in features.TEXT_KEYS}

    document_stems = stems(fields)
    outputs = {
        features.TOKEN_IDS_KEY: token_ids(document_stems, truncating),
        features.AUTHOR_PRESENT_KEY: tf.cast(
            tf.strings.length(tf.strings.strip(fields["author"])) > 0, tf.int64
        ),
        # One hash, no analysis: computed for every preset, read by a model with an author part.
        features.AUTHOR_ID_KEY: author.author_id(fields["author"]),
    }
    if (custom_config or {}).get(TFIDF, False):
        # The words the token ids hold: the LSTM and the linear model read the same (preprocessing/tfidf.py).
        read = text.truncate(document_stems, features.MAX_LENGTH, truncating)
        outputs[features.TFIDF_IDS_KEY], outputs[features.TFIDF_WEIGHTS_KEY] = tfidf.tfidf(tfidf.terms(read))
    if (custom_config or {}).get(STYLE, False):
        outputs[features.STYLE_KEY] = style.style(fields)
    if features.LABEL_KEY in inputs:  # Absent at serving time.
        outputs[features.LABEL_KEY] = _dense_label(inputs[features.LABEL_KEY])
    return outputs
