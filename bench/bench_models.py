"""Benchmark: the model presets (notebook, improved, linear, wide-deep, wide-style), each trained over
three seeds on the same splits of one run, against a tuned TF-IDF + logistic-regression
baseline; plus serving latency; on articles.csv and liar_binary.csv.

Steps, per data file (one process, so the speed figures are ratios measured together):
  1. the whole `fakenews run` of the default preset (ingest -> pushed model), timed end to
     end: its Transform computes the TF-IDF and the style as well as the token ids, which
     every preset reads;
  2. from that run's Transform output, train every preset once per seed with the pipeline's
     own `components.trainer.train` (same train split, same validation slice);
  3. score the eval split through each exported model's `predict_examples` signature:
     F1 (fake), macro F1, accuracy, precision, recall, AUC at the model's stored threshold;
     each preset's mean and standard deviation (ddof=1) over the seeds;
  4. TF-IDF + LR (scikit-learn) on the same splits: defaults, and tuned (sublinear TF, C=10,
     threshold chosen on the same validation slice);
  5. for the first data file, serving latency of each preset's first-seed model for one
     median-length article (p50/p99) and batch-64 throughput, in-process and over REST
     through the local TF-Serving-API server, measured in three child processes set up as
     `fakenews serve` is (serving/settings.py); the figures are the three runs' median.

Run from the repository root (about an hour on 2 cores):
    TF_USE_LEGACY_KERAS=1 .venv/bin/python bench/bench_models.py
Writes bench/results/models.json and prints a Markdown table per data file.
"""

from __future__ import annotations

import argparse
import dataclasses
import glob
import json
import os
import pathlib
import platform
import subprocess
import sys
import tempfile
import time
from typing import Callable

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

REPO_ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO_ROOT))

import numpy as np  # noqa: E402
import tensorflow as tf  # noqa: E402
import tensorflow_transform as tft  # noqa: E402
from sklearn.feature_extraction.text import TfidfVectorizer  # noqa: E402
from sklearn.linear_model import LogisticRegression  # noqa: E402
from sklearn.metrics import accuracy_score, f1_score, precision_score, recall_score, roc_auc_score  # noqa: E402

from components import decision_threshold, signatures, trainer  # noqa: E402
from pipeline import local_runner  # noqa: E402
from pipeline import pipeline as dag  # noqa: E402
from components.hyperparameters import DEFAULT_PRESET, PRESETS, hyperparameters_for  # noqa: E402
from pipeline.config import PIPELINE_NAME, PipelineConfig  # noqa: E402
from pipeline.run_folder import RunFolder  # noqa: E402
from pipeline.summary import latest_run_outputs  # noqa: E402
from preprocessing import features  # noqa: E402
from tests import reference  # noqa: E402
from tests.data import canonical_path  # noqa: E402
from timing import call_seconds  # noqa: E402  (bench/, this script's folder)

NOTEBOOK_EPOCHS = 50  # What the notebook trains for; its time is extrapolated from s/epoch.
PRESET_NAMES = ("notebook", "improved", "linear", "wide-deep", "wide-style")
SEEDS = (42, 1, 2)
DATA_FILES = ("articles.csv", "liar_binary.csv")
SUMMARISED = ("f1_fake", "macro_f1", "accuracy", "precision", "recall", "auc", "threshold", "train_seconds",
              "epochs_run", "validation_log_loss", "validation_loss", "validation_score")
LATENCY_CALLS = 300
LATENCY_RUNS = 3  # Child processes measuring serving latency; figures are their median.
THROUGHPUT_BATCHES = 20


@dataclasses.dataclass
class Splits:
    """Raw examples (serialized) and transformed (token_ids, label) data of one pipeline run."""

    tf_transform_output: tft.TFTransformOutput
    train_transformed: tf.data.Dataset
    train_raw: list[bytes]
    eval_raw: list[bytes]


def _records(pattern: str) -> list[bytes]:
    files = sorted(glob.glob(pattern))
    return [r.numpy() for r in tf.data.TFRecordDataset(files, compression_type="GZIP")]


