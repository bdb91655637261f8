"""TF Serving's warmup requests, shipped inside every exported model.

TF Serving replays `assets.extra/tf_serving_warmup_requests` (a TFRecord of PredictionLog
records; the location and limits are TF Serving's, stated in serving/warmup_file.py; serving/warmup.py
replays them in the local stand-in) when it loads a version, before the version is AVAILABLE; without it the first real
requests pay TensorFlow's one-time work on a freshly loaded graph (function instantiation,
graph optimisation: seconds here, against milliseconds a request after). The records are
`predict_log`s for `serving_default` with raw `title`/`author`/`text`, as clients send them:
real articles of the eval split, picked across the range of their lengths, since a masked
model's graph runs to each request's longest document. TF Serving refuses a file of more
than warmup.MAX_RECORDS records; a few cover what the first request would otherwise pay
(bench/bench_warmup.py measures it).
"""

from __future__ import annotations

import os
from typing import Iterable, Sequence

import numpy as np
import tensorflow as tf
from tensorflow_serving.apis import model_pb2, predict_pb2, prediction_log_pb2

from preprocessing import features
from serving.warmup_file import MAX_RECORDS, requests_path

# The Trainer's custom_config key of the raw examples' file pattern the requests are drawn
# from (components/tunable_trainer.py sets it from the ExampleGen's eval split).
SOURCE_KEY = "warmup_examples"
RECORDS = 5  # Articles at evenly spaced length ranks, shortest to longest (bench/bench_warmup.py: 1 left the first request 3-8x the p50; 5 brought it to it).
SAMPLE = 5000  # Raw examples read to rank by length: enough for the spread, bounded for any input.
SIGNATURE = "serving_default"


def raw_articles(file_pattern: str) -> list[dict[str, str]]:
    """The text columns ('' where absent) of the first SAMPLE raw examples, as the ExampleGen
    wrote them (GZIP TFRecords)."""
    files = sorted(tf.io.gfile.glob(file_pattern))
    if not files:
        raise FileNotFoundError(f"no raw examples match {file_pattern} for the warmup requests")
    articles = []
    for record in tf.data.TFRecordDataset(files, compression_type="GZIP").take(SAMPLE):
        feature = tf.train.Example.FromString(record.numpy()).features.feature
        articles.append({key: feature[key].bytes_list.value[0].decode("utf-8") if feature[key].bytes_list.value
                         else "" for key in features.TEXT_KEYS})
    return articles


def spread_of_lengths(articles: Sequence[dict[str, str]], count: int = RECORDS) -> list[dict[str, str]]:
    """`count` articles at evenly spaced ranks of their length, the shortest and longest included."""
    if not articles:
        raise ValueError("no articles to draw warmup requests from")
    lengths = np.array([sum(len(article[key]) for key in features.TEXT_KEYS) for article in articles])
    order = np.argsort(lengths, kind="stable")
    ranks = np.unique(np.linspace(0, len(order) - 1, num=min(count, len(order))).round().astype(int))
    return [articles[order[rank]] for rank in ranks]


def prediction_logs(articles: Iterable[dict[str, str]]) -> list[prediction_log_pb2.PredictionLog]:
    """One predict_log per article: a one-row request to serving_default, as a client sends it."""
    logs = []
    for article in articles:
        request = predict_pb2.PredictRequest(model_spec=model_pb2.ModelSpec(signature_name=SIGNATURE))
        for key in features.TEXT_KEYS:
            request.inputs[key].CopyFrom(tf.make_tensor_proto([article[key].encode("utf-8")], dtype=tf.string))
        logs.append(prediction_log_pb2.PredictionLog(predict_log=prediction_log_pb2.PredictLog(request=request)))
    return logs


def write(export_dir: str, logs: Sequence[prediction_log_pb2.PredictionLog]) -> str:
    """Writes the requests file into the SavedModel at export_dir; returns its path."""
    if not 0 < len(logs) <= MAX_RECORDS:
        raise ValueError(f"{len(logs)} warmup records; TF Serving takes 1 to {MAX_RECORDS}")
    path = requests_path(export_dir)
    tf.io.gfile.makedirs(os.path.dirname(path))
    with tf.io.TFRecordWriter(path) as writer:
        for log in logs:
            writer.write(log.SerializeToString())
    return path


def write_from_examples(export_dir: str, file_pattern: str) -> str:
    """The requests file of a spread of the raw examples' articles (the Trainer's step)."""
    return write(export_dir, prediction_logs(spread_of_lengths(raw_articles(file_pattern))))
