"""`fakenews score`: batch scoring on Beam. Every article of a CSV file or folder through a pushed
model's serving_default signature, written as `id,probability,label` CSV shards, on the Beam
runner a preset names (the pipeline's presets: direct, dataflow, flink, spark).

The rows are checked as the pipeline's ExampleGen checks them (components/checked_rows.py): a
fatal problem ends the run with the same one line (exit 2), and what is cleaned or skipped is
counted in the summary. Progress: a line per 5,000 articles a worker scores (on this console
with the direct preset; in the workers' logs elsewhere, and as the `articles_scored` counter
in the runner's UI).
"""

from __future__ import annotations

import argparse
import logging
import os
import sys
from typing import TYPE_CHECKING

from fakenews.commands import input_options

if TYPE_CHECKING:
    from pipeline.batch_score import ScoreSummary


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pipeline import beam_presets

    parser.add_argument("--model-base", required=True, metavar="DIR",
                        help="the model's folder of numbered versions, as the Pusher writes it"
                        " (<run output>/serving/<model>); a local path or a bucket URI")
    parser.add_argument("--version", type=int, metavar="N", help="the version to score with (default: the newest)")
    parser.add_argument("--data", required=True, metavar="CSV|FOLDER",
                        help="a CSV file of articles, or a folder of them (id, title, author, text; a label is not read)")
    parser.add_argument("--output", required=True, metavar="DIR",
                        help="folder for the shards (scores-SSSSS-of-NNNNN.csv) and summary.json; must hold no scores yet")
    input_options.add_column_arguments(parser, labelled=False)
    beam_presets.add_arguments(parser)
    parser.add_argument("--image", metavar="IMAGE",
                        help="the pipeline image (make image) the Dataflow workers run; the dataflow preset needs it")
    parser.add_argument("--beam-arg", action="append", default=[], metavar="ARG",
                        help="extra Beam argument after the preset's, repeatable (a later one wins)")


def main(args: argparse.Namespace) -> int:
    from components import batch_scoring
    from pipeline import beam_presets
    from pipeline.batch_score import ScoreError, input_error_line, score
    from serving.version_folders import misplaced_base

    is_local = "://" not in args.model_base
    model_base = os.path.abspath(args.model_base) if is_local else args.model_base
    data = os.path.abspath(args.data) if "://" not in args.data else args.data
    output = os.path.abspath(args.output) if "://" not in args.output else args.output
    try:
        beam_args = beam_presets.beam_args(args.beam_preset, beam_presets.settings_from(args), args.image)
        if is_local and (wrong_level := misplaced_base(model_base)):
            raise ScoreError(wrong_level)
    except ValueError as error:  # PresetError, ScoreError.
        print(f"error: {error}", file=sys.stderr)
        return 2
    print(f"Scoring {data} → {output} (Beam preset '{args.beam_preset}')", flush=True)
    progress = logging.StreamHandler(sys.stdout)
    progress.setFormatter(logging.Formatter("  %(message)s"))
    scoring_log = logging.getLogger(batch_scoring.__name__)  # Its workers' progress lines.
    scoring_log.addHandler(progress)
    scoring_log.setLevel(logging.INFO)
    try:
        summary = score(data, model_base, output, beam_args + tuple(args.beam_arg),
                        input_options.article_columns_from(args), args.version)
    except ScoreError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except Exception as error:  # noqa: BLE001 (a runner reports a worker's failure as anything)
        line = input_error_line(error)
        if line is not None:
            print(f"error: {line}", file=sys.stderr)
            return 2
        print(f"error: scoring failed: {type(error).__name__}: {error}".splitlines()[0], file=sys.stderr)
        return 1
    finally:
        scoring_log.removeHandler(progress)
    print(render(summary))
    return 0


def render(summary: ScoreSummary) -> str:
    """The end-of-run summary."""
    counts = summary.input_counts
    share = summary.unreliable / summary.scored if summary.scored else 0.0
    lines = [
        f"Model:    {summary.model_path} (version {summary.version})",
        f"Input:    {counts.rows_read:,} rows read, {counts.rows_staged:,} scored",
        *(f"          {line}" for line in counts.summary_lines()[1:]),
        f"Scores:   {summary.scored:,} articles, {summary.unreliable:,} unreliable ({share:.1%})",
        *(f"{'Shards:' if i == 0 else '':10}{shard}" for i, shard in enumerate(summary.shards)),
        f"Summary:  {summary.summary_file}",
        f"Time:     {summary.seconds:.1f} s ({summary.scored / max(summary.seconds, 1e-9):,.0f} articles/s)",
    ]
    return "\n".join(lines)
