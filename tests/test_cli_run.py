"""`fakenews run`'s model options reach the pipeline's hyperparameters; a setting the model
cannot use stops the command with one line before anything runs, and so does Ctrl-C."""

from __future__ import annotations

from fakenews import cli
from fakenews.commands import run
from pipeline import local_runner
from components.hyperparameters import PRESETS


def _args(*extra: str):
    return cli.build_parser().parse_args(["run", "--data", "x.csv", *extra])


def test_the_default_is_the_improved_preset():
    assert run.config_from(_args()).hyperparameters == PRESETS["improved"]


def test_model_options_override_the_preset():
    hparams = run.config_from(_args("--preset", "notebook", "--epochs", "3", "--ensemble-size", "2")).hyperparameters
    assert (hparams.preset, hparams.epochs, hparams.ensemble_size) == ("notebook", 3, 2)
    assert hparams.lstm_units == PRESETS["notebook"].lstm_units


def test_an_impossible_setting_is_a_one_line_error(capsys, tmp_path):
    assert cli.main(["run", "--data", "x.csv", "--output", str(tmp_path), "--ensemble-size", "0"]) == 2
    assert capsys.readouterr().err.strip() == "error: ensemble_size must be at least 1, got 0"
    assert not any(tmp_path.iterdir())  # Nothing was written.


def test_ctrl_c_is_a_one_line_error_with_the_resume_hint(capsys, tmp_path, monkeypatch):
    def interrupted(*_args, **_kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr(local_runner, "run", interrupted)
    assert cli.main(["run", "--data", "x.csv", "--output", str(tmp_path)]) == 130
    error = capsys.readouterr().err
    assert error.count("\n") == 1 and "interrupted by Ctrl-C" in error and "re-run the same command" in error


def test_ctrl_c_in_any_command_is_a_one_line_error(capsys, monkeypatch):
    from fakenews.commands import report

    def interrupted(_args):
        raise KeyboardInterrupt

    monkeypatch.setattr(report, "main", interrupted)
    assert cli.main(["report"]) == 130
    assert capsys.readouterr().err == "error: report interrupted by Ctrl-C\n"
