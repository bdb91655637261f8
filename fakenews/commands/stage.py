"""`fakenews stage`: the local pre-check. Runs the checks the pipeline's ExampleGen runs
(components/input_checks.py) on this machine, prints their counts, and writes the checked rows
as one CSV, a row a line.

Neither runner needs the staged copy (both read the raw CSV and check it in the DAG): it is a
fast way to find a bad row before uploading a file for a Kubeflow run, and a clean copy to
read. The input flags and the counts printed are `fakenews run`'s.
"""

from __future__ import annotations

import argparse
import os
import sys

from fakenews.commands import input_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    input_options.add_arguments(parser)
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="staging folder, created if need be; the CSV goes to DIR/<content hash>/data.csv")


def main(args: argparse.Namespace) -> int:
    from components.input_checks import InputError
    from pipeline.input_check import check_and_stage

    try:
        report = check_and_stage(args.data, args.output, input_options.columns_from(args), args.drop_invalid)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    # The path alone on stdout, so a script can capture it; the counts go to stderr.
    first, *rest = report.summary_lines()
    print(f"Input: {len(report.files)} file(s), {first}", file=sys.stderr)
    for line in rest:
        print(f"       {line}", file=sys.stderr)
    print(os.path.abspath(report.staged_csv))
    return 0
