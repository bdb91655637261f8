"""The input check runs before Beam: bad files fail in one line naming the file and line."""

from __future__ import annotations

import csv
import pathlib

import pytest

from pipeline.config import Columns
from components.input_checks import InputError
from pipeline.input_check import check_and_stage

HEADER = "id,title,author,text,label\n"


def write(tmp_path: pathlib.Path, content: str | bytes, name: str = "data.csv") -> pathlib.Path:
    path = tmp_path / name
    path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
    return path


def staged_rows(report) -> list[dict[str, str]]:
    with open(report.staged_csv, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize(
    "content, message",
    [
        ("id,title,author,label\n1,t,a,0\n", "missing required column 'text'"),
        ("", "file is empty"),
        ("\n\n", "file is empty"),
        (HEADER, "no data rows"),
        (HEADER + '1,"unbalanced,a,b,0\n2,t,a,b,1\n', ":2: "),
        (HEADER + "1,t,a,b,fake\n", ":2: label 'fake' is not 0 or 1"),
        (HEADER + "1,t,a,b,0\n2,t,a,b,2\n", ":3: label '2' is not 0 or 1"),
        (HEADER + "1,t,a,b,0\n2,t,a,b\n", ":3: expected 5 fields, found 4"),
    ],
    ids=["missing-text-column", "empty", "blank-lines-only", "header-only", "unbalanced-quote",
         "label-word", "label-2", "short-row"],
)
def test_bad_input_fails_in_one_line_naming_the_file(tmp_path, content, message):
    path = write(tmp_path, content)
    with pytest.raises(InputError) as error:
        check_and_stage(path, tmp_path / "staged")
    text = str(error.value)
    assert str(path) in text and message in text
    assert "\n" not in text


def test_non_utf8_names_the_line(tmp_path):
    path = write(tmp_path, HEADER.encode() + b"1,t,a,ok,0\n2,t,a,caf\xe9,1\n")
    with pytest.raises(InputError, match=r"data\.csv:3: not UTF-8 \(byte 0xe9\)"):
        check_and_stage(path, tmp_path / "staged")


def test_missing_path(tmp_path):
    with pytest.raises(InputError, match="no such file"):
        check_and_stage(tmp_path / "nope.csv", tmp_path / "staged")


def test_drop_invalid_counts_skipped_labels(tmp_path):
    path = write(tmp_path, HEADER + "1,t,a,b,0\n2,t,a,b,fake\n3,t,a,b,\n4,t,a,b,1\n")
    report = check_and_stage(path, tmp_path / "staged", drop_invalid=True)
    assert report.invalid_labels_skipped == 2
    assert [row["id"] for row in staged_rows(report)] == ["#1", "#4"]  # Ids staged as text.


def test_quoted_newlines_bom_crlf_and_nul_are_cleaned(tmp_path):
    content = "\ufeff" + HEADER.replace("\n", "\r\n") + '1,"two\r\nline title",,"text with ""quotes"", and\nnewline",1\r\n2,t,a,b\x00c,0\r\n'
    report = check_and_stage(write(tmp_path, content), tmp_path / "staged")
    rows = staged_rows(report)
    assert rows[0] == {"id": "#1", "title": "two line title", "author": "",
                       "text": 'text with "quotes", and newline', "label": "1"}
    assert rows[1]["text"] == "bc"
    assert report.nul_bytes_removed == 1
    # CsvExampleGen reads line by line: every staged row must be one physical line.
    assert len(pathlib.Path(report.staged_csv).read_text(encoding="utf-8").splitlines()) == 3


def test_dataset_without_author_and_renamed_columns(tmp_path):
    path = write(tmp_path, "doc,headline,body,is_fake\n1,h,b,1\n,h2,b2,0\n")
    report = check_and_stage(
        path, tmp_path / "staged",
        Columns(id="doc", title="headline", author=None, text="body", label="is_fake"),
    )
    rows = staged_rows(report)
    assert [r["author"] for r in rows] == ["", ""]
    assert rows[1]["id"] == "data.csv:3" and report.missing_ids_filled == 1
    assert report.label_counts == {"0": 1, "1": 1}


def test_folder_of_files_counts_duplicates_and_restaging_is_stable(tmp_path):
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder, HEADER + "1,t,a,b,0\n", "a.csv")
    write(folder, HEADER + "1,t,a,b,0\n2,,,,1\n", "b.csv")
    first = check_and_stage(folder, tmp_path / "staged")
    assert first.rows_staged == 3 and first.duplicate_ids == 1 and first.empty_documents == 1
    mtime = pathlib.Path(first.staged_csv).stat().st_mtime_ns
    second = check_and_stage(folder, tmp_path / "staged")
    # Same content, same file untouched: CsvExampleGen's fingerprint (and the cache) holds.
    assert second.staged_csv == first.staged_csv
    assert pathlib.Path(second.staged_csv).stat().st_mtime_ns == mtime


