"""The local pre-check: runs the input checks on this machine and stages a copy CsvExampleGen can read.

The checks themselves (what fails, what is cleaned and counted) are components/input_checks.py,
the same code the in-DAG ExampleGen runs; this module adds what only a local run needs: finding
the files, and writing the checked rows as one CSV.

CsvExampleGen reads CSV line by line, so a quoted newline would split a row: the staged copy
puts every row on one line (the checks turn newlines inside a field into spaces, which the
cleaning treats the same), with the canonical column names, in a folder named by its content
hash so an unchanged input keeps ExampleGen's cache valid. Files are read and written as
streams: memory grows with the input's size only by the 8 bytes a row the duplicate-id
count takes (components/input_checks.py).
"""

from __future__ import annotations

import csv
import dataclasses
import hashlib
import json
import os
import pathlib
import tempfile

from components.input_checks import COLUMNS, FileSummary, InputCounts, InputError, check_file, check_summaries
from pipeline.config import Columns

STAGED_COLUMNS = COLUMNS  # What CsvExampleGen reads, in this order.
STAGED_FILE = "data.csv"


@dataclasses.dataclass
class StagingReport(InputCounts):
    files: list[str] = dataclasses.field(default_factory=list)
    staged_csv: str = ""

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
    if path.suffix.lower() != ".csv":  # The pipeline's rule too (checked_csv_example_gen.input_config).
        raise InputError(f"{path}: not a .csv file; pass a .csv file or a folder of them")
    return [path]


class _HashingWriter:
    """A text sink that writes to a file and hashes what it writes, so the content's folder
    name is known without holding the content."""

    def __init__(self, file) -> None:
        self.file = file
        self.digest = hashlib.sha256()

    def write(self, text: str) -> None:
        self.digest.update(text.encode("utf-8"))
        self.file.write(text)


def check_and_stage(
    data: str | os.PathLike, staging_dir: str | os.PathLike, columns: Columns = Columns(),
    drop_invalid: bool = False,
) -> StagingReport:
    """Validates every input file and writes the staged CSV; raises InputError on bad input."""
    files = find_csv_files(data)
    summary = FileSummary(counts=StagingReport(files=[str(f) for f in files]))
    staging_dir = pathlib.Path(staging_dir)
    created = not staging_dir.exists()  # Bad input leaves no folder behind.
    staging_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.NamedTemporaryFile("w", dir=staging_dir, delete=False, encoding="utf-8", newline="") as tmp:
        try:
            sink = _HashingWriter(tmp)
            writer = csv.writer(sink, lineterminator="\n")
            writer.writerow(STAGED_COLUMNS)
            for path in files:
                with open(path, "rb") as file:
                    for values in check_file(str(path), file, columns, drop_invalid, summary):
                        writer.writerow([values[key] for key in STAGED_COLUMNS])
            check_summaries(str(data), columns, summary)
        except BaseException:
            tmp.close()
            os.unlink(tmp.name)
            if created:
                staging_dir.rmdir()
            raise
    report = summary.counts
    report.staged_csv = str(_place_staged(pathlib.Path(tmp.name), sink.digest.hexdigest()[:16], staging_dir))
    return report


def _place_staged(written: pathlib.Path, digest: str, staging_dir: pathlib.Path) -> pathlib.Path:
    """Moves the written CSV to its content's folder, atomically; returns its path there."""
    target = staging_dir / digest / STAGED_FILE
    if target.exists():  # Same bytes as before: leave it (and its mtime) alone for the cache.
        written.unlink()
        return target
    target.parent.mkdir(exist_ok=True)
    os.replace(written, target)
    return target
