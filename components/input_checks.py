"""The input CSV's row-level checks and cleaning, streamed: one implementation for every user.

Run by the pipeline's ExampleGen (components/checked_csv_example_gen.py, at Beam scale) and by
the local pre-check `fakenews stage` (pipeline/input_check.py). A file is read line by line
(`check_file`), so memory does not grow with its size; what spans rows or files (duplicate
ids, column types, optional columns present in some files only) is kept in mergeable summaries
(`FileSummary`: a few values, and 8 bytes per row for the duplicate-id count) and judged once
at the end (`check_summaries`).

What happens to each kind of bad input (the table is in README, "What happens when things go
wrong"; tests/test_bad_data.py proves each row):

- fails, in one line naming the file (and line): a file that is empty, header-only, not
  UTF-8 (latin-1, cp1252), or malformed CSV; a row with too many or too few fields; a label
  other than 0/1 (unless drop_invalid, which skips and counts such rows); a text column in
  which every value is a number (see check_summaries); a title or author column that some
  files of a folder have and others lack.
- cleaned and counted: a BOM and CRLF line ends (silently: they are encodings, not data), NUL
  bytes, quoted newlines, blank lines, missing and duplicate ids, empty texts, and documents
  the in-graph cleaning (preprocessing/text.py: letters a-z only, stopwords dropped) turns into
  no tokens at all: empty, digits and punctuation only, letters of other scripts only, or
  stopwords only. Such rows are kept (the model sees only padding for them): dropping them
  would hide from the Evaluator how it scores such articles.
- ignored and listed: columns the configuration does not name.
- ids as text (see staged_id), so that a row's split depends on its id alone.
"""

from __future__ import annotations

import array
import csv
import dataclasses
import hashlib
import itertools
import json
import re
from typing import Iterable, Iterator, NamedTuple, Protocol

import numpy as np

from preprocessing import features
from preprocessing.stopwords import english_stopwords

# The canonical columns a checked row holds, in this order.
COLUMNS = (features.ID_KEY, *features.TEXT_KEYS, features.LABEL_KEY)
_ID, _LABEL = features.ID_KEY, features.LABEL_KEY
_TITLE, _AUTHOR, _TEXT = features.TEXT_KEYS  # By role; the tuple's order is the document's.
VALID_LABELS = {"0": "0", "1": "1"}

CSV_FIELD_LIMIT = 64 * 1024 * 1024  # Characters: a single 1 MB+ article is legitimate input.
csv.field_size_limit(CSV_FIELD_LIMIT)


# The custom property of the ExampleGen's examples artifact that records, in ML Metadata, the
# counts of the checks that produced them (InputCounts.counts_json).
INPUT_COUNTS_PROPERTY = "input_counts"


class InputError(ValueError):
    """A problem with the input data, explained in one line."""


class ColumnNames(Protocol):
    """The input's column for each canonical column (None: the data has no such column).

    pipeline.config.Columns is the configuration's; this floor cannot import it, so the checks
    take any object with these attributes."""

    id: str | None
    title: str | None
    author: str | None
    text: str
    label: str | None  # None: unlabelled articles (batch scoring, the drift check); rows get label "".


@dataclasses.dataclass(frozen=True)
class ArticleColumns:
    """The columns of unlabelled articles (batch scoring, the drift check): ColumnNames without
    a label."""

    id: str | None = _ID
    title: str | None = _TITLE
    author: str | None = _AUTHOR
    text: str = _TEXT
    label: None = None


@dataclasses.dataclass
class InputCounts:
    """What the checks read, kept, cleaned and skipped; the run summary shows it."""

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

    def add(self, other: InputCounts) -> None:
        """Adds other's counts to these (files checked apart, e.g. by Beam workers)."""
        for field in dataclasses.fields(InputCounts):
            mine, theirs = getattr(self, field.name), getattr(other, field.name)
            if isinstance(mine, int):
                setattr(self, field.name, mine + theirs)
        self.ignored_columns.extend(c for c in other.ignored_columns if c not in self.ignored_columns)
        for label, count in other.label_counts.items():
            self.label_counts[label] += count

    def counts_json(self) -> str:
        """The counts alone, as ML Metadata records them with the examples."""
        return json.dumps({f.name: getattr(self, f.name) for f in dataclasses.fields(InputCounts)}, sort_keys=True)

    @classmethod
    def from_json(cls, counts_json: str) -> InputCounts:
        return cls(**json.loads(counts_json))

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


# ExampleGen splits by a hash of the id's serialized tf.train.Feature
# (tfx.components.example_gen.base_example_gen_executor._PartitionFn): 7 as an int64 and "7"
# as text land in different buckets. TFX's CsvExampleGen types the whole column by its
# values, so one text id joining integer ids would re-draw every row's split (4 rows in 9
# change sides); the pipeline's ExampleGen writes every id as text, so its split depends on
# the id alone. An id that would read as a number gets ID_MARK in front (so does one that
# starts with it, to keep distinct ids distinct): the form the staged CSV gave ids when
# CsvExampleGen read it, kept so that every row stays in the split earlier runs gave it.
ID_MARK = "#"


