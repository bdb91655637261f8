"""The command line: `fakenews run`'s model options reach the pipeline's hyperparameters; a
setting the model cannot use, a bad input, and Ctrl-C stop a command with one line; no command
expands an abbreviated flag; `stage` reads the input as `run` does and prints its counts; the
environment's third-party FutureWarnings are not printed."""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import pytest

from fakenews import cli
from fakenews.commands import run
from pipeline import local_runner
from components.hyperparameters import PRESETS
from tests.data import REPO_ROOT


def _args(*extra: str):
    return cli.build_parser().parse_args(["run", "--data", "x.csv", *extra])


def test_the_default_is_the_wide_style_preset():
    assert run.config_from(_args()).hyperparameters == PRESETS["wide-style"]


def test_model_options_override_the_preset():
    hparams = run.config_from(_args("--preset", "notebook", "--epochs", "3", "--ensemble-size", "2")).hyperparameters
    assert (hparams.preset, hparams.epochs, hparams.ensemble_size) == ("notebook", 3, 2)
    assert hparams.lstm_units == PRESETS["notebook"].lstm_units


def test_threshold_for_sets_what_the_threshold_maximises():
    assert run.config_from(_args()).hyperparameters.threshold_metric == "f1"
    hparams = run.config_from(_args("--preset", "linear", "--threshold-for", "accuracy")).hyperparameters
    assert (hparams.threshold_metric, hparams.tune_threshold) == ("accuracy", True)
    # The notebook keeps its 0.5 unless asked.
    assert not run.config_from(_args("--preset", "notebook")).hyperparameters.tune_threshold
    assert run.config_from(_args("--preset", "notebook", "--threshold-for", "f1")).hyperparameters.tune_threshold


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


# (command, arguments it needs, a long option, its value): the option in full parses, the same
# option less its last letter is an error, where argparse used to expand it silently.
ABBREVIATIONS = [
    ("run", ["--data", "x.csv"], "--epochs", ["1"]),
    ("demo-data", ["folder"], "--rows", ["5"]),
    ("report", [], "--output", ["runs/x"]),
    ("serve", ["--model-base", "x"], "--poll-seconds", ["1"]),
    ("predict", ["--rest", "http://localhost:1", "--text", "t"], "--timeout", ["5"]),
    ("stage", ["--data", "x.csv", "--output", "staged"], "--drop-invalid", []),
    ("compile-kubeflow", ["--image", "fakenews:0.1.0", "--pipeline-root", "gs://b/f", "--data", "gs://b/s",
                          "--manifests-dir", "m"], "--model-pvc", ["notebook"]),
    ("score", ["--model-base", "m", "--data", "x.csv", "--output", "o"], "--version", ["3"]),
    ("drift", ["--output", "runs/x", "--data", "x.csv"], "--model-name", ["fakenews"]),
]


def test_every_command_has_an_entry_in_the_abbreviation_test():
    assert sorted(command for command, *_ in ABBREVIATIONS) == sorted(cli.COMMANDS)


@pytest.mark.parametrize("command, needed, option, value", ABBREVIATIONS, ids=[a[0] for a in ABBREVIATIONS])
def test_an_abbreviated_flag_is_an_error(capsys, command, needed, option, value):
    cli.build_parser().parse_args([command, *needed, option, *value])  # In full: accepted.
    abbreviated = option[:-1] if command != "compile-kubeflow" else "--model"  # The reported case.
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, *needed, abbreviated, *value])
    assert exit_.value.code == 2
    assert f"unrecognized arguments: {abbreviated}" in capsys.readouterr().err


