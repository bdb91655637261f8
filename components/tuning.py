"""TFX Tuner module code: `tuner_fn` searches the preset's sizes (components/search_space.py)
for the lowest validation log loss, training each trial with the Trainer's own code.

Referenced by import path (`components.tuning.tuner_fn`), as run_fn is. A trial is
`components.trainer.train` on the train split with the trial's values applied over the preset,
so it reads, splits and trains exactly as the Trainer will (the residual wide-deep's two stages
included); its objective is the trained model's log loss on the train split's validation
slice, where the Trainer's early stopping and threshold are chosen too, without the L2
penalties (`components.model.LOG_LOSS`): with them, the weaker of two penalties would win by
its penalty alone. The eval split (fn_args.eval_files) is never read: it is the Evaluator's.
The first trial is the preset itself, so the best hyperparameters are the preset's unless a
trial beats it.
"""

from __future__ import annotations

import os
from typing import Any

import keras_tuner
import tensorflow as tf
import tensorflow_transform as tft
from tfx import v1 as tfx

from components import search_space, trainer
from components.hyperparameters import Hyperparameters

OBJECTIVE = "validation_log_loss"


class _PresetFirstOracle(keras_tuner.oracles.RandomSearchOracle):
    """Random search whose first trial is the declared defaults: the preset's own values."""

    def populate_space(self, trial_id: str) -> dict[str, Any]:
        if not self.trials:
            return {"status": keras_tuner.engine.trial.TrialStatus.RUNNING,
                    "values": self.hyperparameters.copy().values}
        return super().populate_space(trial_id)


class TrainerSearch(keras_tuner.Tuner):
    """A trial trains with `trainer.train` (not a Keras hypermodel): the residual joining fits
    the wide part before the LSTM, which one model.fit cannot."""

    def __init__(self, hparams: Hyperparameters, examples: tf.data.Dataset, trials: int, **kwargs: Any):
        super().__init__(
            oracle=_PresetFirstOracle(
                objective=keras_tuner.Objective(OBJECTIVE, direction="min"), max_trials=trials,
                hyperparameters=search_space.declare(hparams), allow_new_entries=False,
                tune_new_entries=False, seed=hparams.seed),
            **kwargs)
        self._hparams, self._examples = hparams, examples

    def run_trial(self, trial: keras_tuner.engine.trial.Trial, *args: Any, **kwargs: Any) -> dict[str, float]:
        hparams = search_space.apply(self._hparams, trial.hyperparameters.values)
        result = trainer.train(hparams, self._examples, verbose=2)
        return {OBJECTIVE: result.validation_log_loss}

    def save_model(self, trial_id: str, model: Any, step: int = 0) -> None:
        """Trials keep no model: the Trainer trains the best values anew, on the whole run's settings."""


def searcher(hparams: Hyperparameters, examples: tf.data.Dataset, trials: int, directory: str) -> TrainerSearch:
    """The search tuner_fn returns (bench/bench_tune.py runs it too): `trials` trials around
    `hparams`, each trained at most `hparams.epochs` epochs, KerasTuner's records in `directory`."""
    return TrainerSearch(hparams, examples, trials, directory=directory, project_name="search", overwrite=True)


def tuner_fn(fn_args: tfx.components.FnArgs) -> tfx.components.TunerFnResult:
    hparams, trials = search_space.from_tuner_config(fn_args.custom_config)
    examples = trainer.read_examples(fn_args.train_files, tft.TFTransformOutput(fn_args.transform_graph_path))
    search = searcher(hparams, examples, trials, os.path.join(fn_args.working_dir, "tuner"))
    return tfx.components.TunerFnResult(tuner=search, fit_kwargs={})
