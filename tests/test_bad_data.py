"""Bad data at ingestion: every case has one documented outcome, decided before Beam starts.

Either the row is cleaned (or kept) and counted in the StagingReport, which the run summary
prints, or the run stops with a one-line InputError naming the file and, for a row, its line.
`--drop-invalid` turns invalid labels into counted skips. The table of cases and outcomes is in
README ("What happens when things go wrong"); the last test drives one file holding every
"cleaned and counted" case through the real pipeline, to show nothing of it reaches Beam in a form that crashes there.
"""

from __future__ import annotations

import csv
import dataclasses
import io
import pathlib

import pytest

from components.input_checks import InputError, csv_value_type
from pipeline.config import Columns
from pipeline.input_check import StagingReport, check_and_stage

HEADER = "id,title,author,text,label\n"
GOOD = "g1,A real title,Jane Doe,Some real article text about the economy,0\n"
ONE_MB = 1024 * 1024
# ~1 MB of words: the staged copy keeps it whole; the graph keeps its last 500 tokens.
LONG_TEXT = " ".join(["senators debated the budget late into the night"] * (ONE_MB // 48))


@dataclasses.dataclass(frozen=True)
class Staged:
    """Outcome: the file stages. counts: the StagingReport fields expected non-zero (all the
    other counts must be zero); rows: how many rows the staged CSV holds."""

    rows: int
    counts: dict[str, int] = dataclasses.field(default_factory=dict)
    ignored_columns: tuple[str, ...] = ()


@dataclasses.dataclass(frozen=True)
class Fails:
    """Outcome: InputError, one line, starting with "<file>:<line>: " (line None: "<file>: ")."""

    line: int | None
    message: str


COUNT_FIELDS = ("invalid_labels_skipped", "blank_lines_skipped", "empty_texts", "empty_documents",
                "letterless_documents", "non_latin_documents", "stopword_only_documents",
                "multiline_rows_joined", "duplicate_ids", "missing_ids_filled", "nul_bytes_removed")

# (id, file content, drop_invalid, outcome). Each file is written by the test.
CASES: list[tuple[str, bytes, bool, Staged | Fails]] = [
    ("empty-text", (HEADER + GOOD + "2,Only a title here,,,1\n").encode(), False,
     Staged(2, {"empty_texts": 1})),
    ("empty-document", (HEADER + GOOD + "2,,,,1\n").encode(), False,
     Staged(2, {"empty_documents": 1})),
    ("punctuation-only", (HEADER + GOOD + '2,"?!",,"!!! ... --- ???",1\n').encode(), False,
     Staged(2, {"letterless_documents": 1})),
    ("digits-only-rows", (HEADER + GOOD + "2,2016,,12 31,1\n3,,,42,0\n").encode(), False,
     Staged(3, {"letterless_documents": 2})),
    # A whole text column of numbers would become an INT feature in CsvExampleGen and crash the
    # Transform's string ops: it is a wrong column mapping, refused here.
    ("digits-only-column", (HEADER + "1,,,2016,0\n2,,,42,1\n").encode(), False,
     Fails(2, "every value of column 'text' is a number (here '2016')")),
    ("numeric-author-column", (HEADER + "1,t,17,a text,0\n2,t,23,b text,1\n").encode(), False,
     Fails(2, "pass --author-column '' if the data has no author")),
    # Ids are staged as text (components.input_checks.staged_id), whatever they look like.
    ("decimal-ids", (HEADER + "1.5,t,a,a text,0\n2.5,t,a,b text,1\n").encode(), False, Staged(2)),
    ("non-latin", (HEADER + GOOD + "2,Новости дня,Иван Петров,Это фейк. 假新闻,1\n").encode(), False,
     Staged(2, {"non_latin_documents": 1})),
    # Every a-z word a stopword: the cleaning drops them all.
    ("stopwords-only", (HEADER + GOOD + "2,To be or not,,To be? It is what it was!,1\n").encode(), False,
     Staged(2, {"stopword_only_documents": 1})),
    ("stopwords-only-title-no-text", (HEADER + GOOD + "2,Is it?,,,1\n").encode(), False,
     Staged(2, {"stopword_only_documents": 1})),  # No token at all: counted so, not as an empty text.
    ("accents-and-latin", (HEADER + GOOD + "2,Café,Zoë,Crème brûlée à la française,1\n").encode(), False,
     Staged(2)),  # Has a-z letters: tokens survive ("caf", "cr", "me" ...), nothing to count.
    ("one-mb-article", (HEADER + GOOD + f"2,Long,,{LONG_TEXT},1\n").encode(), False, Staged(2)),
    ("nul-bytes", (HEADER + GOOD + "2,t\x00i\x00tle,,te\x00xt,1\n").encode(), False,
     Staged(2, {"nul_bytes_removed": 3})),
    ("crlf", (HEADER + GOOD + "2,t,a,second text,1\n").replace("\n", "\r\n").encode(), False, Staged(2)),
    ("quoted-newlines", (HEADER + GOOD + '2,"two\nline title",,"para one\r\n\r\npara two",1\n').encode(),
     False, Staged(2, {"multiline_rows_joined": 1})),
    ("bom", ("\ufeff" + HEADER + GOOD).encode(), False, Staged(1)),
    ("duplicate-ids", (HEADER + GOOD + GOOD.replace(",0\n", ",1\n")).encode(), False,
     Staged(2, {"duplicate_ids": 1})),
    ("missing-ids", (HEADER + GOOD + ",t,a,another text,1\n").encode(), False,
     Staged(2, {"missing_ids_filled": 1})),
    ("blank-lines", (HEADER + "\n" + GOOD + ",,,,\n\n" + "2,t,a,x,1\n").encode(), False,
     Staged(2, {"blank_lines_skipped": 3})),
    *[(f"label-{name}", (HEADER + GOOD + f"2,t,a,some text,{label}\n").encode(), False,
       Fails(3, f"label {label!r} is not 0 or 1 (pass --drop-invalid"))
      for name, label in (("fake", "fake"), ("2", "2"), ("minus-1", "-1"), ("empty", ""))],
    *[(f"label-{name}-dropped", (HEADER + GOOD + f"2,t,a,some text,{label}\n").encode(), True,
       Staged(1, {"invalid_labels_skipped": 1}))
      for name, label in (("fake", "fake"), ("2", "2"), ("minus-1", "-1"), ("empty", ""))],
    ("label-spaces", (HEADER + GOOD + "2,t,a,some text, 1 \n").encode(), False, Staged(2)),
    ("only-invalid-labels-dropped", (HEADER + "1,t,a,x,fake\n").encode(), True,
     Fails(None, "every row was skipped; nothing to train on")),
    ("extra-columns", b"id,title,source,author,text,url,label\n"
     b"1,t,Reuters,a,some text,http://x.test/1,0\n", False, Staged(1, ignored_columns=("source", "url"))),
    ("header-only", HEADER.encode(), False, Fails(None, "no data rows, only a header")),
    ("header-only-crlf-bom", ("\ufeff" + HEADER).replace("\n", "\r\n").encode(), False,
     Fails(None, "no data rows, only a header")),
    ("latin-1", HEADER.encode() + GOOD.encode() + "2,Caf\xe9,,d\xe9j\xe0 vu,1\n".encode("latin-1"), False,
     Fails(3, "not UTF-8 (byte 0xe9); re-save the file as UTF-8")),
    ("too-many-fields", (HEADER + GOOD + "2,t,a,an, unquoted comma,1\n").encode(), False,
     Fails(3, "expected 5 fields, found 6")),
    ("unbalanced-quote", (HEADER + GOOD + '2,"t,a,text,1\n').encode(), False, Fails(3, "malformed CSV")),
]


def staged_rows(report: StagingReport) -> list[dict[str, str]]:
    with open(report.staged_csv, encoding="utf-8", newline="") as f:
        return list(csv.DictReader(f))


@pytest.mark.parametrize("content, drop_invalid, outcome", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_each_bad_input_has_its_documented_outcome(tmp_path, content, drop_invalid, outcome):
    path = tmp_path / "input.csv"
    path.write_bytes(content)
    if isinstance(outcome, Fails):
        with pytest.raises(InputError) as error:
            check_and_stage(path, tmp_path / "staged", drop_invalid=drop_invalid)
        message = str(error.value)
        assert "\n" not in message
        prefix = f"{path}:{outcome.line}: " if outcome.line is not None else f"{path}: "
        assert message.startswith(prefix), message
        assert outcome.message in message, message
        assert not (tmp_path / "staged").exists()  # Nothing staged, so nothing reaches Beam.
        return

    report = check_and_stage(path, tmp_path / "staged", drop_invalid=drop_invalid)
    counts = {field: getattr(report, field) for field in COUNT_FIELDS}
    assert counts == {field: outcome.counts.get(field, 0) for field in COUNT_FIELDS}
    assert report.ignored_columns == list(outcome.ignored_columns)
    rows = staged_rows(report)
    assert len(rows) == report.rows_staged == outcome.rows
    # CsvExampleGen reads the staged file line by line: one row, one physical line, always;
    # and the canonical header without a BOM.
    staged_text = pathlib.Path(report.staged_csv).read_text(encoding="utf-8")
    assert staged_text.startswith("id,title,author,text,label\n")
    assert len(staged_text.splitlines()) == outcome.rows + 1
    assert "\x00" not in staged_text and "\r" not in staged_text
    assert all(row["label"] in ("0", "1") for row in rows)


def test_cleaned_values_are_what_the_model_should_see(tmp_path):
    """The cases above count; these show the staged values themselves."""
    path = tmp_path / "input.csv"
    path.write_bytes(("\ufeff" + HEADER + '1,"two\nlines",,"a\r\nb",0\r\n2,t,,x\x00y,1\r\n'
                      f"3,Long,,{LONG_TEXT},1\r\n4,Новости,,,0\r\n").encode())
    rows = staged_rows(check_and_stage(path, tmp_path / "staged"))
    # The BOM is not part of "id"; ids that read as numbers are staged as text (staged_id).
    assert [row["id"] for row in rows] == ["#1", "#2", "#3", "#4"]
    assert (rows[0]["title"], rows[0]["text"]) == ("two lines", "a b")
    assert rows[1]["text"] == "xy"
    assert rows[2]["text"] == LONG_TEXT and len(LONG_TEXT) > 0.99 * ONE_MB  # Kept whole.
    assert rows[3]["title"] == "Новости"  # Kept as is: the graph, not staging, drops non a-z.


def test_extra_columns_are_ignored_even_when_named_like_ours_elsewhere(tmp_path):
    """A renamed mapping leaves the data's own 'text' column unused, and says so."""
    path = tmp_path / "input.csv"
    path.write_text("doc,headline,body,text,is_fake\n1,h,the body,not this,1\n", encoding="utf-8")
    report = check_and_stage(path, tmp_path / "staged",
                             Columns(id="doc", title="headline", author=None, text="body", label="is_fake"))
    assert report.ignored_columns == ["text"]
    assert staged_rows(report)[0]["text"] == "the body"


@pytest.mark.parametrize("value", ["", "0", "42", "-7", " 12 ", "1_000", "9223372036854775807",
                                   "9223372036854775808", "1.5", "1e5", "nan", "inf", "-Infinity",
                                   "12 31", "abc", "coaid/07-01-2020/real/2408", "١٢٣", "\u00a012"])
def test_column_types_are_predicted_as_csvexamplegen_infers_them(value):
    """staging decides which columns CsvExampleGen would make numeric; tfx_bsl is the truth."""
    from tfx_bsl.coders import csv_decoder

    inferred = csv_decoder._InferValueType(value.encode("utf-8"))  # What CsvExampleGen calls.
    expected = None if inferred == csv_decoder.ColumnType.UNKNOWN else inferred.name
    assert csv_value_type(value) == expected


def test_summary_shows_the_counts(tmp_path):
    """The counts reach the rendered run summary (its pipeline part is empty here)."""
    from pipeline.summary import RunSummary, render

    path = tmp_path / "input.csv"
    path.write_bytes(b"id,title,author,text,label,url\n1,,,!!!,0,u\n1,t,a,x\x00y,1,u\n2,t,a,z,fake,u\n3,,,to be,0,u\n")
    report = check_and_stage(path, tmp_path / "staged", drop_invalid=True)
    text = render(RunSummary(input_counts=report, components={}, anomalies={}, evaluation=None, report_folder=None,
                             pushed_path=None))
    for shown in ("3 rows staged of 4 read", "invalid labels skipped: 1", "duplicate ids: 1",
                  "documents of digits/punctuation only: 1", "documents of stopwords only: 1", "NUL bytes removed: 1", "columns not used: url"):
        assert shown in text, text


NO_TOKEN_COUNTS = ("empty_documents", "letterless_documents", "non_latin_documents", "stopword_only_documents")


def test_documents_counted_without_a_token_are_those_the_graph_cleans_to_nothing(tmp_path):
    """The input check's word rule (its alphabet and stopwords imported from preprocessing/)
    agrees with the graph's own `text.tokenize`, on real articles and every junk case."""
    import tensorflow as tf

    from preprocessing import features, text
    from tests.data import read_rows

    rows = [[row[key] for key in ("id", *features.TEXT_KEYS, "label")] for row in read_rows("articles.csv", 300)]
    rows += [[value.replace("\x00", "") for value in row] for row in JUNK_ROWS if row[4] in ("0", "1")]
    rows += [["s1", "The", "", "", "0"], ["s2", "", "you've", "", "1"], ["s3", "A", "", "the 42 and", "1"]]
    path = tmp_path / "input.csv"
    with path.open("w", encoding="utf-8", newline="") as f:
        csv.writer(f).writerows([["id", *features.TEXT_KEYS, "label"], *rows])
    report = check_and_stage(path, tmp_path / "staged")
    staged = staged_rows(report)
    tokens = text.tokenize(text.join_fields(*(tf.constant([row[key] for row in staged]) for key in features.TEXT_KEYS)))
    without_token = int(tf.reduce_sum(tf.cast(tokens.row_lengths() == 0, tf.int32)))
    assert report.stopword_only_documents >= 3
    assert without_token == sum(getattr(report, field) for field in NO_TOKEN_COUNTS)


# (id, title, author, text, label, source) rows for the end-to-end case; "source" is a column
# the configuration does not name.
JUNK_ROWS = [
    ("x-empty-text", "Only a title here", "", "", "1"),
    ("x-empty-document", "", "", "", "0"),
    ("x-punctuation", "?!", "", "!!! ... --- ???", "1"),
    ("x-digits", "2016", "", "12 31 42", "0"),
    ("x-non-latin", "Новости дня", "Иван Петров", "Это фейк. 假新闻", "1"),
    ("x-stopwords", "To be or not", "", "To be? It is what it was!", "0"),
    ("x-long", "Long", "", LONG_TEXT, "0"),
    ("x-nul", "t\x00itle", "", "te\x00xt", "1"),
    ("x-multiline", "two\nlines", "", "para one\r\n\r\npara two", "0"),
    ("x-long", "a duplicate id", "", "duplicate text", "1"),
    ("", "no id at all", "", "some text", "0"),
    ("x-bad-label-1", "t", "", "text", "fake"),
    ("x-bad-label-2", "t", "", "text", "-1"),
    ("", "", "", "", ""),  # A blank line, as spreadsheets write them.
]
NUL_STAND_IN = "\ue000"  # A private-use character, in no real row.
NO_TOKEN_IDS = ("x-empty-document", "x-punctuation", "x-digits", "x-non-latin", "x-stopwords")


@pytest.mark.e2e
def test_every_cleaned_case_runs_through_the_real_pipeline(tmp_path):
    """One file with a BOM, CRLF line ends, an extra column and every 'cleaned and counted'
    case, after 300 real articles, through the whole DAG: nothing fails inside Beam, the
    counts reach the run summary, and the rows the cleaning leaves without a token reach the model
    with no word (so they score as the explain signature's baseline)."""
    import numpy as np
    import tensorflow as tf

    from pipeline import pipeline as dag
    from components.hyperparameters import hyperparameters_for
    from pipeline.config import PipelineConfig
    from pipeline.summary import render
    from tests.conftest import run_pipeline, write_sample

    real_csv = write_sample(tmp_path / "real.csv", rows=300)
    with real_csv.open(encoding="utf-8", newline="") as f:
        real = list(csv.reader(f))[1:]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["id", "title", "author", "text", "label", "source"])
    writer.writerows(row + ["kaggle"] for row in real)
    # Python's csv writer refuses NUL: write a stand-in and put the NUL bytes in afterwards.
    writer.writerows([*(value.replace("\x00", NUL_STAND_IN) for value in row), "junk" if any(row) else ""]
                     for row in JUNK_ROWS)
    data = tmp_path / "messy.csv"
    data.write_bytes(buffer.getvalue().replace(NUL_STAND_IN, "\x00").encode("utf-8-sig"))  # With a BOM.

    config = PipelineConfig(drop_invalid=True, hyperparameters=hyperparameters_for(epochs=1))
    run = run_pipeline(config, data, tmp_path / "run")

    assert {state for state, _ in run.summary.components.values()} == {"ran"}, run.summary.components
    counts = run.summary.input_counts  # As the ExampleGen's checks recorded them, in the DAG.
    assert counts.rows_staged == 300 + 11
    assert sum(run.summary.split_rows.values()) == counts.rows_staged
    # Real articles have empty texts and quoted newlines of their own: count the junk on top.
    real_report = check_and_stage(real_csv, tmp_path / "real-staged")
    added = {field: getattr(counts, field) - getattr(real_report, field) for field in COUNT_FIELDS}
    assert added == {"invalid_labels_skipped": 2, "blank_lines_skipped": 1, "empty_texts": 1,
                     "empty_documents": 1, "letterless_documents": 2, "non_latin_documents": 1,
                     "stopword_only_documents": 1, "multiline_rows_joined": 1, "duplicate_ids": 1, "missing_ids_filled": 1,
                     "nul_bytes_removed": 2}
    assert counts.ignored_columns == ["source"]
    shown = render(run.summary)
    assert f"{counts.rows_staged} rows staged of {counts.rows_read} read" in shown
    for name, count in counts.cleaning_counts().items():
        assert (f"{name}: {count:,}" in shown) == bool(count), shown
    assert "columns not used: source" in shown

    _, outputs = run.latest_outputs()
    model = tf.saved_model.load(f"{outputs[dag.TRAINER]['model'][0].uri}/Format-Serving")
    rows = [row for row in JUNK_ROWS if row[4] in ("0", "1")]
    scores = model.signatures["serving_default"](
        **{key: tf.constant([row[i] for row in rows]) for i, key in enumerate(("title", "author", "text"), 1)}
    )["probability"].numpy()
    assert np.isfinite(scores).all() and ((0 <= scores) & (scores <= 1)).all()
    # A row without a token has no word to move its probability: it scores as the explain
    # signature's baseline (the padding alone, and for a style part the row's own style).
    wordless = [row for row in rows if row[0] in NO_TOKEN_IDS]
    assert len(wordless) == len(NO_TOKEN_IDS)
    explained = model.signatures["explain"](
        **{key: tf.constant([row[i] for row in wordless]) for i, key in enumerate(("title", "author", "text"), 1)})
    np.testing.assert_array_equal(explained["token_count"].numpy(), 0)
    np.testing.assert_allclose(explained["probability"].numpy(), explained["baseline_probability"].numpy(),
                               rtol=0, atol=1e-6)
    np.testing.assert_allclose(explained["probability"].numpy(),
                               [score for row, score in zip(rows, scores) if row[0] in NO_TOKEN_IDS], rtol=0, atol=1e-6)
