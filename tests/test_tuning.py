"""The optional Tuner (`--tune`): its search over the preset's sizes, the Trainer applying the
best values, and the wiring that adds it only when asked."""

from __future__ import annotations

import dataclasses
import json
import pathlib

import keras_tuner
import pytest
from tfx import v1 as tfx

from components import search_space, trainer, tuning
from components.hyperparameters import PRESETS, hyperparameters_for
from fakenews import cli
from pipeline import pipeline as wiring
from pipeline.config import TUNER_FN, PipelineConfig
from pipeline.run_folder import RunFolder

# One small copy of the improved network for one epoch: enough to rank two trials on the fixture's articles.
SMALL = hyperparameters_for("improved", ensemble_size=1)


def _fixture_train_files(fixture_model) -> str:
    """The fixture model's transformed train split (tests/fixture_model.py's layout)."""
    root = pathlib.Path(fixture_model.transform_output).parent.parent
    return str(root / "Transform" / "transformed_examples" / "Split-train" / "*")


def test_search_space_is_the_presets_parts():
    assert set(search_space.search_space(PRESETS["improved"])) == set(search_space.LSTM_SPACE)
    assert set(search_space.search_space(PRESETS["linear"])) == set(search_space.WIDE_SPACE)
    assert set(search_space.search_space(PRESETS["wide-deep"])) == {*search_space.LSTM_SPACE, *search_space.WIDE_SPACE}
    with pytest.raises(ValueError, match="preset 'notebook' has 300"):
        search_space.search_space(PRESETS["notebook"])


def test_declared_defaults_are_the_presets_values():
    assert search_space.declare(PRESETS["wide-deep"]).values == {
        "embedding_dim": 32, "lstm_units": 32, "dense_units": 32, "dropout_lstm": 0.5, "wide_l2": 1e-5}
    # The default's unpenalised wide part is a choice of the search, its first trial.
    assert search_space.declare(PRESETS["wide-style"]).values == {"wide_l2": 0.0}


def test_apply_sets_the_tuned_values_over_the_preset():
    chosen = keras_tuner.HyperParameters()
    chosen.Choice("lstm_units", [16, 32, 64], default=64)
    chosen.Choice("dense_units", [16, 32, 64], default=16)
    values = search_space.tuned_values(chosen.get_config())
    tuned = search_space.apply(PRESETS["improved"], values)
    assert (tuned.lstm_units, tuned.dense_units) == (64, (16,))
    assert dataclasses.replace(tuned, lstm_units=32, dense_units=(32,)) == PRESETS["improved"]
    with pytest.raises(ValueError, match="not in the search space: epochs"):
        search_space.apply(PRESETS["improved"], {"epochs": 3})


def test_config_rejects_a_search_that_cannot_run():
    PipelineConfig(tune=True, hyperparameters=PRESETS["wide-deep"])
    with pytest.raises(ValueError, match="at least 1 trial"):
        PipelineConfig(tune=True, tune_trials=0)
    with pytest.raises(ValueError, match="epochs must be at least 1"):
        PipelineConfig(tune=True, tune_epochs=0)
    with pytest.raises(ValueError, match="preset 'notebook'"):
        PipelineConfig(tune=True, hyperparameters=PRESETS["notebook"])
    PipelineConfig(hyperparameters=PRESETS["notebook"])  # Not tuned: nothing to check.


def test_run_rejects_tune_for_the_notebook_preset(tmp_path, capsys):
    assert cli.main(["run", "--data", str(tmp_path / "none.csv"), "--output", str(tmp_path / "run"),
                     "--preset", "notebook", "--tune"]) == 2
    assert capsys.readouterr().err.startswith("error: tuning tries embedding_dim in (16, 32, 64)")


def _pipeline(tmp_path, config: PipelineConfig) -> tfx.dsl.Pipeline:
    return wiring.create_pipeline(config, RunFolder(str(tmp_path)).locations(str(tmp_path / "data.csv")))


def test_tuner_only_when_asked(tmp_path):
    plain = {node.id: node for node in _pipeline(tmp_path, PipelineConfig()).components}
    assert wiring.TUNER not in plain
    assert "hyperparameters" not in plain[wiring.TRAINER].inputs

    config = PipelineConfig(tune=True, tune_trials=3, tune_epochs=2, hyperparameters=PRESETS["wide-deep"])
    nodes = {node.id: node for node in _pipeline(tmp_path, config).components}
    tuner, trained = nodes[wiring.TUNER], nodes[wiring.TRAINER]
    assert trained.inputs["hyperparameters"] is tuner.outputs["best_hyperparameters"]
    assert tuner.exec_properties["tuner_fn"] == TUNER_FN
    custom = json.loads(tuner.exec_properties["custom_config"])
    hparams, trials = search_space.from_tuner_config(custom)
    assert (trials, hparams) == (3, dataclasses.replace(PRESETS["wide-deep"], epochs=2))
    assert custom["code"]  # Its own code fingerprint: editing the search re-runs it.


def test_a_trial_scores_the_epoch_early_stopping_kept():
    """The objective is the kept (lowest val_loss) epoch's log loss, not the lowest log loss of
    an epoch whose weights were thrown away."""
    history = {"val_loss": [0.52, 0.41, 0.45], "val_log_loss": [0.50, 0.39, 0.37]}
    result = trainer.TrainingResult(None, history, [1.0, 1.0, 1.0], 0.5, None, 0)
    assert (result.best_epoch, result.validation_log_loss, result.validation_loss) == (2, 0.39, 0.41)
    assert tuning.OBJECTIVE == "validation_log_loss"


def test_search_then_trainer_applies_the_best(fixture_model, tmp_path):
    """tuner_fn's two-trial search on the fixture's articles, the first trial the preset, then
    the values run_fn trains, given the best hyperparameters as TFX's Trainer passes them."""
    train_files = _fixture_train_files(fixture_model)
    result = tuning.tuner_fn(tfx.components.FnArgs(
        train_files=[train_files], transform_graph_path=fixture_model.transform_output,
        eval_files=[], working_dir=str(tmp_path / "tuner"),
        custom_config=search_space.tuner_config(SMALL, trials=2, epochs=1)))
    result.tuner.search(**result.fit_kwargs)

    trials = sorted(result.tuner.oracle.trials.values(), key=lambda trial: trial.trial_id)
    assert [trial.status for trial in trials] == ["COMPLETED", "COMPLETED"]
    assert trials[0].hyperparameters.values == search_space.declare(SMALL).values
    assert trials[1].hyperparameters.values != trials[0].hyperparameters.values
    assert result.tuner.oracle.objective.name == tuning.OBJECTIVE
    assert all(0 < trial.score < 1 for trial in trials)  # Each trial's score is a trained model's log loss.
    best = result.tuner.get_best_hyperparameters()[0]
    assert best.values == min(trials, key=lambda trial: trial.score).hyperparameters.values
    space = search_space.search_space(SMALL)
    assert all(value in space[name] for name, value in best.values.items())

    # What run_fn trains when TFX's Trainer passes the best values (the e2e test trains them).
    hparams, tuned = trainer.run_hyperparameters(tfx.components.FnArgs(
        hyperparameters=best.get_config(), custom_config=SMALL.as_custom_config()))
    assert tuned == best.values
    assert hparams == search_space.apply(SMALL, best.values)
    assert (hparams.lstm_units, hparams.dense_units) == (best.values["lstm_units"], (best.values["dense_units"],))