def load_splits(folder: RunFolder) -> Splits:
    _, outputs = latest_run_outputs(folder.metadata_path, PIPELINE_NAME)
    transform_output = tft.TFTransformOutput(outputs[dag.TRANSFORM]["transform_graph"][0].uri)
    transformed = outputs[dag.TRANSFORM]["transformed_examples"][0].uri
    raw = outputs[dag.EXAMPLE_GEN]["examples"][0].uri
    return Splits(
        tf_transform_output=transform_output,
        train_transformed=trainer.read_examples([f"{transformed}/Split-train/*"], transform_output),
        train_raw=_records(f"{raw}/Split-train/*"),
        eval_raw=_records(f"{raw}/Split-eval/*"),
    )


def _field(example: tf.train.Example, key: str) -> str:
    values = example.features.feature[key].bytes_list.value
    return values[0].decode("utf-8") if values else ""


def raw_columns(records: list[bytes]) -> tuple[dict[str, list[str]], np.ndarray]:
    examples = [tf.train.Example.FromString(r) for r in records]
    columns = {key: [_field(ex, key) for ex in examples] for key in features.TEXT_KEYS}
    labels = np.array([ex.features.feature[features.LABEL_KEY].int64_list.value[0] for ex in examples])
    return columns, labels


def classification_metrics(labels: np.ndarray, probabilities: np.ndarray, predicted: np.ndarray) -> dict[str, float]:
    return {
        "f1_fake": f1_score(labels, predicted),
        "macro_f1": f1_score(labels, predicted, average="macro"),
        "accuracy": accuracy_score(labels, predicted),
        "precision": precision_score(labels, predicted, zero_division=0),
        "recall": recall_score(labels, predicted),
        "auc": roc_auc_score(labels, probabilities),
    }


def score_model(model_dir: str, records: list[bytes]) -> tuple[np.ndarray, np.ndarray]:
    predict = tf.saved_model.load(model_dir).signatures["predict_examples"]
    probabilities, predicted = [], []
    for start in range(0, len(records), 256):
        out = predict(examples=tf.constant(records[start:start + 256]))
        probabilities.append(out["probability"].numpy())
        predicted.append(out["label"].numpy())
    return np.concatenate(probabilities), np.concatenate(predicted)


def train_variant(name: str, splits: Splits, export_dir: str, seed: int,
                  threshold_metric: str = "f1") -> dict[str, object]:
    hparams = hyperparameters_for(name, seed=seed, threshold_metric=threshold_metric)
    started = time.perf_counter()
    result = trainer.train(hparams, splits.train_transformed, verbose=2)
    train_seconds = time.perf_counter() - started
    signatures.export(result.model, splits.tf_transform_output, result.threshold, export_dir,
                      trim_padding=hparams.mask_padding)
    return {
        "seed": seed,
        "epochs_run": len(result.epoch_seconds),
        "best_epoch": result.best_epoch,
        # The train split's validation slice, what choices are made on: its log loss (without
        # the L2 penalties, so comparable across settings) and Keras' loss (with them).
        "validation_log_loss": result.validation_log_loss,
        "validation_loss": result.validation_loss,
        "threshold_metric": hparams.threshold_metric,
        "validation_score": result.validation_score,  # threshold_metric at the threshold.
        "seconds_per_epoch": float(np.mean(result.epoch_seconds)),
        "epoch_seconds": result.epoch_seconds,
        "train_seconds": train_seconds,
        "threshold": result.threshold,
    }


def summarise(runs: list[dict]) -> dict[str, dict[str, float]]:
    """Mean and standard deviation (ddof=1) over the seeds of each SUMMARISED figure."""
    figures = {key: [run[key] for run in runs if run.get(key) is not None] for key in SUMMARISED}
    return {"mean": {key: float(np.mean(v)) for key, v in figures.items() if v},
            "std": {key: float(np.std(v, ddof=1)) if len(v) > 1 else 0.0 for key, v in figures.items() if v}}


