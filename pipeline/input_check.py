"""Checks the input CSV before Beam starts, and stages a copy CsvExampleGen can read.

Real files have missing values, quoted newlines, BOMs, stray NUL bytes and junk rows.
Problems that would otherwise surface as a Beam stack trace deep inside CsvExampleGen are
found here and reported in one line naming the file (and line or column); the rest is
cleaned and counted so the run summary can show it.

What happens to each kind of bad input (the table is in README, "What happens when things go
wrong"; tests/test_bad_data.py proves each row):

- fails here, in one line naming the file (and line): a file that is empty, header-only, not
  UTF-8 (latin-1, cp1252), or malformed CSV; a row with too many or too few fields; a label
  other than 0/1 (unless drop_invalid, which skips and counts such rows); a text column in
  which every value is a number (see _check_column_types); a title or author column that some
  files of a folder have and others lack.
- cleaned and counted: a BOM and CRLF line ends (silently: they are encodings, not data), NUL
  bytes, quoted newlines, blank lines, missing and duplicate ids, empty texts, and documents
  the in-graph cleaning (preprocessing/text.py: letters a-z only, stopwords dropped) turns into
  no tokens at all: empty, digits and punctuation only, letters of other scripts only, or
  stopwords only. Such rows are kept (the model sees only padding for them): dropping them
  would hide from the Evaluator how it scores such articles.
- ignored and listed: columns the configuration does not name.
- staged as text: ids (see staged_id), so that a row's split depends on its id alone.

CsvExampleGen reads CSV line by line, so a quoted newline would split a row: the staged copy
puts every row on one line (newlines inside a field become spaces, which the cleaning treats
the same), with the canonical column names, in a folder named by its content hash so an
unchanged input keeps ExampleGen's cache valid.
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import io
import json
import os
import pathlib
import re
import tempfile
from typing import Iterator, NamedTuple

from pipeline.config import Columns
from preprocessing import features
from preprocessing.stopwords import english_stopwords

# What CsvExampleGen reads. `Columns` names the input's column for each of these (its fields
# are named after them).
STAGED_COLUMNS = (features.ID_KEY, *features.TEXT_KEYS, features.LABEL_KEY)
_ID, _LABEL = features.ID_KEY, features.LABEL_KEY
_TITLE, _AUTHOR, _TEXT = features.TEXT_KEYS  # By role; the tuple's order is the document's.
VALID_LABELS = {"0": "0", "1": "1"}
STAGED_FILE = "data.csv"

CSV_FIELD_LIMIT = 64 * 1024 * 1024  # Characters: a single 1 MB+ article is legitimate input.
csv.field_size_limit(CSV_FIELD_LIMIT)


class InputError(ValueError):
    """A problem with the input data, explained in one line."""


@dataclasses.dataclass
class StagingReport:
    files: list[str]
    staged_csv: str
    rows_read: int = 0
    rows_staged: int = 0
    invalid_labels_skipped: int = 0
    blank_lines_skipped: int = 0
    # The document is title + author + text. These five counts are disjoint; the last four
    # are rows the in-graph cleaning leaves without a token, so the model sees only padding
    # for them.
    empty_texts: int = 0  # Text empty, title or author not: the document is those alone.
    empty_documents: int = 0  # Title, author and text all empty.
    letterless_documents: int = 0  # Digits, punctuation, symbols only.
    non_latin_documents: int = 0  # Letters, but none in a-z: other scripts, accented only.
    stopword_only_documents: int = 0  # a-z words, every one a stopword ("To be or not to be").
    multiline_rows_joined: int = 0  # Quoted newlines in a field, now spaces (same tokens).
    duplicate_ids: int = 0  # Kept: a split is chosen by id, so copies share a split.
    missing_ids_filled: int = 0  # With "<file>:<line>", so the row still has a split.
    nul_bytes_removed: int = 0
    ignored_columns: list[str] = dataclasses.field(default_factory=list)  # Named in the summary.
    label_counts: dict[str, int] = dataclasses.field(default_factory=lambda: {"0": 0, "1": 0})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)

    def cleaning_counts(self) -> dict[str, int]:
        """What was cleaned, skipped or filled, by the names the run summary shows."""
        return {
            "invalid labels skipped": self.invalid_labels_skipped,
            "blank lines skipped": self.blank_lines_skipped,
            "empty texts": self.empty_texts,
            "empty documents": self.empty_documents,
            "documents of digits/punctuation only": self.letterless_documents,
            "documents without a-z letters": self.non_latin_documents,
            "documents of stopwords only": self.stopword_only_documents,
            "rows with newlines joined": self.multiline_rows_joined,
            "duplicate ids": self.duplicate_ids,
            "missing ids filled": self.missing_ids_filled,
            "NUL bytes removed": self.nul_bytes_removed,
        }

    def summary_lines(self) -> list[str]:
        """The input's counts as `fakenews run` (its summary) and `fakenews stage` print them:
        the totals; every non-zero cleaning count; the columns not used."""
        lines = [f"{self.rows_staged:,} rows staged of {self.rows_read:,} read "
                 f"(fake {self.label_counts['1']:,} / reliable {self.label_counts['0']:,})"]
        noted = ", ".join(f"{name}: {count:,}" for name, count in self.cleaning_counts().items() if count)
        if noted:
            lines.append(noted)
        if self.ignored_columns:
            lines.append(f"columns not used: {', '.join(self.ignored_columns)}")
        return lines


def find_csv_files(data: str | os.PathLike) -> list[pathlib.Path]:
    path = pathlib.Path(data)
    if not path.exists():
        raise InputError(f"{path}: no such file or folder")
    if path.is_dir():
        files = sorted(p for p in path.iterdir() if p.suffix.lower() == ".csv" and p.is_file())
        if not files:
            raise InputError(f"{path}: folder holds no .csv file")
        return files
    return [path]


def _decode(path: pathlib.Path, report: StagingReport) -> str:
    raw = path.read_bytes()
    if not raw.strip():
        raise InputError(f"{path}: file is empty")
    try:
        text = raw.decode("utf-8-sig")  # Drops a leading BOM, as Excel writes it.
    except UnicodeDecodeError as error:
        line = raw[: error.start].count(b"\n") + 1
        raise InputError(
            f"{path}:{line}: not UTF-8 (byte 0x{raw[error.start]:02x}); re-save the file as UTF-8"
        ) from None
    report.nul_bytes_removed += text.count("\x00")
    return text.replace("\x00", "")


def _rows(path: pathlib.Path, text: str) -> Iterator[tuple[int, list[str]]]:
    """(line number where the row starts, fields); csv errors become InputErrors."""
    reader = csv.reader(io.StringIO(text, newline=""), strict=True)
    start = 1
    while True:
        try:
            row = next(reader)
        except StopIteration:
            return
        except csv.Error as error:
            raise InputError(f"{path}:{start}: malformed CSV ({error}); check for an unbalanced quote") from None
        yield start, row
        start = reader.line_num + 1


def _column_index(path: pathlib.Path, header: list[str], name: str | None, required: bool) -> int | None:
    if name is None:
        return None
    names = [column.strip() for column in header]
    if name in names:
        return names.index(name)
    if required:
        raise InputError(
            f"{path}: missing required column {name!r} (columns: {', '.join(names) or 'none'})"
        )
    return None


def _one_line(value: str) -> str:
    return " ".join(value.split()) if ("\n" in value or "\r" in value) else value


_NOT_A_LETTER = re.compile(features.NOT_A_LETTER)
_STOPWORDS = frozenset(english_stopwords())


def _count_document(values: dict[str, str], report: StagingReport) -> None:
    """Counts the row in at most one of the document counts (StagingReport).

    The words are the in-graph cleaning's (preprocessing.text.tokenize) before stemming: what
    is left of the document after non-letters become spaces, lowercased, stopwords dropped.
    """
    document = " ".join(values[key] for key in features.TEXT_KEYS)
    words = _NOT_A_LETTER.sub(" ", document).lower().split()
    if not document.strip():
        report.empty_documents += 1
    elif not words:
        if any(character.isalpha() for character in document):
            report.non_latin_documents += 1
        else:
            report.letterless_documents += 1
    elif _STOPWORDS.issuperset(words):
        report.stopword_only_documents += 1
    elif not values[_TEXT].strip():
        report.empty_texts += 1


# CsvExampleGen infers each column's type from every value in it (tfx_bsl.coders.csv_decoder.
# _InferValueType and ColumnTypeInferrer): INT < FLOAT < STRING, empty values aside.
_INT64 = (-(2**63), 2**63 - 1)
_TYPE_RANK = {"INT": 0, "FLOAT": 1, "STRING": 2}


def csv_value_type(value: str) -> str | None:
    """The type CsvExampleGen infers from one staged value; None for an empty one.

    Mirrors tfx_bsl's rule exactly, on the UTF-8 bytes it sees (int() and float() accept
    surrounding ASCII whitespace, underscores between digits, "nan", "inf"...).
    """
    cell = value.encode("utf-8")
    if not cell:
        return None
    try:
        return "INT" if _INT64[0] <= int(cell) <= _INT64[1] else "STRING"
    except ValueError:
        try:
            float(cell)
        except ValueError:
            return "STRING"
        return "FLOAT"


class _Example(NamedTuple):
    """The value that decided a column's inferred type, and where it is, for the message."""

    path: pathlib.Path
    line: int
    value: str