def test_real_articles_stage_row_for_row():
    from tests.data import canonical_path, read_rows

    import tempfile

    with tempfile.TemporaryDirectory() as staging:
        report = check_and_stage(canonical_path("articles.csv"), staging)
        assert report.rows_staged == len(read_rows("articles.csv")) == 6_859
        assert report.label_counts == {"0": 5_233, "1": 1_626}


@pytest.mark.parametrize("column", ["author", "title"])
def test_a_folder_where_one_file_lacks_an_optional_column_is_refused(tmp_path, column):
    """Empty exactly for one file's rows, the column would tell the model the file, not the article."""
    folder = tmp_path / "in"
    folder.mkdir()
    write(folder, HEADER + "1,t,a,b,0\n", "a.csv")
    lacking = write(folder, HEADER.replace(f"{column},", "") + "2,x,c,1\n", "b.csv")
    with pytest.raises(InputError) as error:
        check_and_stage(folder, tmp_path / "staged")
    assert str(error.value) == (f"{lacking}: no column {column!r}, which a.csv has;"
                                f" add it, or pass --{column}-column '' to use no {column} from any file")
    assert not (tmp_path / "staged").exists()
    without = Columns(**{column: None})  # The flag's way out: the column is used from no file.
    assert check_and_stage(folder, tmp_path / "staged", without).rows_staged == 2


def test_staged_ids_are_text_and_stay_distinct(tmp_path):
    """Ids that would read as numbers get the mark; one already starting with it too."""
    from components.input_checks import staged_id

    path = write(tmp_path, HEADER + "".join(f"{i},t,a,b,0\n" for i in ("7", "#7", "abc", "1.5", " 8", "nan")))
    report = check_and_stage(path, tmp_path / "staged")
    assert [row["id"] for row in staged_rows(report)] == ["#7", "##7", "abc", "#1.5", "# 8", "#nan"]
    assert report.duplicate_ids == 0
    assert staged_id("coaid/07-01-2020/real/2408") == "coaid/07-01-2020/real/2408"  # Real ids as they are.


def test_a_file_not_named_csv_is_refused_as_the_pipeline_refuses_it(tmp_path):
    """The pipeline reads a name ending in .csv as a file and anything else as a folder
    (components/checked_csv_example_gen.input_config): the pre-check says so at once."""
    path = write(tmp_path, "id,title,author,text,label\n1,t,a,b,0\n", name="data.txt")
    with pytest.raises(InputError, match=r"data.txt: not a .csv file; pass a .csv file or a folder of them"):
        check_and_stage(path, tmp_path / "staged")


def test_articles_to_score_are_checked_without_a_label(tmp_path):
    """ArticleColumns (batch scoring, the drift check) reads no label: a file without one is
    fine, and one with any value there is too (the column is listed as not used)."""
    from components.input_checks import ArticleColumns, FileSummary, check_file

    for content in ("id,title,author,text\n7,T,A,some words\n,,,more words\n",
                    "id,title,author,text,label\n7,T,A,some words,fake\n,,,more words,\n"):
        path = write(tmp_path, content)
        summary = FileSummary()
        with path.open("rb") as file:
            rows = list(check_file(str(path), file, ArticleColumns(), False, summary))
        assert rows == [{"id": "#7", "title": "T", "author": "A", "text": "some words", "label": ""},
                        {"id": "data.csv:3", "title": "", "author": "", "text": "more words", "label": ""}]
        assert summary.counts.label_counts == {"0": 0, "1": 0} and summary.counts.missing_ids_filled == 1
        assert summary.counts.ignored_columns == (["label"] if "label" in content else [])


@pytest.mark.parametrize("value", ["7", "#7", "##7", "1.5", "abc", "#", ""])
def test_input_id_undoes_staged_id(value):
    from components.input_checks import input_id, staged_id

    assert input_id(staged_id(value)) == value
