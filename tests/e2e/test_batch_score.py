"""`fakenews score` on Beam's DirectRunner, with the session run's pushed model: the shards hold
serving_default's probabilities to 1e-5, and bad rows are counted, or refused, as the input
checks count or refuse them. (Under the portable runner: tests/e2e/test_portable.py.)"""

from __future__ import annotations

import csv
import io
import json
import pathlib

import pytest

from components.input_checks import ArticleColumns, FileSummary, InputError, check_file, check_summaries, input_id
from fakenews.cli import main as cli
from preprocessing import features
from tests.e2e.batch_score import assert_served_scores, fresh_articles, scored_shards, served_scores, write_csv
from tests.test_bad_data import JUNK_ROWS, NUL_STAND_IN

pytestmark = pytest.mark.e2e


def locally_checked(files: list[pathlib.Path]) -> tuple[list[dict[str, str]], FileSummary]:
    """The rows and counts of the checks run here, file by file, as `fakenews stage` runs them."""
    summary, rows = FileSummary(), []
    for path in files:
        with path.open("rb") as file:
            rows += check_file(str(path), file, ArticleColumns(), False, summary)
    check_summaries(str(files[0].parent), ArticleColumns(), summary)
    return rows, summary


def messy_folder(folder: pathlib.Path) -> list[pathlib.Path]:
    """Two files: 200 fresh articles; the other 200, then every junk row of the bad-data tests."""
    articles = fresh_articles()
    first = write_csv(folder / "a.csv", articles[:200])
    buffer = io.StringIO()
    writer = csv.writer(buffer)
    writer.writerow(list(articles[0]))
    writer.writerows([row[key] for key in articles[0]] for row in articles[200:])
    # Python's csv writer refuses NUL: write a stand-in and put the NUL bytes in afterwards.
    writer.writerows([value.replace("\x00", NUL_STAND_IN) for value in row] for row in JUNK_ROWS)
    second = folder / "b.csv"
    second.write_bytes(buffer.getvalue().replace(NUL_STAND_IN, "\x00").encode("utf-8"))
    return [first, second]


def test_scores_equal_serving_default_and_bad_rows_are_counted_as_the_checks_count_them(pipeline_run, tmp_path, capsys):
    files = messy_folder(tmp_path / "data")
    output = tmp_path / "scores"
    assert cli(["score", "--model-base", pipeline_run.serving_base, "--data", str(tmp_path / "data"),
                "--output", str(output)]) == 0
    printed = capsys.readouterr().out

    rows, summary = locally_checked(files)
    assert summary.counts.rows_staged == 400 + len(JUNK_ROWS) - 1  # The blank line is skipped.
    assert summary.counts.missing_ids_filled and summary.counts.nul_bytes_removed and summary.counts.duplicate_ids
    served = served_scores(pipeline_run.serving_base, [{**row, features.ID_KEY: input_id(row[features.ID_KEY])}
                                                       for row in rows])
    assert_served_scores(scored_shards(output), served)
    written = json.loads((output / "summary.json").read_text())
    assert written["input_counts"] == json.loads(summary.counts.counts_json())
    assert written["scored"] == len(served)
    assert written["unreliable"] == sum(label for _, _, label in served)
    assert f"Input:    {summary.counts.rows_read:,} rows read, {summary.counts.rows_staged:,} scored" in printed
    assert "columns not used: label" in printed


def test_a_row_the_checks_refuse_ends_the_run_with_their_line(pipeline_run, tmp_path, capsys):
    data = tmp_path / "bad.csv"
    data.write_text("id,title,author,text\n1,t,a,fine\n2,t,a,one,field too many\n", encoding="utf-8")
    with pytest.raises(InputError) as expected:
        locally_checked([data])
    assert cli(["score", "--model-base", pipeline_run.serving_base, "--data", str(data),
                "--output", str(tmp_path / "scores")]) == 2
    assert capsys.readouterr().err == f"error: {expected.value}\n"