class _ColumnTypes:
    """CsvExampleGen's inferred type of each staged column, and a value that shows it."""

    def __init__(self) -> None:
        self.types: dict[str, str] = {}
        self.example: dict[str, _Example] = {}

    def add(self, values: dict[str, str], path: pathlib.Path, line: int) -> None:
        for key in features.TEXT_KEYS:
            kind = csv_value_type(values[key])
            if kind is not None and _TYPE_RANK[kind] > _TYPE_RANK.get(self.types.get(key, ""), -1):
                self.types[key] = kind
                self.example[key] = _Example(path, line, values[key])


def _check_column_types(columns: Columns, types: _ColumnTypes) -> None:
    """Fails on columns CsvExampleGen would type so that a component crashes later.

    A text column in which every value parses as a number becomes an INT or FLOAT feature,
    and the string ops of the Transform graph fail on it deep inside Beam. Such a column is a
    wrong column mapping, not text, and it holds no token anyway (the cleaning keeps letters
    only). Ids need no such check: they are staged as text (staged_id).
    """
    for key in features.TEXT_KEYS:
        if types.types.get(key) in ("INT", "FLOAT"):
            where = types.example[key]
            hint = "check --text-column" if key == _TEXT else f"pass --{key}-column '' if the data has no {key}"
            raise InputError(
                f"{where.path}:{where.line}: every value of column {getattr(columns, key)!r} is a number"
                f" (here {where.value!r}); a {key} column must hold text ({hint})"
            )