def test_stage_takes_runs_input_flags_and_prints_its_input_counts(capsys, tmp_path):
    """Renamed columns, --drop-invalid and an output folder that does not exist yet."""
    from pipeline.config import Columns
    from pipeline.input_check import check_and_stage

    data = tmp_path / "in.csv"
    data.write_text("doc,headline,body,is_fake,url\n1,h,the body,1,u\n2,h,,0,u\n3,h,b,maybe,u\n4,,!!!,0,u\n",
                    encoding="utf-8")
    output = tmp_path / "not" / "yet"
    flags = ["--id-column", "doc", "--title-column", "headline", "--author-column", "", "--text-column", "body",
             "--label-column", "is_fake", "--drop-invalid"]
    assert cli.main(["stage", "--data", str(data), "--output", str(output), *flags]) == 0
    out, err = capsys.readouterr()
    staged = pathlib.Path(out.strip())
    assert staged.is_file() and output in staged.parents
    expected = check_and_stage(data, tmp_path / "again", Columns(id="doc", title="headline", author=None,
                                                                 text="body", label="is_fake"), drop_invalid=True)
    for line in expected.summary_lines():
        assert line in err, err
    for shown in ("3 rows staged of 4 read", "invalid labels skipped: 1", "empty texts: 1",
                  "documents of digits/punctuation only: 1", "columns not used: url"):
        assert shown in err, err


def test_stage_fails_in_one_line_on_bad_input(capsys, tmp_path):
    data = tmp_path / "in.csv"
    data.write_text("id,title,author,text,label\n1,t,a,b,2\n", encoding="utf-8")
    assert cli.main(["stage", "--data", str(data), "--output", str(tmp_path / "staged")]) == 2
    assert capsys.readouterr().err.startswith(f"error: {data}:2: label '2' is not 0 or 1")


def test_commands_print_no_third_party_future_warning(tmp_path):
    """compile-kubeflow imports what `run` and `report` import (TFX, KFP, the Google clients):
    none of the environment's FutureWarnings reach the console."""
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    env.pop("PYTHONWARNINGS", None)
    done = subprocess.run(
        [sys.executable, "-m", "fakenews", "compile-kubeflow", "--image", "fakenews:0.1.0", "--pipeline-root",
         "gs://b/f", "--data", "gs://b/s", "--output", str(tmp_path / "pipeline.json")],
        env=env, capture_output=True, text=True, check=False, cwd=tmp_path)
    assert done.returncode == 0, done.stderr
    assert "FutureWarning" not in done.stderr, done.stderr


@pytest.mark.parametrize("argv", [["--help"], ["predict", "--help"], ["serve", "--help"]])
def test_a_command_imports_neither_tfx_nor_the_others_modules(argv):
    """Only the command being run gets its arguments: compile-kubeflow's import TFX and KFP,
    seconds that `fakenews predict`, `serve` and `--help` do not wait for."""
    probe = ("import sys; from fakenews import cli\n"
             "try:\n    cli.main(sys.argv[1:])\nexcept SystemExit:\n    pass\n"
             "print(sorted(m for m in ('tfx', 'kfp', 'tensorflow') if m in sys.modules))")
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT)}
    done = subprocess.run([sys.executable, "-c", probe, *argv], env=env, capture_output=True, text=True, check=True)
    assert done.stdout.strip().splitlines()[-1] == "[]"


def test_our_own_warnings_stay_visible():
    import warnings

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        cli.silence_third_party_noise()
        warnings.warn("ours", FutureWarning)
        warnings.warn_explicit("theirs", FutureWarning, "x.py", 1, module="google.api_core._python_version_support")
    assert [str(w.message) for w in caught] == ["ours"]


@pytest.mark.parametrize("command, needed", [
    ("predict", ["--rest", "http://localhost:1", "--text", "t"]),
    ("serve", ["--model-base", "x"]),
])
def test_a_served_model_is_named_by_model_name_never_model(capsys, command, needed):
    """`--model` once named a preset in `run` and a served model in `predict`: no command reads
    `--model` as `--model-name` now (`run` names presets with `--preset`)."""
    assert cli.build_parser().parse_args([command, *needed, "--model-name", "other"]).model_name == "other"
    with pytest.raises(SystemExit) as exit_:
        cli.main([command, *needed, "--model", "other"])
    assert exit_.value.code == 2
    assert "unrecognized arguments: --model" in capsys.readouterr().err
