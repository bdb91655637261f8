"""The Tuner's search: the few sizes of a preset it may change, its settings (trials, each
trial's epoch cap) as the Tuner's custom_config, and how the values it chose are applied over
the preset's `Hyperparameters`.

Stated once here: the pipeline writes the settings (`tuner_config`), the Tuner's module code
(components/tuning.py) reads them and declares these choices to KerasTuner, and the Trainer's
run_fn (components/trainer.py) applies the best of them. A module apart from tuning.py, which
imports the training code: the Trainer would import itself, and the pipeline the model code.
"""

from __future__ import annotations

import dataclasses
from typing import TYPE_CHECKING, Any, Mapping

from components.hyperparameters import Hyperparameters

if TYPE_CHECKING:
    import keras_tuner

# Field -> the values tried; each list holds the improved (and wide-deep) preset's own value,
# with a smaller and a larger one around it; wide_l2 also holds 0, wide-style's (no penalty).
# dense_units is the width of its single layer.
LSTM_SPACE: dict[str, tuple[int | float, ...]] = {
    "embedding_dim": (16, 32, 64),
    "lstm_units": (16, 32, 64),
    "dense_units": (16, 32, 64),
    "dropout_lstm": (0.4, 0.5, 0.6),
}
WIDE_SPACE: dict[str, tuple[int | float, ...]] = {
    "wide_l2": (0.0, 1e-6, 1e-5, 1e-4),
}
_TRIALS_KEY = "tune_trials"
_EPOCHS_KEY = "tune_epochs"


def _value(hparams: Hyperparameters, name: str) -> Any:
    value = getattr(hparams, name)
    if name == "dense_units":  # Tried as one layer's width.
        return value[0] if len(value) == 1 else value
    return value


def search_space(hparams: Hyperparameters) -> dict[str, tuple[int | float, ...]]:
    """The choices that apply to `hparams`' parts (the LSTM's sizes, the wide part's penalty).

    Raises ValueError when one of `hparams`' own values is not among its choices (the notebook
    preset's 300-wide embedding): the search starts from the preset itself, so that the preset
    is what the Trainer keeps unless a trial beats it on validation loss."""
    space = {**(LSTM_SPACE if hparams.lstm else {}), **(WIDE_SPACE if hparams.wide else {})}
    for name, values in space.items():
        if _value(hparams, name) not in values:
            raise ValueError(f"tuning tries {name} in {values}, and preset {hparams.preset!r} has "
                             f"{_value(hparams, name)}: tune improved, wide-deep, linear or wide-style")
    return space


def check(hparams: Hyperparameters, trials: int, epochs: int | None) -> None:
    """Raises ValueError for a search that cannot run: no trials, a bad epoch cap, or a preset
    outside the space (`search_space`)."""
    if trials < 1:
        raise ValueError(f"tuning needs at least 1 trial, got {trials}")
    if epochs is not None:
        dataclasses.replace(hparams, epochs=epochs)  # Validates the trials' epoch cap as Hyperparameters does.
    search_space(hparams)


def tuner_config(hparams: Hyperparameters, trials: int, epochs: int | None) -> dict[str, Any]:
    """The Tuner's custom_config: the preset searched around, the number of trials and each
    trial's epoch cap, None for the preset's (a search `check` accepts)."""
    return {**hparams.as_custom_config(), _TRIALS_KEY: trials, _EPOCHS_KEY: epochs}


def from_tuner_config(custom_config: Mapping[str, Any]) -> tuple[Hyperparameters, int]:
    """The preset with the trials' epoch cap, and the number of trials, from `tuner_config`'s dict."""
    hparams = Hyperparameters.from_custom_config(custom_config)
    if custom_config[_EPOCHS_KEY] is not None:
        hparams = dataclasses.replace(hparams, epochs=custom_config[_EPOCHS_KEY])
    return hparams, custom_config[_TRIALS_KEY]


def declare(hparams: Hyperparameters) -> keras_tuner.HyperParameters:
    """The search space as KerasTuner's HyperParameters, each choice's default the preset's value."""
    import keras_tuner  # Here, not above: the pipeline's config checks a search without TensorFlow.

    declared = keras_tuner.HyperParameters()
    for name, values in search_space(hparams).items():
        declared.Choice(name, list(values), default=_value(hparams, name))
    return declared


def tuned_values(config: Mapping[str, Any]) -> dict[str, Any]:
    """The chosen values of a KerasTuner HyperParameters config (the Tuner's best_hyperparameters)."""
    import keras_tuner

    return dict(keras_tuner.HyperParameters.from_config(dict(config)).values)


def apply(hparams: Hyperparameters, values: Mapping[str, Any]) -> Hyperparameters:
    """`hparams` with the tuned `values` (names of the search space) in place of the preset's."""
    unknown = set(values) - set(LSTM_SPACE) - set(WIDE_SPACE)
    if unknown:
        raise ValueError(f"not in the search space: {', '.join(sorted(unknown))}")
    changes = {name: (value,) if name == "dense_units" else value for name, value in values.items()}
    return dataclasses.replace(hparams, **changes)