def staged_id(value: str) -> str:
    """The id as checked rows hold it: always text, one-to-one with the input's."""
    if value.startswith(ID_MARK) or csv_value_type(value) in ("INT", "FLOAT"):
        return ID_MARK + value
    return value


def input_id(staged: str) -> str:
    """The id as the input has it (or as filled in for a missing one): staged_id undone."""
    return staged[len(ID_MARK):] if staged.startswith(ID_MARK) else staged


class TypeWitness(NamedTuple):
    """The value that decided a text column's inferred type, and where it is, for the message."""

    kind: str
    path: str
    line: int
    value: str


@dataclasses.dataclass
class FileSummary:
    """What one file's check leaves to judge across files: a few values, and 8 bytes per row."""

    counts: InputCounts = dataclasses.field(default_factory=InputCounts)
    column_types: dict[str, TypeWitness] = dataclasses.field(default_factory=dict)  # Text columns only.
    # Per optional column (title, author) the configuration names: a file that has it, one that lacks it.
    has_column: dict[str, str] = dataclasses.field(default_factory=dict)
    lacks_column: dict[str, str] = dataclasses.field(default_factory=dict)
    # A 64-bit digest of each kept row's id, for the duplicate-id count across files: 8 bytes a
    # row, where the ids themselves took 120 (a set, locally) to 290 (Beam's per-id count) bytes
    # (bench/bench_input_memory.py). Two different ids share a digest with odds of about
    # rows² / 2⁶⁵: 5e-8 for 1.4 million rows.
    id_digests: array.array = dataclasses.field(default_factory=lambda: array.array("Q"))

    def add(self, other: FileSummary) -> None:
        self.counts.add(other.counts)
        self.id_digests.extend(other.id_digests)
        for key, witness in other.column_types.items():
            mine = self.column_types.get(key)
            if mine is None or _TYPE_RANK[witness.kind] > _TYPE_RANK[mine.kind]:
                self.column_types[key] = witness
        for key, path in other.has_column.items():
            self.has_column.setdefault(key, path)
        for key, path in other.lacks_column.items():
            self.lacks_column.setdefault(key, path)

    def note_type(self, key: str, value: str, path: str, line: int) -> None:
        kind = csv_value_type(value)
        mine = self.column_types.get(key)
        if kind is not None and (mine is None or _TYPE_RANK[kind] > _TYPE_RANK[mine.kind]):
            self.column_types[key] = TypeWitness(kind, path, line, value)

    def note_id(self, value: str) -> None:
        digest = hashlib.blake2b(value.encode("utf-8"), digest_size=8).digest()
        self.id_digests.append(int.from_bytes(digest, "little"))

    def duplicate_ids(self) -> int:
        """Rows whose id an earlier row (of any file summarised here) has."""
        digests = np.frombuffer(self.id_digests, dtype=np.uint64)
        return len(digests) - len(np.unique(digests))


def _decoded_lines(path: str, lines: Iterable[bytes], counts: InputCounts) -> Iterator[str]:
    """The file's lines as text, NUL bytes removed and counted; fails on an empty or non-UTF-8 file.

    Splitting on b"\\n" is safe before decoding: no byte of a multi-byte UTF-8 character is 0x0a.
    """
    lines = iter(lines)
    leading: list[bytes] = []  # Blank lines before the first other one: few, unless the file is empty.
    for line in lines:
        leading.append(line)
        if line.strip():
            break
    else:
        raise InputError(f"{path}: file is empty")
    for number, raw in enumerate(itertools.chain(leading, lines), start=1):
        try:
            text = raw.decode("utf-8-sig" if number == 1 else "utf-8")  # Drops a BOM, as Excel writes it.
        except UnicodeDecodeError as error:
            raise InputError(
                f"{path}:{number}: not UTF-8 (byte 0x{raw[error.start]:02x}); re-save the file as UTF-8"
            ) from None
        if "\x00" in text:
            counts.nul_bytes_removed += text.count("\x00")
            text = text.replace("\x00", "")
        yield text


def _rows(path: str, lines: Iterator[str]) -> Iterator[tuple[int, list[str]]]:
    """(line number where the row starts, fields); csv errors become InputErrors."""
    reader = csv.reader(lines, strict=True)
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


def _column_index(path: str, header: list[str], name: str | None, required: bool) -> int | None:
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


def _count_document(values: dict[str, str], counts: InputCounts) -> None:
    """Counts the row in at most one of the document counts (InputCounts).

    The words are the in-graph cleaning's (preprocessing.text.tokenize) before stemming: what
    is left of the document after non-letters become spaces, lowercased, stopwords dropped.
    """
    document = " ".join(values[key] for key in features.TEXT_KEYS)
    words = _NOT_A_LETTER.sub(" ", document).lower().split()
    if not document.strip():
        counts.empty_documents += 1
    elif not words:
        if any(character.isalpha() for character in document):
            counts.non_latin_documents += 1
        else:
            counts.letterless_documents += 1
    elif _STOPWORDS.issuperset(words):
        counts.stopword_only_documents += 1
    elif not values[_TEXT].strip():
        counts.empty_texts += 1


