"""`fakenews run`: check the input, run the whole TFX DAG locally, print the run summary."""

from __future__ import annotations

import argparse
import os
import sys
import time

from fakenews.commands import input_options


def _split(value: str) -> tuple[int, int]:
    try:
        train, eval_ = (int(part) for part in value.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TRAIN:EVAL hash buckets like 2:1, got {value!r}") from None
    if train < 1 or eval_ < 1:
        raise argparse.ArgumentTypeError("both sides of the split must be >= 1")
    return train, eval_


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from components.hyperparameters import DEFAULT_PRESET, PRESETS
    from pipeline.config import DEFAULT_BEAM_ARGS, DEFAULT_MIN_AUC

    input_options.add_arguments(parser)
    parser.add_argument("--output", default="runs/local", help="run folder (default: %(default)s)")
    parser.add_argument("--preset", choices=tuple(PRESETS), default=DEFAULT_PRESET,
                        help="'notebook': the notebook's network and training exactly; 'improved': "
                        "masked padding, length buckets, bidirectional, word dropout, class weights, three "
                        "copies averaged, tuned threshold (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="maximum epochs; early stopping may end sooner (default: the model's, "
                        + ", ".join(f"{name} {hp.epochs}" for name, hp in PRESETS.items()) + ")")
    parser.add_argument("--batch-size", type=int, default=None, help="(default: the model's, 64)")
    parser.add_argument("--ensemble-size", type=int, default=None, metavar="N",
                        help="copies of the network trained side by side and averaged (default: the model's, "
                        + ", ".join(f"{name} {hp.ensemble_size}" for name, hp in PRESETS.items()) + ")")
    parser.add_argument("--min-auc", type=float, default=DEFAULT_MIN_AUC,
                        help="blessing: lowest AUC on the eval split (default: %(default)s)")
    parser.add_argument("--split", type=_split, default=(2, 1), metavar="TRAIN:EVAL",
                        help="train:eval hash buckets (default: 2:1, like test_size=0.33)")
    parser.add_argument("--truncating", choices=("pre", "post"), default="pre",
                        help="which end of a long article to cut (default: %(default)s, as Keras)")
    parser.add_argument("--no-cache", action="store_true", help="re-run every component")
    parser.add_argument("--beam-arg", action="append", default=None, metavar="ARG",
                        help=f"Beam pipeline argument, repeatable (default: {' '.join(DEFAULT_BEAM_ARGS)})")


def config_from(args: argparse.Namespace):
    from components.hyperparameters import hyperparameters_for
    from pipeline.config import DEFAULT_BEAM_ARGS, PipelineConfig

    return PipelineConfig(
        columns=input_options.columns_from(args),
        train_buckets=args.split[0],
        eval_buckets=args.split[1],
        truncating=args.truncating,
        drop_invalid=args.drop_invalid,
        hyperparameters=hyperparameters_for(args.preset, epochs=args.epochs, batch_size=args.batch_size,
                                            ensemble_size=args.ensemble_size),
        min_auc=args.min_auc,
        beam_args=tuple(args.beam_arg) if args.beam_arg else DEFAULT_BEAM_ARGS,
        enable_cache=not args.no_cache,
    )


def main(args: argparse.Namespace) -> int:
    from fakenews.commands import report as evaluation_report
    from pipeline import local_runner, summary
    from pipeline.input_check import InputError
    from pipeline.run_folder import RunFolder

    try:
        config = config_from(args)
    except ValueError as error:  # A setting the model cannot use, e.g. --ensemble-size 0.
        print(f"error: {error}", file=sys.stderr)
        return 2
    folder = RunFolder(os.path.abspath(args.output))
    started = time.monotonic()
    # The log's path is printed by the runner once it writes the log: a bad input stops before.
    print(f"Running pipeline '{config.pipeline_name}' → {folder.path}")
    try:
        report, durations = local_runner.run(config, os.path.abspath(args.data), folder)
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
    print(summary.render(summary.collect(folder.metadata_path, config.pipeline_name, report, durations)))
    evaluation_report.show(folder.metadata_path, config.pipeline_name)
    print(f"Total wall time: {time.monotonic() - started:.0f} s")
    return 0