def tfidf_baseline(splits: Splits, tuned: bool, threshold_metric: str = "f1") -> dict[str, float]:
    """TF-IDF + LR on the notebook's cleaned, stemmed text; tuned: sublinear TF, C=10 and the
    threshold maximising threshold_metric on the train split's validation slice (every k-th
    row, as the Trainer)."""
    def documents(records: list[bytes]) -> tuple[list[str], np.ndarray]:
        columns, labels = raw_columns(records)
        docs = [" ".join(reference.clean(reference.join_fields(*fields)))
                for fields in zip(*(columns[key] for key in features.TEXT_KEYS))]
        return docs, labels

    train_docs, train_labels = documents(splits.train_raw)
    eval_docs, eval_labels = documents(splits.eval_raw)
    threshold = 0.5
    if tuned:
        every = round(1 / hyperparameters_for().validation_fraction)
        held_out = np.arange(len(train_docs)) % every == 0
        fit_docs = [d for d, h in zip(train_docs, held_out) if not h]
        vectorizer = TfidfVectorizer(sublinear_tf=True)
        model = LogisticRegression(C=10, max_iter=2000).fit(vectorizer.fit_transform(fit_docs), train_labels[~held_out])
        validation = model.predict_proba(vectorizer.transform([d for d, h in zip(train_docs, held_out) if h]))[:, 1]
        threshold, _ = decision_threshold.best_threshold(train_labels[held_out], validation, threshold_metric)
        vectorizer_all = vectorizer
    else:
        vectorizer_all = TfidfVectorizer()
        model = LogisticRegression(max_iter=2000).fit(vectorizer_all.fit_transform(train_docs), train_labels)
    probabilities = model.predict_proba(vectorizer_all.transform(eval_docs))[:, 1]
    return {**classification_metrics(eval_labels, probabilities, (probabilities >= threshold).astype(int)),
            "threshold": threshold}


