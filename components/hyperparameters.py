"""The model presets: every model and training setting, with its value per preset.

Module code (model.py, trainer.py, fused.py) reads a `Hyperparameters`; the pipeline's config
holds one and hands it to the Trainer as custom_config (`as_custom_config`, read back by
`from_custom_config`). The presets live here, beside the code that reads them, so the
Trainer's cache key (its code fingerprint) covers them.
"""

from __future__ import annotations

import dataclasses
from typing import Any, Mapping

from components import decision_threshold

_CUSTOM_CONFIG_KEY = "hyperparameters"
JOININGS = ("joint", "residual")


@dataclasses.dataclass(frozen=True)
class Hyperparameters:
    """Model and training settings.

    The presets (PRESETS): "notebook" is the notebook's network and training exactly, kept
    for reproducibility and comparison; "improved" is the same LSTM family trained on what the
    data holds rather than on padding; "linear" the bag-of-words baseline; "wide-deep" both;
    "wide-style", the default, the linear model beside a small network over the document's style
    and a weight for its author.
    """

    preset: str = "notebook"  # The preset these values started from (named in the model card).
    epochs: int = 10  # Upper bound: early stopping on validation loss ends training sooner.
    batch_size: int = 64
    early_stopping_patience: int = 1
    validation_fraction: float = 0.1  # Of the train split: early stopping and the threshold.
    embedding_dim: int = 300
    lstm_units: int = 199
    dropout_embedding: float = 0.5
    dropout_lstm: float = 0.4
    dense_units: tuple[int, ...] = (399, 43)
    learning_rate: float = 0.001
    bidirectional: bool = False  # The LSTM reads the document both ways (Keras Bidirectional).
    # Share of a training document's words masked out, drawn afresh for every batch: the
    # network cannot lean on a few memorised words (needs mask_padding, which skips them).
    word_dropout: float = 0.0
    # Copies of the network (each its own initial weights and dropout draws) trained side by
    # side as one block-diagonal model (components/model.py); the exported model outputs
    # their mean probability.
    ensemble_size: int = 1
    # Embedding(mask_zero=True): padding leaves the LSTM state alone, so a batch (and a
    # serving request) need only be as long as its longest document.
    mask_padding: bool = False
    bucket_by_length: bool = False  # Batches of similar length, trimmed to their longest.
    balance_classes: bool = False  # Class weights from the train split's label balance.
    # The decision threshold chosen on the validation slice for threshold_metric (one of
    # decision_threshold.METRICS) instead of the notebook's 0.5.
    tune_threshold: bool = False
    threshold_metric: str = "f1"
    seed: int = 42
    # The model's parts (components/model.py): the LSTM over the token ids, and the wide part, a
    # logistic regression over the document's TF-IDF (preprocessing/tfidf.py). With both, each
    # copy's probability is sigmoid(its LSTM's logit + the wide part's logit).
    lstm: bool = True
    wide: bool = False
    wide_l2: float = 0.0  # L2 penalty on the wide part's weights, added to the mean loss.
    # Adam's step for the wide part's weights: a linear model over a few thousand documents
    # needs larger steps than the LSTM's learning_rate to fit within a few epochs.
    wide_learning_rate: float = 0.01
    # The style part (components/model.py): a small network over the document's style
    # (preprocessing/style.py), its logit added to the others'. Trained with them, in the
    # second stage of "residual".
    style: bool = False
    style_units: tuple[int, ...] = (32,)
    style_dropout: float = 0.2
    # The author part (components/model.py): one learned weight per author id
    # (preprocessing/author.py), added to the other logits; L2 pulls the weight of an author
    # with few documents toward none. 3e-4: the validation slice's log loss was lowest, and
    # equal, at 3e-4 and 1e-3 on both data sets (1e-4 and 3e-3 above it; README, "Results").
    author: bool = False
    author_l2: float = 3e-4
    # How the LSTM and the wide part are fitted: "joint" trains both from the start on one loss;
    # "residual" first fits the wide part alone (early stopping on the validation slice),
    # then freezes it and trains the LSTM on what it leaves unexplained.
    joining: str = "joint"

    def __post_init__(self) -> None:
        if self.ensemble_size < 1:
            raise ValueError(f"ensemble_size must be at least 1, got {self.ensemble_size}")
        if self.epochs < 1:
            raise ValueError(f"epochs must be at least 1, got {self.epochs}")
        if self.batch_size < 1:
            raise ValueError(f"batch_size must be at least 1, got {self.batch_size}")
        if not 0 <= self.word_dropout < 1:
            raise ValueError(f"word_dropout must be in [0, 1), got {self.word_dropout}")
        if self.word_dropout and not self.mask_padding:
            # Without the mask a dropped word would be read as a word: the padding id's embedding.
            raise ValueError("word_dropout needs mask_padding")
        if not (self.lstm or self.wide):
            raise ValueError("a model needs the lstm or the wide part")
        if self.author_l2 < 0:
            raise ValueError(f"author_l2 must be at least 0, got {self.author_l2}")
        if not 0 <= self.style_dropout < 1:
            raise ValueError(f"style_dropout must be in [0, 1), got {self.style_dropout}")
        if self.threshold_metric not in decision_threshold.METRICS:
            raise ValueError(f"threshold_metric must be one of {', '.join(decision_threshold.METRICS)}, "
                             f"got {self.threshold_metric!r}")
        if self.joining not in JOININGS:
            raise ValueError(f"joining must be one of {', '.join(JOININGS)}, got {self.joining!r}")

    def as_custom_config(self) -> dict[str, Any]:
        """The Trainer's custom_config: JSON values (a tuple becomes a list)."""
        return {_CUSTOM_CONFIG_KEY: {key: list(value) if isinstance(value, tuple) else value
                                     for key, value in dataclasses.asdict(self).items()}}

    @classmethod
    def from_custom_config(cls, custom_config: Mapping[str, Any] | None) -> "Hyperparameters":
        values = dict((custom_config or {}).get(_CUSTOM_CONFIG_KEY, {}))
        for key in ("dense_units", "style_units"):
            if key in values:
                values[key] = tuple(values[key])  # JSON turned the tuple into a list.
        return cls(**values)


