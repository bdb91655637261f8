"""The served model's signature and output names (components/signatures.py exports them).

A module of names only, so the code that reads a model's outputs (the Evaluator's config, the
report, batch scoring) does not import the signatures' code, nor count it in its own
component's code fingerprint (pipeline/code_version.py).
"""

PROBABILITY = "probability"
PREDICTED_LABEL = "label"
TOKEN_COUNT = "token_count"
EXPLAIN = "explain"  # The signature's name, as clients send it ("signature_name").
TOKENS = "tokens"
ATTRIBUTIONS = "attributions"
BASELINE_PROBABILITY = "baseline_probability"
PADDING_TOKEN = ""  # `tokens` after a row's last word.
