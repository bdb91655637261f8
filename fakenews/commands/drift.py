"""`fakenews drift`: do new articles still look like the data the served model was trained on?

TFDV statistics of the new articles against those of the served model's training data (found
through the run folder's ML Metadata), compared by TFDV's drift comparators on what matters
for text (pipeline/drift.py states the measures and how their thresholds were set). Prints a
table of each measure, its threshold and the verdict. Exit code 0 when nothing drifted, 3
when something did, 2 when the run folder or the input cannot be used.
"""

from __future__ import annotations

import argparse
import os
import sys
from typing import TYPE_CHECKING

from fakenews.commands import input_options

if TYPE_CHECKING:
    from pipeline.drift import DriftReport

EXIT_DRIFT = 3


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pipeline.config import MODEL_NAME

    parser.add_argument("--output", required=True, metavar="RUN_DIR",
                        help="the run folder (`fakenews run --output`) whose served model and training data to compare with")
    parser.add_argument("--data", required=True, metavar="CSV|FOLDER",
                        help="the new articles: a CSV file or a folder of them (id, title, author, text; a label is not read)")
    parser.add_argument("--model-name", default=MODEL_NAME, metavar="NAME",
                        help="the served model's name, as in `fakenews serve` (default: %(default)s)")
    input_options.add_column_arguments(parser, labelled=False)


def main(args: argparse.Namespace) -> int:
    from components.input_checks import InputError
    from pipeline import drift
    from pipeline.lineage import LineageError
    from pipeline.run_folder import RunFolder

    data = os.path.abspath(args.data)
    try:
        report = drift.check(RunFolder(os.path.abspath(args.output)), args.model_name, data,
                             input_options.article_columns_from(args))
    except (InputError, LineageError) as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(render(report, data))
    if report.new_rows < drift.MIN_ROWS:
        print(f"warning: {report.new_rows:,} articles; the thresholds were set on samples of {drift.MIN_ROWS:,} or more,"
              " and a smaller one drifts by chance more often", file=sys.stderr)
    return EXIT_DRIFT if report.drifted else 0


def render(report: DriftReport, data: str) -> str:
    """The report as the table the command prints."""
    rows = report.reference_rows
    lines = [
        f"Drift of {data} ({report.new_rows:,} articles)",
        f"against the training data of {report.model_path} (version {report.version}):",
        f"  train split {rows['train']:,} articles; the model's calls against its eval split, {rows['eval']:,} articles",
        *(f"  input: {line}" for line in report.input_counts.summary_lines()[1:]),
        "",
        f"{'measure':<26} {'reference':>16} {'new':>16} {'distance':>9} {'threshold':>9}  verdict",
    ]
    for verdict in report.verdicts:
        # Which band or word moved most; for a rate the table's two columns already say it.
        named = verdict.drifted and verdict.most_changed and not verdict.measure.shown_value
        note = f" (most changed: {verdict.most_changed})" if named else ""
        lines.append(f"{verdict.measure.name:<26} {verdict.reference:>16} {verdict.new:>16} {verdict.distance:>9.4f}"
                     f" {verdict.measure.threshold:>9.4f}  {'DRIFT' if verdict.drifted else 'ok'}{note}")
    drifted = [verdict.measure.name for verdict in report.verdicts if verdict.drifted]
    lines += ["", "distance: TFDV's L-infinity distance, the largest change in the share of one value"
              " (for a rate: its change)",
              f"Drift in {len(drifted)} of {len(report.verdicts)} measures: {', '.join(drifted)}" if drifted
              else f"No drift: all {len(report.verdicts)} measures within their thresholds"]
    return "\n".join(lines)
