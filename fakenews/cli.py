"""`fakenews` entry point: one sub-command per module, imported only when it runs.

Each command module provides `add_arguments(parser)` and `main(args) -> int`, and imports
TensorFlow and TFX inside `main`, so `fakenews --help` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys

# command name -> (module, one-line help)
COMMANDS = {
    "run": ("fakenews.commands.run", "run the whole TFX pipeline locally on Beam"),
    "demo-data": ("fakenews.commands.demo_data", "write the small synthetic demo CSV"),
    "report": ("fakenews.commands.report", "print the evaluation report of a run folder's latest run"),
    "serve": ("fakenews.commands.serve", "serve a pushed model over TF Serving's REST and gRPC APIs"),
    "predict": ("fakenews.commands.predict", "score articles on TF Serving or `fakenews serve`"),
    "stage": ("fakenews.commands.stage", "check the input and write the staged CSV to upload for Kubeflow"),
    "compile-kubeflow": ("fakenews.commands.compile_kubeflow", "compile the pipeline for Kubeflow Pipelines"),
}


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="fakenews", description="Fake-news LSTM as a TFX pipeline, served with TF Serving."
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        module = importlib.import_module(module_name)
        sub = subparsers.add_parser(name, help=help_text, description=help_text)
        module.add_arguments(sub)
        sub.set_defaults(handler=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback.
        print(f"error: {args.command} interrupted by Ctrl-C", file=sys.stderr)
        return 128 + 2  # The shell's convention for "ended by SIGINT".


if __name__ == "__main__":
    sys.exit(main())