PRESETS = {
    "notebook": Hyperparameters(),
    # The notebook's layers, smaller and more regularised (3.5M parameters overfit 4,600
    # articles within two epochs), read in both directions, with word dropout, three copies
    # averaged. Sizes and dropouts were chosen by the validation slice's loss; bidirectional
    # reading, word dropout and the three copies each lifted eval F1 over a range of seeds
    # (README, "Results"), where single networks varied by about ±0.01 from seed to seed.
    "improved": Hyperparameters(
        preset="improved",
        epochs=12,
        early_stopping_patience=2,
        embedding_dim=32,
        lstm_units=32,
        dense_units=(32,),
        dropout_embedding=0.6,
        dropout_lstm=0.5,
        bidirectional=True,
        word_dropout=0.2,
        ensemble_size=3,
        mask_padding=True,
        bucket_by_length=True,
        balance_classes=True,
        tune_threshold=True,
    ),
    # Logistic regression over the document's TF-IDF (preprocessing/tfidf.py): the bag-of-words
    # baseline inside the pipeline, trained, evaluated and served as the networks are.
    "linear": Hyperparameters(
        preset="linear",
        lstm=False,
        wide=True,
        epochs=40,
        early_stopping_patience=3,
        learning_rate=0.01,
        wide_learning_rate=0.01,
        wide_l2=1e-5,
        balance_classes=True,
        tune_threshold=True,
    ),
}
# The LSTM of "improved" beside the linear model of "linear", one probability.
PRESETS["wide-deep"] = dataclasses.replace(
    PRESETS["improved"], preset="wide-deep", wide=True, wide_l2=PRESETS["linear"].wide_l2,
    wide_learning_rate=PRESETS["linear"].wide_learning_rate, joining="residual")
# "linear" beside a network over the document's style (preprocessing/style.py) and a weight
# for its author (preprocessing/author.py), trained jointly: what the words say, how the
# article is written, and who wrote it. Beats "linear" on both data sets (README, "Results"),
# where no LSTM did; the author's weight is most of its gain on LIAR. No L2 on the wide part:
# early stopping alone gave the validation slice's lowest log loss (the penalty left out) on
# both data sets, over 1e-5, 3e-6 and 1e-6, where "linear" alone does best at 1e-5 on articles.
PRESETS["wide-style"] = dataclasses.replace(PRESETS["linear"], preset="wide-style", style=True, author=True,
                                            wide_l2=0.0)
DEFAULT_PRESET = "wide-style"


def wide_part_alone(hparams: Hyperparameters) -> Hyperparameters:
    """The `linear` preset's training with `hparams`' wide part: the first stage of "residual"."""
    return dataclasses.replace(
        PRESETS["linear"], wide_l2=hparams.wide_l2, wide_learning_rate=hparams.wide_learning_rate,
        batch_size=hparams.batch_size, validation_fraction=hparams.validation_fraction,
        balance_classes=hparams.balance_classes, seed=hparams.seed)


def hyperparameters_for(preset: str = DEFAULT_PRESET, **overrides: Any) -> Hyperparameters:
    """A preset with some values replaced (None values keep the preset's)."""
    if preset not in PRESETS:
        raise ValueError(f"unknown preset {preset!r}; choose from {', '.join(PRESETS)}")
    return dataclasses.replace(PRESETS[preset], **{k: v for k, v in overrides.items() if v is not None})
