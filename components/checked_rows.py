"""The input checks in Beam: each CSV file streamed through components/input_checks.py on a worker.

Shared by the pipeline's ExampleGen (components/checked_csv_example_gen.py), which turns the
checked rows into examples, and by batch scoring (components/batch_scoring.py), which scores
them: both read a file, a folder or a bucket URI alike, and count and refuse the same rows. A
file is read as a stream (memory does not grow with its size, but for the 8 bytes a row of
input_checks.FileSummary); what spans files is merged by `MergeSummaries` and judged once,
by the caller, with input_checks.check_summaries.
"""

from __future__ import annotations

import glob
import posixpath
from typing import Any, Callable, Iterator

import apache_beam as beam

from components import input_checks

ROWS = "rows"  # The main output of `ReadCheckedRows`: the rows, each converted by `convert`.
SUMMARIES = "summaries"  # Its side output: one input_checks.FileSummary per file.


def input_pattern(data: str) -> tuple[str, str]:
    """(folder, glob pattern) of `data`: one CSV file (a name ending in .csv, any case), or
    every .csv file of a folder."""
    if data.lower().endswith(".csv"):
        input_base, name = posixpath.split(data)
        return input_base, glob.escape(name)  # TFX's driver and Beam both match patterns as globs.
    return data, "*"  # input_files keeps the .csv files among them.


def input_files(input_base: str, pattern: str) -> list[str]:
    """The .csv files the pattern matches under input_base (any case of the suffix)."""
    path_pattern = posixpath.join(input_base, pattern)
    matched = beam.io.filesystems.FileSystems.match([path_pattern])[0].metadata_list
    files = sorted(m.path for m in matched if m.path.lower().endswith(".csv"))
    if not files:
        raise input_checks.InputError(f"{path_pattern}: no such file" if pattern != "*"
                                      else f"{input_base}: folder holds no .csv file")
    return files


class CheckFile(beam.DoFn):
    """One file's checked rows (input_checks.check_file's dicts, each passed through `convert`);
    its FileSummary on the SUMMARIES output."""

    def __init__(self, columns: input_checks.ColumnNames, drop_invalid: bool,
                 convert: Callable[[dict[str, str]], Any] | None = None) -> None:
        self._columns = columns
        self._drop_invalid = drop_invalid
        self._convert = convert

    def process(self, path: str) -> Iterator[Any]:
        summary = input_checks.FileSummary()
        with beam.io.filesystems.FileSystems.open(
                path, compression_type=beam.io.filesystem.CompressionTypes.UNCOMPRESSED) as file:
            # readline, not iteration: not every Beam file system's reader iterates by line.
            for values in input_checks.check_file(path, iter(file.readline, b""), self._columns,
                                                  self._drop_invalid, summary):
                yield values if self._convert is None else self._convert(values)
        yield beam.pvalue.TaggedOutput(SUMMARIES, summary)


class MergeSummaries(beam.CombineFn):
    """The files' summaries as one, for input_checks.check_summaries."""

    def create_accumulator(self) -> input_checks.FileSummary:
        return input_checks.FileSummary()

    def add_input(self, accumulator: input_checks.FileSummary, summary: input_checks.FileSummary) -> input_checks.FileSummary:
        accumulator.add(summary)
        return accumulator

    def merge_accumulators(self, accumulators) -> input_checks.FileSummary:
        merged = input_checks.FileSummary()
        for accumulator in accumulators:
            merged.add(accumulator)
        return merged

    def extract_output(self, accumulator: input_checks.FileSummary) -> input_checks.FileSummary:
        return accumulator


@beam.ptransform_fn
def ReadCheckedRows(pipeline: beam.Pipeline, files: list[str], columns: input_checks.ColumnNames,  # noqa: N802 (Beam's style)
                    drop_invalid: bool, convert: Callable[[dict[str, str]], Any] | None = None):
    """The checked rows of `files` (output ROWS) and a FileSummary per file (output SUMMARIES)."""
    return (
        pipeline
        | "Files" >> beam.Create(files)
        | "OneFilePerWorker" >> beam.Reshuffle()
        | "Check" >> beam.ParDo(CheckFile(columns, drop_invalid, convert)).with_outputs(SUMMARIES, main=ROWS)
    )
