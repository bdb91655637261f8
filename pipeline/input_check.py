"""Checks the input CSV before Beam starts, and stages a copy CsvExampleGen can read.

Real files have missing values, quoted newlines, BOMs, stray NUL bytes and junk rows.
Problems that would otherwise surface as a Beam stack trace deep inside CsvExampleGen are
found here and reported in one line naming the file (and line or column); the rest is
cleaned and counted so the run summary can show it.

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
import tempfile
from typing import Iterator

from pipeline.config import Columns

STAGED_COLUMNS = ("id", "title", "author", "text", "label")
VALID_LABELS = {"0": "0", "1": "1"}
STAGED_FILE = "data.csv"

csv.field_size_limit(64 * 1024 * 1024)  # A single 1 MB+ article is legitimate input.


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
    empty_documents: int = 0  # Title, author and text all empty: the model sees only padding.
    duplicate_ids: int = 0
    missing_ids_filled: int = 0
    nul_bytes_removed: int = 0
    label_counts: dict[str, int] = dataclasses.field(default_factory=lambda: {"0": 0, "1": 0})

    def to_json(self) -> str:
        return json.dumps(dataclasses.asdict(self), indent=2)


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


def check_and_stage(
    data: str | os.PathLike, staging_dir: str | os.PathLike, columns: Columns = Columns(),
    drop_invalid: bool = False,
) -> StagingReport:
    """Validates every input file and writes the staged CSV; raises InputError on bad input."""
    files = find_csv_files(data)
    report = StagingReport(files=[str(f) for f in files], staged_csv="")
    seen_ids: set[str] = set()
    buffer = io.StringIO(newline="")
    writer = csv.writer(buffer, lineterminator="\n")
    writer.writerow(STAGED_COLUMNS)

    for path in files:
        rows = _rows(path, _decode(path, report))
        header = next(rows, (1, []))[1]
        if not any(field.strip() for field in header):
            raise InputError(f"{path}: no header row")
        index = {
            "id": _column_index(path, header, columns.id, required=False),
            "title": _column_index(path, header, columns.title, required=False),
            "author": _column_index(path, header, columns.author, required=False),
            "text": _column_index(path, header, columns.text, required=True),
            "label": _column_index(path, header, columns.label, required=True),
        }
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
            label = row[index["label"]].strip()
            if label not in VALID_LABELS:
                if drop_invalid:
                    report.invalid_labels_skipped += 1
                    continue
                raise InputError(
                    f"{path}:{line}: label {label!r} is not 0 or 1"
                    " (pass --drop-invalid to skip and count such rows)"
                )
            values = {key: _one_line(row[i]) if i is not None else "" for key, i in index.items()}
            if not values["id"].strip():
                values["id"] = f"{path.name}:{line}"
                report.missing_ids_filled += 1
            if values["id"] in seen_ids:
                report.duplicate_ids += 1
            seen_ids.add(values["id"])
            if not (values["title"].strip() or values["author"].strip() or values["text"].strip()):
                report.empty_documents += 1
            values["label"] = VALID_LABELS[label]
            report.label_counts[values["label"]] += 1
            writer.writerow([values[key] for key in STAGED_COLUMNS])
            report.rows_staged += 1
        if report.rows_read == rows_before:
            raise InputError(f"{path}: no data rows, only a header")
    if report.rows_staged == 0:
        raise InputError(f"{data}: every row was skipped; nothing to train on")
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
