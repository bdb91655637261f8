"""Batch scoring's parts without a Beam pipeline (tests/e2e/test_batch_score.py runs it whole):
its scoring DoFn gives the served probabilities, its CSV rows keep them and the input's ids,
and `fakenews score` refuses what it cannot use before starting Beam."""

from __future__ import annotations

import csv
import io

import numpy as np
import pytest

from components import batch_scoring
from components.input_checks import ID_MARK, input_id, staged_id
from fakenews.cli import main as cli
from preprocessing import features
from tests.data import read_rows
from tests.fixture_model import FIXTURE_ROWS

ARTICLES = 100


def served(pushed_path: str, version: int, rows: list[dict[str, str]]) -> np.ndarray:
    """serving_default's probabilities as `fakenews serve` computes them (TF Serving's way: the
    SignatureDef run in a Session), in requests of at most 64 articles."""
    from serving.servable import Servable

    signature = Servable(pushed_path, version, max_batch=64).signature("serving_default")
    found = []
    for start in range(0, len(rows), 64):
        chunk = rows[start:start + 64]
        inputs = {key: np.array([row[key].encode("utf-8") for row in chunk], dtype=object) for key in features.TEXT_KEYS}
        found.extend(signature.run(inputs)["probability"])
    return np.array(found)


def test_the_scoring_dofn_gives_the_served_probabilities_to_1e_5(fixture_model):
    """Two copies of the DoFn, unpickled as Beam gives one to each worker thread, share one
    loaded model (Shared) and score alternate batches."""
    from apache_beam.internal import pickler

    rows = read_rows("articles.csv", limit=FIXTURE_ROWS + ARTICLES)[FIXTURE_ROWS:]
    checked = [{**row, features.ID_KEY: staged_id(row[features.ID_KEY])} for row in rows]
    pickled = pickler.dumps(batch_scoring.ScoreBatches(fixture_model.pushed_path))
    copies = [pickler.loads(pickled), pickler.loads(pickled)]
    for copy in copies:
        copy.setup()
    assert copies[0]._model is copies[1]._model
    batches = [checked[start:start + 37] for start in range(0, len(checked), 37)]
    scored = [output for i, batch in enumerate(batches) for output in copies[i % 2].process(batch)]
    assert [row_id for row_id, _, _ in scored] == [row[features.ID_KEY] for row in rows]
    np.testing.assert_allclose([p for _, p, _ in scored], served(fixture_model.pushed_path, fixture_model.version, rows),
                               rtol=0, atol=1e-5)
    assert {label for _, _, label in scored} <= {0, 1}


@pytest.mark.parametrize("row_id", ["7", "#7", "##x", "a,b", 'say "hi"', "1.5e3", "plain"])
def test_csv_rows_carry_the_input_id_and_the_float32_probability_exactly(row_id):
    probability = float(np.float32(0.123456789))
    line = batch_scoring.csv_line((input_id(staged_id(row_id)), probability, 1))
    parsed = next(csv.reader(io.StringIO(line)))
    assert parsed[0] == row_id
    assert np.float32(float(parsed[1])) == np.float32(probability)
    assert parsed[2] == "1"
    assert staged_id(row_id).startswith(ID_MARK) or staged_id(row_id) == row_id


def score_args(model_base: str, data: str, output: str, *extra: str) -> list[str]:
    return ["score", "--model-base", model_base, "--data", data, "--output", output, *extra]


def test_score_refuses_an_unserved_version(fixture_model, tmp_path, capsys):
    data = tmp_path / "a.csv"
    data.write_text("id,text\n1,some text\n")
    assert cli(score_args(fixture_model.serving_base, str(data), str(tmp_path / "out"), "--version", "1")) == 2
    assert capsys.readouterr().err == (f"error: {fixture_model.serving_base}: no version 1"
                                       f" (versions: {fixture_model.version})\n")


def test_score_refuses_a_version_folder_as_the_model_base(fixture_model, tmp_path, capsys):
    assert cli(score_args(fixture_model.pushed_path, str(tmp_path / "a.csv"), str(tmp_path / "out"))) == 2
    assert "is a version folder; pass its parent" in capsys.readouterr().err


def test_score_refuses_an_output_folder_holding_scores(fixture_model, tmp_path, capsys):
    output = tmp_path / "out"
    output.mkdir()
    (output / batch_scoring.SUMMARY_FILE).write_text("{}")
    data = tmp_path / "a.csv"
    data.write_text("id,text\n1,some text\n")
    assert cli(score_args(fixture_model.serving_base, str(data), str(output))) == 2
    assert capsys.readouterr().err.startswith(f"error: {output} already holds scores")


def test_score_with_the_dataflow_preset_needs_the_pipeline_image(fixture_model, tmp_path, capsys):
    args = score_args(fixture_model.serving_base, str(tmp_path / "a.csv"), str(tmp_path / "out"), "--beam-preset",
                      "dataflow", "--dataflow-project", "p", "--dataflow-region", "r", "--dataflow-temp-location", "gs://b/t")
    assert cli(args) == 2
    assert "needs the pipeline image its workers run (--image)" in capsys.readouterr().err


def test_score_refuses_a_base_without_versions(tmp_path, capsys):
    base = tmp_path / "base"
    (base / "tmp").mkdir(parents=True)  # Not a version folder.
    assert cli(score_args(str(base), str(tmp_path / "a.csv"), str(tmp_path / "out"))) == 2
    assert "no version folders" in capsys.readouterr().err


@pytest.mark.parametrize("name, message", [("missing.csv", "no such file or folder"),
                                           ("data.txt", "not a .csv file; pass a .csv file or a folder of them")])
def test_score_takes_a_csv_file_or_a_folder_as_the_pipeline_does(fixture_model, tmp_path, capsys, name, message):
    if name.endswith(".txt"):
        (tmp_path / name).write_text("id,text\n1,some text\n")
    assert cli(score_args(fixture_model.serving_base, str(tmp_path / name), str(tmp_path / "out"))) == 2
    assert capsys.readouterr().err == f"error: {tmp_path / name}: {message}\n"
