"""Every exported model ships TF Serving's warmup requests (components/warmup.py), and the local
server replays them as TF Serving does when a version loads (serving/warmup.py)."""

from __future__ import annotations

import pathlib
import shutil

import grpc
import pytest
import tensorflow as tf
from tensorflow_serving.apis import prediction_log_pb2

from components import warmup
from preprocessing import features
from serving import warmup_file as replay
from serving.errors import ServingError
from serving.servable import Servable
from tests.data import read_rows


def _records(path: str) -> list[prediction_log_pb2.PredictionLog]:
    return [prediction_log_pb2.PredictionLog.FromString(record.numpy()) for record in tf.data.TFRecordDataset(path)]


def test_the_exported_model_ships_predict_logs_of_raw_articles(fixture_model):
    logs = _records(replay.requests_path(fixture_model.pushed_path))
    assert 0 < len(logs) <= replay.MAX_RECORDS
    assert len(logs) == warmup.RECORDS
    lengths = []
    for log in logs:
        assert log.WhichOneof("log_type") == "predict_log"
        request = log.predict_log.request
        assert request.model_spec.signature_name == "serving_default"
        assert set(request.inputs) == set(features.TEXT_KEYS)
        for proto in request.inputs.values():
            assert proto.dtype == tf.string.as_datatype_enum and [d.size for d in proto.tensor_shape.dim] == [1]
        lengths.append(sum(len(request.inputs[key].string_val[0]) for key in features.TEXT_KEYS))
    assert lengths == sorted(lengths) and lengths[0] < lengths[-1] / 10  # A spread, shortest to longest.


def test_the_spread_holds_the_shortest_and_the_longest_real_article():
    articles = [{key: row[key] for key in features.TEXT_KEYS} for row in read_rows("articles.csv", 400)]
    chosen = warmup.spread_of_lengths(articles, count=5)
    length = lambda article: sum(len(article[key]) for key in features.TEXT_KEYS)  # noqa: E731
    assert len(chosen) == 5
    assert length(chosen[0]) == min(map(length, articles)) and length(chosen[-1]) == max(map(length, articles))


def test_the_server_replays_them_at_load(fixture_model):
    servable = Servable(fixture_model.pushed_path, fixture_model.version, max_batch=64)
    assert servable.warm_up() == warmup.RECORDS


def _copy_with_requests(fixture_model, tmp_path: pathlib.Path, records: list[bytes] | None) -> str:
    """The fixture version copied, its warmup file replaced by `records` (None: no file)."""
    copy = tmp_path / "1"
    shutil.copytree(fixture_model.pushed_path, copy)
    path = pathlib.Path(replay.requests_path(str(copy)))
    path.unlink()
    if records is not None:
        with tf.io.TFRecordWriter(str(path)) as writer:
            for record in records:
                writer.write(record)
    return str(copy)


def test_a_model_without_requests_loads_unwarmed(fixture_model, tmp_path):
    assert Servable(_copy_with_requests(fixture_model, tmp_path, None), 1, max_batch=64).warm_up() == 0


def test_more_records_than_tf_serving_takes_fail_the_load(fixture_model, tmp_path):
    # TF Serving runs the records as it reads them and fails on the first past the limit, so
    # each of the first MAX_RECORDS runs: the shipped request with its article emptied, the
    # cheapest there is to run.
    log = _records(replay.requests_path(fixture_model.pushed_path))[0]
    for proto in log.predict_log.request.inputs.values():
        proto.string_val[:] = [b""]
    path = _copy_with_requests(fixture_model, tmp_path, [log.SerializeToString()] * (replay.MAX_RECORDS + 1))
    with pytest.raises(ServingError, match=r"Number of warmup records exceeeds the maximum \(1000\)") as error:
        Servable(path, 1, max_batch=64).warm_up()
    assert error.value.code == grpc.StatusCode.INVALID_ARGUMENT


def test_an_unparsable_record_fails_the_load(fixture_model, tmp_path):
    path = _copy_with_requests(fixture_model, tmp_path, [b"malformed_record"])
    with pytest.raises(ServingError, match="Failed to parse warmup record"):
        Servable(path, 1, max_batch=64).warm_up()