# ExampleGen splits by a hash of the id's serialized tf.train.Feature
# (tfx.components.example_gen.base_example_gen_executor._PartitionFn): 7 as an int64 and "7"
# as text land in different buckets, and CsvExampleGen types the whole column by its values.
# An all-integer id column would be hashed as int64, and one text id joining it would turn
# the column to text and re-draw every row's split (4 rows in 9 change sides). So every staged id
# is text: one that would read as a number gets ID_MARK in front (so does one that starts
# with it, to keep distinct ids distinct), and a row's split depends on its own id alone.
ID_MARK = "#"


def staged_id(value: str) -> str:
    """The id as staged: always a text value for CsvExampleGen, one-to-one with the input's."""
    if value.startswith(ID_MARK) or csv_value_type(value) in ("INT", "FLOAT"):
        return ID_MARK + value
    return value


class _OptionalColumns:
    """Which files hold each optional column (title, author) the configuration names.

    A folder where some files have the column and others lack it would train on a column that
    is empty exactly for the rows of some files: the model would learn the files, not the
    articles. That is refused; a column no file has is simply absent.
    """

    def __init__(self) -> None:
        self.found: dict[str, list[pathlib.Path]] = {}
        self.missing: dict[str, list[pathlib.Path]] = {}

    def add(self, key: str, path: pathlib.Path, index: int | None) -> None:
        (self.found if index is not None else self.missing).setdefault(key, []).append(path)

    def check(self, columns: Columns) -> None:
        for key, lacking in self.missing.items():
            if key in self.found:
                raise InputError(
                    f"{lacking[0]}: no column {getattr(columns, key)!r}, which {self.found[key][0].name} has;"
                    f" add it, or pass --{key}-column '' to use no {key} from any file"
                )


