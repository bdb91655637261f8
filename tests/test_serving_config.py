"""Serving's configuration, stated once and read from there (no model, no server):
TF Serving's batching file gives the stand-in its batch limit; the version-folder rule is the
Pusher's and the model store's; a --model-base at the wrong level of the Pusher's layout is
refused with a hint; the READMEs' `docker run` lines pass the compose file's flags; the
serve/predict flags name a served model --model-name, and bad values are one-line errors."""

from __future__ import annotations

import re
import shlex

import pytest
import yaml
from google.protobuf import text_format

from components.served_versions import served_versions
from fakenews import cli
from serving import batching, settings
from serving.version_folders import list_versions, misplaced_base, version_number
from tests.data import REPO_ROOT

TFSERVING_CONFIG = REPO_ROOT / "serving" / "tfserving"


def _compose_service() -> dict:
    return yaml.safe_load((TFSERVING_CONFIG / "docker-compose.yml").read_text(encoding="utf-8"))["services"]["tfserving"]


# --- The batch limit: TF Serving's batching file -------------------------------------------

def test_the_stand_in_takes_its_batch_limit_from_the_file_tf_serving_is_given():
    flags = dict(flag.lstrip("-").split("=", 1) for flag in _compose_service()["command"])
    assert flags["enable_batching"] == "true"
    assert flags["batching_parameters_file"].endswith("/" + settings.BATCHING_PARAMETERS_FILE.rsplit("/", 1)[1])
    text = (TFSERVING_CONFIG / "batching_parameters.txt").read_text(encoding="utf-8")
    [stated] = re.findall(r"^max_batch_size\s*\{\s*value:\s*(\d+)\s*\}", text, re.MULTILINE)
    assert batching.max_batch_size() == int(stated) == 64


def test_a_batching_file_is_parsed_as_a_text_proto(tmp_path):
    path = tmp_path / "batching.txt"
    path.write_text("# comment\nmax_batch_size {\n  value: 8\n}\nnum_batch_threads { value: 2 }\n"
                    "allowed_batch_sizes: 4\nallowed_batch_sizes: 8\n", encoding="utf-8")
    assert batching.max_batch_size(str(path)) == 8
    path.write_text("num_batch_threads { value: 2 }\n", encoding="utf-8")
    assert batching.max_batch_size(str(path)) == batching.DEFAULT_MAX_BATCH_SIZE  # TF Serving's default.
    path.write_text("max_batch_sise { value: 8 }\n", encoding="utf-8")  # A typo TF Serving would refuse too.
    with pytest.raises(ValueError, match="not a BatchingParameters text proto.*max_batch_sise"):
        batching.max_batch_size(str(path))
    with pytest.raises(text_format.ParseError):  # What the ValueError wraps: protobuf's own parser.
        text_format.Parse("max_batch_size: 8", batching._batching_parameters_class()())


def test_the_refusal_is_worded_as_tf_serving_words_it():
    assert batching.batch_too_large(65, 64) == "Task size 65 is larger than maximum input batch size 64"


def test_serve_refuses_a_bad_batching_file_in_one_line(tmp_path, capsys):
    (tmp_path / "base").mkdir()
    bad = tmp_path / "batching.txt"
    bad.write_text("max_batch_size { value: -1 }\n", encoding="utf-8")
    assert cli.main(["serve", "--model-base", str(tmp_path / "base"), "--batching-parameters-file", str(bad)]) == 2
    error = capsys.readouterr().err
    assert error.startswith("error: --batching-parameters-file:") and error.count("\n") == 1


# --- The version-folder rule ----------------------------------------------------------------

def test_the_pusher_and_the_model_store_read_version_folders_alike(tmp_path):
    for name in ("1", "0042", "1796118755", "²", "٣", "1.5", "-2", ".pushing-7-abcd", "v3", "tmp"):
        (tmp_path / name).mkdir()
    (tmp_path / "9").write_text("a file, not a folder", encoding="utf-8")
    assert [version_number(name) for name in ("1", "0042", "²", "٣", "-2", "1/")] == [1, 42, None, None, None, 1]
    assert sorted(list_versions(str(tmp_path))) == [1, 42, 1796118755]
    assert served_versions(str(tmp_path)) == [1, 9, 42, 1796118755]  # The Pusher never writes files.


