"""Feature names and the constants of the encoding: one source of truth for graph and model."""

from __future__ import annotations

# Raw columns of the Kaggle Fake News schema, as staged for CsvExampleGen (see pipeline/input_check.py).
ID_KEY = "id"
TEXT_KEYS = ("title", "author", "text")  # Joined in this order, with spaces, as the notebook does.
LABEL_KEY = "label"  # 1 = unreliable (fake), 0 = reliable.

# Outputs of preprocessing_fn.
TOKEN_IDS_KEY = "token_ids"  # int64 [batch, MAX_LENGTH], pre-padded with PAD_ID.
AUTHOR_PRESENT_KEY = "author_present"  # int64 0/1: the Evaluator's slice.
# The document's TF-IDF (preprocessing/tfidf.py), two [batch, (distinct terms)] SparseTensors
# over the same indices: the terms' vocabulary ids (int64) and their weights (float32).
TFIDF_IDS_KEY = "tfidf_ids"
TFIDF_WEIGHTS_KEY = "tfidf_weights"
# The document's style (preprocessing/style.py): float32 [batch, style.SIZE], each feature scaled
# to mean 0 and variance 1 over the analyzed split.
STYLE_KEY = "style"
# The document's author (preprocessing/author.py): int64 [batch], a hashed id, 0 for none.
AUTHOR_ID_KEY = "author_id"
# Ids of the author part's weights: n authors share about n^2 / 2^19 ids, 21 pairs among
# LIAR's 3,318 speakers.
AUTHOR_BUCKETS = 2**18

# The cleaning's alphabet (text.tokenize): every other character becomes a space, as in the
# notebook's regex. RE2 (in the graph) and Python's re (pipeline/input_check.py, counting the
# documents left without a token, without loading TensorFlow) read this pattern alike.
NOT_A_LETTER = "[^a-zA-Z]"

VOCAB_SIZE = 10_000  # Embedding rows: ids 1..VOCAB_SIZE-1 for tokens, 0 for padding.
PAD_ID = 0
MAX_LENGTH = 500  # Tokens per document after padding/truncation, as in the notebook.
TRUNCATE_SIDES = ("pre", "post")  # Keras pad_sequences' `truncating`; the notebook uses its default, "pre".

# TF-IDF of the words the model reads (cut to MAX_LENGTH as the token ids), over their stems. The settings
# were chosen by a logistic regression's loss on the train split's validation slice (README, "Results").
TFIDF_VOCABULARY = "tfidf_terms"  # The Transform graph's vocabulary file (asset) of the terms.
TFIDF_VOCABULARY_LIMIT = 200_000  # The most frequent terms kept: bounds the linear model's weights.
TFIDF_NGRAM_WIDTH = 2  # 1: single words; 2: also pairs of consecutive words.
TFIDF_MIN_DF = 2  # Terms in fewer of the analyzed split's documents carry no weight.
TFIDF_SUBLINEAR_TF = True  # 1 + log(count) instead of the count.