def check_file(
    path: str, lines: Iterable[bytes], columns: ColumnNames, drop_invalid: bool, summary: FileSummary,
) -> Iterator[dict[str, str]]:
    """The file's rows, checked and cleaned, by canonical column; counts into summary as it goes.

    lines: the file's bytes split after each b"\\n" (a binary file object iterates so), read
    lazily. Raises InputError on a fatal problem. Every yielded row's id is final; duplicates
    are counted across files by check_summaries. With no label column named (columns.label
    None: articles to score) no label is read or checked, and each row's label is "".
    """
    counts = summary.counts
    rows = _rows(path, _decoded_lines(path, lines, counts))
    header = next(rows, (1, []))[1]
    if not any(field.strip() for field in header):
        raise InputError(f"{path}: no header row")
    index = {
        key: _column_index(path, header, getattr(columns, key), required=key in (_TEXT, _LABEL))
        for key in COLUMNS
    }
    labelled = columns.label is not None  # Unlabelled articles (scoring) have no label to check.
    for key in (_TITLE, _AUTHOR):
        if getattr(columns, key) is not None:
            (summary.has_column if index[key] is not None else summary.lacks_column).setdefault(key, path)
    used = {i for i in index.values() if i is not None}
    for i, name in enumerate(header):
        if i not in used and name.strip() and name.strip() not in counts.ignored_columns:
            counts.ignored_columns.append(name.strip())
    file_name = path.replace("\\", "/").rsplit("/", 1)[-1]
    rows_before = counts.rows_read
    for line, row in rows:
        if not any(field.strip() for field in row):
            counts.blank_lines_skipped += 1
            continue
        counts.rows_read += 1
        if len(row) != len(header):
            raise InputError(
                f"{path}:{line}: expected {len(header)} fields, found {len(row)}"
                " (an unbalanced quote or a stray delimiter?)"
            )
        label = row[index[_LABEL]].strip() if labelled else ""
        if labelled and label not in VALID_LABELS:
            if drop_invalid:
                counts.invalid_labels_skipped += 1
                continue
            raise InputError(
                f"{path}:{line}: label {label!r} is not 0 or 1"
                " (pass --drop-invalid to skip and count such rows)"
            )
        raw = {key: row[i] if i is not None else "" for key, i in index.items()}
        values = {key: _one_line(value) for key, value in raw.items()}
        if values != raw:
            counts.multiline_rows_joined += 1
        if not values[_ID].strip():
            values[_ID] = f"{file_name}:{line}"
            counts.missing_ids_filled += 1
        values[_ID] = staged_id(values[_ID])
        _count_document(values, counts)
        for key in features.TEXT_KEYS:
            summary.note_type(key, values[key], path, line)
        if labelled:
            values[_LABEL] = VALID_LABELS[label]
            counts.label_counts[values[_LABEL]] += 1
        counts.rows_staged += 1
        summary.note_id(values[_ID])
        yield values
    if counts.rows_read == rows_before:
        raise InputError(f"{path}: no data rows, only a header")


def check_summaries(data: str, columns: ColumnNames, summary: FileSummary) -> None:
    """The checks across all files, once every file is read; raises InputError. Then counts
    the duplicate ids into summary.counts.

    A text column in which every value parses as a number becomes an INT or FLOAT feature in
    CsvExampleGen, and the string ops of the Transform graph fail on it deep inside Beam. Such
    a column is a wrong column mapping, not text, and it holds no token anyway (the cleaning
    keeps letters only). Ids need no such check: they are text (staged_id).

    A folder where some files have an optional column and others lack it would train on a
    column that is empty exactly for the rows of some files: the model would learn the files,
    not the articles. That is refused; a column no file has is simply absent.
    """
    if summary.counts.rows_staged == 0:
        raise InputError(f"{data}: every row was skipped; nothing to train on")
    for key, lacking in summary.lacks_column.items():
        if key in summary.has_column:
            having = summary.has_column[key].replace("\\", "/").rsplit("/", 1)[-1]
            raise InputError(
                f"{lacking}: no column {getattr(columns, key)!r}, which {having} has;"
                f" add it, or pass --{key}-column '' to use no {key} from any file"
            )
    for key in features.TEXT_KEYS:
        witness = summary.column_types.get(key)
        if witness is not None and witness.kind in ("INT", "FLOAT"):
            hint = "check --text-column" if key == _TEXT else f"pass --{key}-column '' if the data has no {key}"
            raise InputError(
                f"{witness.path}:{witness.line}: every value of column {getattr(columns, key)!r} is a number"
                f" (here {witness.value!r}); a {key} column must hold text ({hint})"
            )
    summary.counts.duplicate_ids = summary.duplicate_ids()

