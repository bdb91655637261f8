"""`fakenews stage`: check the input and write the staged CSV CsvExampleGen reads.

The local run stages by itself; for Kubeflow, stage here, upload the printed file's folder
to the bucket, and pass that folder to `fakenews compile-kubeflow --data-root`.
"""

from __future__ import annotations

import argparse
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--data", required=True, help="CSV file or folder of CSV files (id,title,author,text,label)")
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="staging folder; the CSV goes to DIR/<content hash>/data.csv")
    parser.add_argument("--drop-invalid", action="store_true",
                        help="skip and count rows whose label is not 0/1 instead of failing")


def main(args: argparse.Namespace) -> int:
    from pipeline.input_check import InputError, check_and_stage

    try:
        report = check_and_stage(args.data, args.output, drop_invalid=args.drop_invalid)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # The path alone on stdout, so a script can capture it; the counts go to stderr.
    print(f"Staged {report.rows_staged:,} rows from {len(report.files)} file(s)", file=sys.stderr)
    print(os.path.abspath(report.staged_csv))
    return 0