def median_article(splits: Splits) -> dict[str, str]:
    columns, _ = raw_columns(splits.eval_raw)
    rows = [dict(zip(features.TEXT_KEYS, fields)) for fields in zip(*(columns[k] for k in features.TEXT_KEYS))]
    lengths = [len(reference.clean(reference.join_fields(*row.values()))) for row in rows]
    return rows[int(np.argsort(lengths)[len(lengths) // 2])]


def measure_latency(call_one: Callable[[], object], call_batch: Callable[[], object], batch_size: int) -> dict[str, float]:
    """p50/p99 of single-article calls, and documents/s of batch calls, after a warm-up."""
    for _ in range(20):
        call_one()
        call_batch()
    times = call_seconds(call_one, LATENCY_CALLS)
    elapsed = call_seconds(call_batch, THROUGHPUT_BATCHES).sum()
    return {"p50_ms": 1e3 * float(np.percentile(times, 50)), "p99_ms": 1e3 * float(np.percentile(times, 99)),
            "batch64_docs_per_s": THROUGHPUT_BATCHES * batch_size / elapsed}


def latency_in_process(model_dir: str, article: dict[str, str], batch: list[dict[str, str]]) -> dict[str, float]:
    """The exported serving_default signature run as TF Serving runs it: fed and fetched in a
    Session over the SavedModel's 'serve' graph (serving.servable, the local server's core)."""
    from serving import tensors
    from serving.servable import Servable

    signature = Servable(model_dir, version=1, max_batch=len(batch)).signature("")
    one, many = (tensors.instances_to_arrays(rows, signature.inputs) for rows in ([article], batch))
    return measure_latency(lambda: signature.run(one), lambda: signature.run(many), len(batch))


def latency_over_rest(model_base: str, article: dict[str, str], batch: list[dict[str, str]]) -> dict[str, float]:
    """The same through the local TF-Serving-API server and the project's REST client."""
    from serving.client import Article, RestClient
    from serving.server import LocalModelServer

    one, many = [Article(**article)], [Article(**row) for row in batch]
    with LocalModelServer(model_base, "bench", rest_port=0, grpc_port=0) as server, \
            RestClient(server.rest_url, "bench") as client:
        return measure_latency(lambda: client.predict(one), lambda: client.predict(many), len(batch))


def serving_latency(model_base: str, requests: dict) -> dict[str, dict[str, float]]:
    model_dir = os.path.join(model_base, "1")
    return {"in_process": latency_in_process(model_dir, requests["article"], requests["batch"]),
            "rest": latency_over_rest(model_base, requests["article"], requests["batch"])}


def latency_in_children(model_base: str, article: dict[str, str], batch: list[dict[str, str]],
                        runs_wanted: int = LATENCY_RUNS) -> dict:
    """serving_latency in `runs_wanted` fresh processes with the serving settings, which must be
    set before TensorFlow loads (this process has trained with the default ones).

    Each figure is the median over the runs; the runs' own figures are kept under
    "latency_runs". One run's p50 moved by up to 30 % from run to run on this 2-core machine.
    """
    from serving import settings

    requests = pathlib.Path(model_base, "requests.json")
    requests.write_text(json.dumps({"article": article, "batch": batch}), encoding="utf-8")
    runs = []
    for _ in range(runs_wanted):
        child = subprocess.run(
            [sys.executable, __file__, "--latency-of", model_base, "--requests", str(requests)],
            env={**os.environ, **settings.SERVING_ENVIRONMENT}, capture_output=True, text=True, check=True)
        runs.append(json.loads(child.stdout.strip().splitlines()[-1]))
    medians = {path: {figure: float(np.median([run[path][figure] for run in runs])) for figure in runs[0][path]}
               for path in runs[0]}
    return {**medians, "latency_runs": runs}


def bench_dataset(data: str, output: str, presets: list[str], seeds: list[int], latency_runs: int,
                  reuse_run: bool = False, threshold_metric: str = "f1") -> dict:
    """Steps 1-4 for one data file, and step 5 if latency_runs > 0. reuse_run: skip step 1 and
    train on the Transform output an earlier run left in `output` (no run time is reported)."""
    folder = RunFolder(output)
    run_seconds, durations = None, None
    if not (reuse_run and os.path.exists(folder.metadata_path)):
        started = time.perf_counter()
        # The default (wide-style): its Transform output holds every preset's features (the
        # token ids always, the TF-IDF, the style), and its run is the default's run time.
        config = PipelineConfig(enable_cache=False, hyperparameters=PRESETS[DEFAULT_PRESET])
        durations = local_runner.run(config, data, folder)
        run_seconds = time.perf_counter() - started
        print(f"{data}: {DEFAULT_PRESET} pipeline run {run_seconds:.0f} s", flush=True)

    splits = load_splits(folder)
    eval_labels = raw_columns(splits.eval_raw)[1]
    article = median_article(splits)
    batch_columns, _ = raw_columns(splits.eval_raw[:64])
    batch = [dict(zip(features.TEXT_KEYS, f)) for f in zip(*(batch_columns[k] for k in features.TEXT_KEYS))]
    results: dict[str, dict] = {}
    with tempfile.TemporaryDirectory() as exports:
        for name in presets:
            runs = []
            for index, seed in enumerate(seeds):
                model_base = os.path.join(exports, f"{name}-{seed}")
                run = train_variant(name, splits, os.path.join(model_base, "1"), seed, threshold_metric)
                probabilities, predicted = score_model(os.path.join(model_base, "1"), splits.eval_raw)
                run.update(classification_metrics(eval_labels, probabilities, predicted))
                if latency_runs and index == 0:
                    run.update(latency_in_children(model_base, article, batch, latency_runs))
                runs.append(run)
                print(data, name, json.dumps(run, default=float), flush=True)
            results[name] = {"runs": runs, **summarise(runs)}
    results["tfidf_lr_default"] = tfidf_baseline(splits, tuned=False)
    results["tfidf_lr_tuned"] = tfidf_baseline(splits, tuned=True, threshold_metric=threshold_metric)
    return {
        "data": data,
        "train_rows": len(splits.train_raw),
        "eval_rows": int(len(eval_labels)),
        "default_preset": DEFAULT_PRESET,
        "default_run_seconds": run_seconds,
        "default_run_components": durations,
        "median_article_tokens": len(reference.clean(reference.join_fields(*article.values()))),
        "seeds": list(seeds),
        "threshold_metric": threshold_metric,
        "results": results,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--data", nargs="+", default=[str(canonical_path(name)) for name in DATA_FILES])
    parser.add_argument("--presets", nargs="+", default=list(PRESET_NAMES), choices=list(PRESETS))
    parser.add_argument("--seeds", nargs="+", type=int, default=list(SEEDS))
    parser.add_argument("--latency-runs", type=int, default=LATENCY_RUNS, help="child processes per model (0: none)")
    parser.add_argument("--reuse-run", action="store_true",
                        help="train on the Transform output of an earlier run in --output instead of running the pipeline")
    parser.add_argument("--threshold-for", choices=decision_threshold.METRICS, default="f1",
                        help="what each model's decision threshold maximises on the validation slice")
    parser.add_argument("--output", default=str(REPO_ROOT / "runs" / "bench_models"))
    parser.add_argument("--results", default=str(REPO_ROOT / "bench" / "results" / "models.json"))
    parser.add_argument("--latency-of", metavar="MODEL_BASE", help=argparse.SUPPRESS)  # The child's job.
    parser.add_argument("--requests", metavar="JSON", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.latency_of:
        print(json.dumps(serving_latency(args.latency_of, json.loads(pathlib.Path(args.requests).read_text()))))
        return

    report = {"machine": {"cpus": os.cpu_count(), "python": platform.python_version(), "tensorflow": tf.__version__},
              "datasets": {}}
    for index, data in enumerate(args.data):
        name = pathlib.Path(data).name
        report["datasets"][name] = bench_dataset(data, os.path.join(args.output, pathlib.Path(data).stem),
                                                 args.presets, args.seeds, args.latency_runs if index == 0 else 0,
                                                 args.reuse_run, args.threshold_for)
        pathlib.Path(args.results).parent.mkdir(parents=True, exist_ok=True)
        pathlib.Path(args.results).write_text(json.dumps(report, indent=2, default=float), encoding="utf-8")
        print(markdown_table(report["datasets"][name]), flush=True)


def _mean_std(result: dict, key: str) -> str:
    return f"{result['mean'][key]:.3f} ± {result['std'][key]:.3f}"


def markdown_table(dataset: dict) -> str:
    r = dataset["results"]
    lines = [
        f"{dataset['data']} (train {dataset['train_rows']}, eval {dataset['eval_rows']}; "
        f"mean ± std over seeds {', '.join(map(str, dataset['seeds']))}):",
        "",
        "| | epochs | train s | validation log loss | F1 (fake) | macro F1 | accuracy | AUC | threshold |"
        " in-process p50 ms | REST p50 ms | batch-64 docs/s in-process |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for name in (n for n in r if not n.startswith("tfidf_lr")):
        v, first = r[name], r[name]["runs"][0]
        speed = (f"{first['in_process']['p50_ms']:.1f} | {first['rest']['p50_ms']:.1f} | "
                 f"{first['in_process']['batch64_docs_per_s']:.0f}") if "rest" in first else " | | "
        lines.append(
            f"| `{name}` | {v['mean']['epochs_run']:.1f} | {v['mean']['train_seconds']:.0f} | "
            f"{_mean_std(v, 'validation_log_loss')} | {_mean_std(v, 'f1_fake')} | {_mean_std(v, 'macro_f1')} | "
            f"{_mean_std(v, 'accuracy')} | {_mean_std(v, 'auc')} | {v['mean']['threshold']:.2f} | {speed} |")
    for name, label in (("tfidf_lr_default", "scikit-learn TF-IDF + LR (defaults)"),
                        ("tfidf_lr_tuned", "scikit-learn TF-IDF + LR (tuned)")):
        v = r[name]
        lines.append(f"| {label} | | | | {v['f1_fake']:.3f} | {v['macro_f1']:.3f} | {v['accuracy']:.3f} | "
                     f"{v['auc']:.3f} | {v['threshold']:.2f} | | | |")
    if dataset.get("default_run_seconds") is not None:
        lines += ["", f"`fakenews run` (the default, {dataset['default_preset']}) ingest → pushed "
                      f"model: {dataset['default_run_seconds']:.0f} s."]
    return "\n".join(lines)


if __name__ == "__main__":
    main()