def check_and_stage(
    data: str | os.PathLike, staging_dir: str | os.PathLike, columns: Columns = Columns(),
    drop_invalid: bool = False,
) -> StagingReport:
    """Validates every input file and writes the staged CSV; raises InputError on bad input."""
    files = find_csv_files(data)
    report = StagingReport(files=[str(f) for f in files], staged_csv="")
    seen_ids: set[str] = set()
    column_types = _ColumnTypes()
    optional_columns = _OptionalColumns()
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(STAGED_COLUMNS)

    for path in files:
        rows = _rows(path, _decode(path, report))
        header = next(rows, (1, []))[1]
        if not any(field.strip() for field in header):
            raise InputError(f"{path}: no header row")
        index = {
            key: _column_index(path, header, getattr(columns, key), required=key in (_TEXT, _LABEL))
            for key in STAGED_COLUMNS
        }
        for key in (_TITLE, _AUTHOR):
            if getattr(columns, key) is not None:
                optional_columns.add(key, path, index[key])
        used = {i for i in index.values() if i is not None}
        for i, name in enumerate(header):
            if i not in used and name.strip() and name.strip() not in report.ignored_columns:
                report.ignored_columns.append(name.strip())
        rows_before = report.rows_read
        for line, row in rows:
            if not any(field.strip() for field in row):
                report.blank_lines_skipped += 1
                continue
            report.rows_read += 1
            if len(row) != len(header):
                raise InputError(
                    f"{path}:{line}: expected {len(header)} fields, found {len(row)}"
                    " (an unbalanced quote or a stray delimiter?)"
                )
            label = row[index[_LABEL]].strip()
            if label not in VALID_LABELS:
                if drop_invalid:
                    report.invalid_labels_skipped += 1
                    continue
                raise InputError(
                    f"{path}:{line}: label {label!r} is not 0 or 1"
                    " (pass --drop-invalid to skip and count such rows)"
                )
            raw = {key: row[i] if i is not None else "" for key, i in index.items()}
            values = {key: _one_line(value) for key, value in raw.items()}
            if values != raw:
                report.multiline_rows_joined += 1
            if not values[_ID].strip():
                values[_ID] = f"{path.name}:{line}"
                report.missing_ids_filled += 1
            values[_ID] = staged_id(values[_ID])
            if values[_ID] in seen_ids:
                report.duplicate_ids += 1
            seen_ids.add(values[_ID])
            _count_document(values, report)
            column_types.add(values, path, line)
            values[_LABEL] = VALID_LABELS[label]
            report.label_counts[values[_LABEL]] += 1
            writer.writerow([values[key] for key in STAGED_COLUMNS])
            report.rows_staged += 1
        if report.rows_read == rows_before:
            raise InputError(f"{path}: no data rows, only a header")
    if report.rows_staged == 0:
        raise InputError(f"{data}: every row was skipped; nothing to train on")
    optional_columns.check(columns)
    _check_column_types(columns, column_types)
    report.staged_csv = str(_write_staged(buffer.getvalue(), pathlib.Path(staging_dir)))
    return report


def _write_staged(content: str, staging_dir: pathlib.Path) -> pathlib.Path:
    """Writes content once per distinct content, atomically; returns the CSV's path."""
    digest = hashlib.sha256(content.encode("utf-8")).hexdigest()[:16]
    folder = staging_dir / digest
    target = folder / STAGED_FILE
    if target.exists():  # Same bytes as before: leave it (and its mtime) alone for the cache.
        return target
    folder.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=folder, delete=False, encoding="utf-8", newline="") as tmp:
        tmp.write(content)
    os.replace(tmp.name, target)
    return target
