"""The flags that say what the DAG does, shared by `fakenews run` and `fakenews compile-kubeflow`:
the model preset and its training settings, the blessing's AUC bound, the split, truncation
(the input's columns and invalid labels: input_options). One definition, so a cluster run
trains what a local run trains; `config_from` builds the `PipelineConfig` they describe."""

from __future__ import annotations

import argparse
from typing import Any


def _split(value: str) -> tuple[int, int]:
    try:
        train, eval_ = (int(part) for part in value.split(":"))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected TRAIN:EVAL hash buckets like 2:1, got {value!r}") from None
    if train < 1 or eval_ < 1:
        raise argparse.ArgumentTypeError("both sides of the split must be >= 1")
    return train, eval_


def add_arguments(parser: argparse.ArgumentParser) -> None:
    from components import decision_threshold
    from components.hyperparameters import DEFAULT_PRESET, PRESETS
    from pipeline.config import DEFAULT_MIN_AUC, DEFAULT_TUNE_TRIALS

    parser.add_argument("--preset", choices=tuple(PRESETS), default=DEFAULT_PRESET,
                        help="'notebook': the notebook's network and training exactly; 'improved': "
                        "masked padding, length buckets, bidirectional, word dropout, class weights, three "
                        "copies averaged, tuned threshold; 'linear': logistic regression over the in-graph "
                        "TF-IDF; 'wide-deep': 'improved' beside 'linear', one probability; 'wide-style': 'linear' "
                        "beside a small network over the article's style (default: %(default)s)")
    parser.add_argument("--epochs", type=int, default=None,
                        help="maximum epochs; early stopping may end sooner (default: the model's, "
                        + ", ".join(f"{name} {hp.epochs}" for name, hp in PRESETS.items()) + ")")
    parser.add_argument("--batch-size", type=int, default=None, help="(default: the model's, 64)")
    parser.add_argument("--threshold-for", choices=decision_threshold.METRICS, default=None,
                        help="what the decision threshold maximises on the train split's validation slice: "
                        "'f1', F1 of the unreliable class, or 'accuracy' (default: f1; 'notebook' keeps "
                        "the notebook's 0.5 unless this is given)")
    parser.add_argument("--ensemble-size", type=int, default=None, metavar="N",
                        help="copies of the network trained side by side and averaged (default: the model's, "
                        + ", ".join(f"{name} {hp.ensemble_size}" for name, hp in PRESETS.items()) + ")")
    tuning = parser.add_argument_group("tuning (TFX's Tuner before the Trainer; components/search_space.py)")
    tuning.add_argument("--tune", action="store_true",
                        help="search the preset's sizes (embedding, LSTM and dense widths, LSTM dropout, the wide "
                        "part's L2) for the lowest validation loss, starting from the preset's own; the Trainer "
                        "trains the best (improved, wide-deep, linear)")
    tuning.add_argument("--tune-trials", type=int, default=None, metavar="N",
                        help=f"trials, the first the preset itself (default: {DEFAULT_TUNE_TRIALS})")
    tuning.add_argument("--tune-epochs", type=int, default=None, metavar="N",
                        help="each trial's maximum epochs (default: the preset's; early stopping ends a trial sooner)")
    parser.add_argument("--min-auc", type=float, default=DEFAULT_MIN_AUC,
                        help="blessing: lowest AUC on the eval split (default: %(default)s)")
    parser.add_argument("--split", type=_split, default=(2, 1), metavar="TRAIN:EVAL",
                        help="train:eval hash buckets (default: 2:1, like test_size=0.33)")
    parser.add_argument("--truncating", choices=("pre", "post"), default="pre",
                        help="which end of a long article to cut (default: %(default)s, as Keras)")


def config_from(args: argparse.Namespace, **fields: Any):
    """The `PipelineConfig` the flags describe; `fields` sets what only one command has
    (Beam's arguments, caching). Raises ValueError for a setting the model cannot use."""
    from components.hyperparameters import hyperparameters_for
    from fakenews.commands import input_options
    from pipeline.config import DEFAULT_TUNE_TRIALS, PipelineConfig

    if not args.tune and (args.tune_trials is not None or args.tune_epochs is not None):
        raise ValueError("--tune-trials and --tune-epochs need --tune")
    return PipelineConfig(
        columns=input_options.columns_from(args),
        train_buckets=args.split[0],
        eval_buckets=args.split[1],
        truncating=args.truncating,
        drop_invalid=args.drop_invalid,
        hyperparameters=hyperparameters_for(args.preset, epochs=args.epochs, batch_size=args.batch_size,
                                            ensemble_size=args.ensemble_size, threshold_metric=args.threshold_for,
                                            tune_threshold=True if args.threshold_for else None),
        min_auc=args.min_auc,
        tune=args.tune,
        tune_trials=DEFAULT_TUNE_TRIALS if args.tune_trials is None else args.tune_trials,
        tune_epochs=args.tune_epochs,
        **fields,
    )