def _saved_model(folder) -> None:
    folder.mkdir(parents=True)
    (folder / "saved_model.pb").write_bytes(b"")  # The layout is what is checked, not the graph.


def test_a_model_base_at_the_wrong_level_is_named_with_the_right_one(tmp_path):
    run = tmp_path / "run"
    base = run / "serving" / "fakenews"
    _saved_model(base / "1796118755")
    (run / "pipeline" / "Trainer" / "model" / "7").mkdir(parents=True)  # Numbered, but not a SavedModel.
    assert misplaced_base(str(base)) is None
    assert misplaced_base(str(base / "1796118755")) == (
        f"{base / '1796118755'} is a version folder; pass its parent {base}")
    assert misplaced_base(str(run / "serving")) == f"{run / 'serving'} holds no version folders but {base} does; pass that"
    assert misplaced_base(str(run)) == f"{run} holds no version folders but {base} does; pass that"
    _saved_model(tmp_path / "exported")
    assert "is a SavedModel, not a folder of versions" in misplaced_base(str(tmp_path / "exported"))
    (tmp_path / "empty").mkdir()
    assert misplaced_base(str(tmp_path / "empty")) is None  # Waiting for the first push is fine.


def test_serve_refuses_a_version_folder_in_one_line_before_loading_anything(tmp_path, capsys):
    _saved_model(tmp_path / "serving" / "fakenews" / "3")
    assert cli.main(["serve", "--model-base", str(tmp_path / "serving" / "fakenews" / "3")]) == 2
    error = capsys.readouterr().err
    assert error == (f"error: --model-base: {tmp_path}/serving/fakenews/3 is a version folder; "
                     f"pass its parent {tmp_path}/serving/fakenews\n")


# --- One source for the ports and the docker run flags --------------------------------------

def test_the_compose_file_publishes_settings_ports():
    assert _compose_service()["ports"] == [f"{settings.GRPC_PORT}:{settings.GRPC_PORT}",
                                           f"{settings.REST_PORT}:{settings.REST_PORT}"]


def _docker_runs(markdown: str) -> list[list[str]]:
    """Each `docker run ...` command in a README's code blocks, continuation lines and '# '
    prefixes (a command shown as a comment) joined."""
    commands = []
    in_code = False
    lines = iter(markdown.splitlines())
    for line in lines:
        if line.startswith("```"):
            in_code = not in_code
        text = line.lstrip("# ").strip()
        if not in_code or "docker run" not in text:
            continue
        while text.endswith("\\"):
            text = text[:-1] + " " + next(lines).lstrip("# ").strip()
        commands.append(shlex.split(text[text.index("docker run"):]))
    return commands


@pytest.mark.parametrize("readme", ["README.md", "serving/README.md"])
def test_readme_docker_run_lines_pass_the_compose_files_flags(readme):
    service = _compose_service()
    runs = _docker_runs((REPO_ROOT / readme).read_text(encoding="utf-8"))
    for command in runs:
        image = command.index(service["image"])
        assert command[image + 1:] == service["command"], f"{readme}: {shlex.join(command)}"
        env = [command[i + 1] for i, word in enumerate(command[:image]) if word == "-e"]
        assert env == service["environment"]
    assert runs or readme == "README.md"  # The main README may point to serving/README.md instead.


# --- Flags --------------------------------------------------------------------------------

def _options(command: str) -> set[str]:
    parser = cli.build_parser()
    subparsers = next(action for action in parser._actions if action.dest == "command")
    return {option for action in subparsers.choices[command]._actions for option in action.option_strings}


@pytest.mark.parametrize("command", ["serve", "predict"])
def test_a_served_models_name_is_model_name(command):
    options = _options(command)
    assert "--model-name" in options and "--model" not in options


@pytest.mark.parametrize("value", ["-1", "0", "nan"])
def test_predict_timeout_must_be_positive_and_says_so_in_one_line(value, capsys):
    with pytest.raises(SystemExit) as exited:
        cli.main(["predict", "--rest", "http://127.0.0.1:1", "--timeout", value, "--text", "x"])
    assert exited.value.code == 2
    error = capsys.readouterr().err.strip().splitlines()[-1]
    assert error == f"fakenews predict: error: argument --timeout: must be > 0, got {value}"
