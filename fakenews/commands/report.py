"""`fakenews report --output DIR`: print the evaluation report of the latest run in a run folder."""

from __future__ import annotations

import argparse
import os
import sys


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--output", default="runs/local",
                        help="run folder, as given to `fakenews run --output` (default: %(default)s)")


def report_folder(metadata_path: str, pipeline_name: str) -> str | None:
    """The EvaluationReport artifact folder of the latest run, or None if that run made none."""
    from pipeline import pipeline as dag
    from pipeline.summary import latest_run_outputs

    _, outputs = latest_run_outputs(metadata_path, pipeline_name)
    reports = outputs.get(dag.EVALUATION_REPORT, {}).get("report", [])
    return reports[0].uri if reports else None


def show(metadata_path: str, pipeline_name: str) -> bool:
    """Prints the text report and where the figures and model card are; False if there is none."""
    from components.report import layout

    folder = report_folder(metadata_path, pipeline_name)
    if folder is None:
        print(f"No evaluation report in the latest run recorded in {metadata_path}")
        return False
    with open(os.path.join(folder, layout.REPORT_TXT), encoding="utf-8") as f:
        print("\n" + f.read())
    figures = [*layout.FIGURES, *([layout.EXPLANATION_HTML] if os.path.exists(
        os.path.join(folder, layout.EXPLANATION_HTML)) else [])]
    print("Figures:    " + "\n            ".join(os.path.join(folder, name) for name in figures))
    print(f"Model card: {os.path.join(folder, layout.MODEL_CARD_MD)}")
    return True


def main(args: argparse.Namespace) -> int:
    from pipeline.config import PIPELINE_NAME
    from pipeline.run_folder import RunFolder

    # The run folder's ML Metadata records where everything is.
    metadata_path = RunFolder(os.path.abspath(args.output)).metadata_path
    if not os.path.exists(metadata_path):  # Opening it would create an empty store.
        print(f"error: {metadata_path} not found: is {args.output} a run folder?", file=sys.stderr)
        return 2
    return 0 if show(metadata_path, PIPELINE_NAME) else 1
