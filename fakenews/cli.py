"""`fakenews` entry point: one sub-command per module, imported only when it runs.

Each command module provides `add_arguments(parser)` and `main(args) -> int`, and imports
TensorFlow and TFX inside `main`, so `fakenews --help` answers at once.
"""

from __future__ import annotations

import argparse
import importlib
import sys
import warnings
from typing import Collection

# command name -> (module, one-line help)
COMMANDS = {
    "run": ("fakenews.commands.run", "run the whole TFX pipeline locally on Beam"),
    "demo-data": ("fakenews.commands.demo_data", "write the small synthetic demo CSV"),
    "report": ("fakenews.commands.report", "print the evaluation report of a run folder's latest run"),
    "serve": ("fakenews.commands.serve", "serve a pushed model over TF Serving's REST and gRPC APIs"),
    "predict": ("fakenews.commands.predict", "score articles on TF Serving or `fakenews serve`"),
    "stage": ("fakenews.commands.stage", "check the input and write the staged CSV to upload for Kubeflow"),
    "compile-kubeflow": ("fakenews.commands.compile_kubeflow", "compile the pipeline for Kubeflow Pipelines"),
    "score": ("fakenews.commands.score", "score a CSV file or folder of articles with a pushed model, on Beam"),
    "drift": ("fakenews.commands.drift", "compare new articles with the served model's training data (TFDV)"),
}


# Third-party warnings about the environment, not about anything a command does, each printed
# once per Google client library TFX and KFP import (30 copies in all, plus one from
# aiplatform): (category, module that warns, message start). Everything else still shows.
THIRD_PARTY_NOISE = (
    # "You are using a non-supported Python version (3.10.13)": the pinned TFX 1.16 needs 3.10.
    (FutureWarning, r"google\.api_core\._python_version_support", ""),
    # "Support for google-cloud-storage < 3.0.0 will be removed": TFX 1.16 pins storage < 3.
    (FutureWarning, r"google\.cloud\.aiplatform\.models", "Support for google-cloud-storage"),
)


def silence_third_party_noise() -> None:
    for category, module, message in THIRD_PARTY_NOISE:
        warnings.filterwarnings("ignore", message=message, category=category, module=module)


def build_parser(with_arguments: Collection[str] = tuple(COMMANDS)) -> argparse.ArgumentParser:
    """Every command's sub-parser; the arguments (and so the module imports) of those named in
    `with_arguments` only: compile-kubeflow's arguments import TFX and KFP, some 10 s of CPU
    that `fakenews predict` (otherwise 0.3 s) or `fakenews --help` should not pay."""
    # allow_abbrev=False everywhere: `--model` must not quietly mean `--model-pvc`.
    parser = argparse.ArgumentParser(
        prog="fakenews", description="Fake-news LSTM as a TFX pipeline, served with TF Serving.",
        allow_abbrev=False,
    )
    subparsers = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")
    for name, (module_name, help_text) in COMMANDS.items():
        sub = subparsers.add_parser(name, help=help_text, description=help_text, allow_abbrev=False)
        if name in with_arguments:
            module = importlib.import_module(module_name)
            module.add_arguments(sub)
            sub.set_defaults(handler=module.main)
    return parser


def main(argv: list[str] | None = None) -> int:
    silence_third_party_noise()
    argv = sys.argv[1:] if argv is None else argv
    # The command is the first argument (the top-level parser has no options but --help).
    args = build_parser(argv[:1]).parse_args(argv)
    try:
        return args.handler(args)
    except KeyboardInterrupt:  # Ctrl-C: one line, not a traceback.
        print(f"error: {args.command} interrupted by Ctrl-C", file=sys.stderr)
        return 128 + 2  # The shell's convention for "ended by SIGINT".


if __name__ == "__main__":
    sys.exit(main())
