"""`fakenews run`: check the input, run the whole TFX DAG locally, print the run summary."""

from __future__ import annotations

import argparse
import os
import sys
import time

from fakenews.commands import input_options, pipeline_options


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from pipeline.config import DEFAULT_BEAM_ARGS

    input_options.add_arguments(parser)
    parser.add_argument("--output", default="runs/local", help="run folder (default: %(default)s)")
    pipeline_options.add_arguments(parser)
    parser.add_argument("--no-cache", action="store_true", help="re-run every component")
    parser.add_argument("--beam-arg", action="append", default=None, metavar="ARG",
                        help=f"Beam pipeline argument, repeatable (default: {' '.join(DEFAULT_BEAM_ARGS)})")


def config_from(args: argparse.Namespace):
    from pipeline.config import DEFAULT_BEAM_ARGS

    return pipeline_options.config_from(
        args, beam_args=tuple(args.beam_arg) if args.beam_arg else DEFAULT_BEAM_ARGS, enable_cache=not args.no_cache)


def main(args: argparse.Namespace) -> int:
    from fakenews.commands import report as evaluation_report
    from pipeline import local_runner, summary
    from components.input_checks import InputError
    from pipeline.run_folder import RunFolder

    try:
        config = config_from(args)
    except ValueError as error:  # A setting the model cannot use, e.g. --ensemble-size 0.
        print(f"error: {error}", file=sys.stderr)
        return 2
    folder = RunFolder(os.path.abspath(args.output))
    started = time.monotonic()
    print(f"Running pipeline '{config.pipeline_name}' → {folder.path}")
    try:
        durations = local_runner.run(config, os.path.abspath(args.data), folder)
    except InputError as error:
        print(f"error: {error}", file=sys.stderr)
        return 2
    except local_runner.RunInterrupted as error:
        print(f"error: {error}; completed components are cached: re-run the same command to resume",
              file=sys.stderr)
        return 128 + 15  # The shell's convention for "ended by SIGTERM".
    except KeyboardInterrupt:  # Ctrl-C unwinds the run as SIGTERM's RunInterrupted does.
        print("error: interrupted by Ctrl-C; completed components are cached: re-run the same command to resume",
              file=sys.stderr)
        return 128 + 2  # "Ended by SIGINT".
    except Exception as error:  # A component failed: one line here, the trace in run.log.
        print(f"error: pipeline failed: {type(error).__name__}: {error}".splitlines()[0]
              + f"\n       full log: {folder.log_path}", file=sys.stderr)
        return 1
    print(summary.render(summary.collect(folder.metadata_path, config.pipeline_name, durations)))
    evaluation_report.show(folder.metadata_path, config.pipeline_name)
    print(f"Total wall time: {time.monotonic() - started:.0f} s")
    return 0
