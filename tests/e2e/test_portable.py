"""Beam's portable path, here: the pipeline's Beam components and `fakenews score` under Beam's
PortableRunner, with an embedded job server and an EXTERNAL SDK worker pool this test starts
on 127.0.0.1 (`python -m apache_beam.runners.worker.worker_pool_main`), with the environment
settings of the flink and spark presets (pipeline/beam_presets.py: `--environment_type=EXTERNAL`,
`--environment_config=HOST:PORT` of the pool). The embedded job server (`--job_endpoint=embed`,
given after the preset's endpoint, so it wins) is Beam's own Python job service, in this
process, in place of a Flink or Spark job server.

A portability check, not Flink or Spark. It proves what a portable runner demands of the
code: every stage is serialized by the SDK, sent over the Fn API to a worker in another
process, unpickled there and run by a worker that imports the project's modules itself
(the ExampleGen's checks, TFDV's and tf.Transform's stages, the scoring DoFn and its model).
It does not run a Flink or Spark job server (Java) or cluster: not their scheduling, their
parallelism across machines, their shuffle, nor their file systems (the worker reads the same
local disk); nor the Evaluator (TFMA) under them.
"""

from __future__ import annotations

import dataclasses
import os
import pathlib
import signal
import socket
import subprocess
import sys
import time

import pytest

from pipeline import pipeline as dag
from tests.conftest import write_sample
from tests.data import REPO_ROOT
from tests.e2e.batch_score import assert_served_scores, fresh_articles, scored_shards, served_scores, write_csv

pytestmark = pytest.mark.e2e

POOL_START_SECONDS = 120  # For the pool's process to import Beam and listen, on a busy machine.
PIPELINE_ROWS = 200
# The preset's job endpoint; the embedded job server replaces it (a later Beam flag wins).
PLACEHOLDER_JOB_ENDPOINT = "127.0.0.1:8099"
WORKER_STARTED = b"Starting worker with command"  # What the pool logs for every SDK worker it starts.


@dataclasses.dataclass(frozen=True)
class WorkerPool:
    address: str
    log: pathlib.Path

    def workers_started(self) -> int:
        return self.log.read_bytes().count(WORKER_STARTED)


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture(scope="module")
def worker_pool(tmp_path_factory):
    """The SDK worker pool, as the pipeline image runs it beside each Flink or Spark worker."""
    port = _free_port()
    log = tmp_path_factory.mktemp("worker_pool") / "worker_pool.log"
    # The pool starts each worker as `python -c ...` from PATH: this interpreter's, importing
    # this checkout's packages, as the pipeline image's workers import the installed ones.
    env = {**os.environ, "PYTHONPATH": str(REPO_ROOT),
           "PATH": os.path.dirname(sys.executable) + os.pathsep + os.environ.get("PATH", "")}
    with log.open("wb") as sink:
        pool = subprocess.Popen(
            [sys.executable, "-m", "apache_beam.runners.worker.worker_pool_main", f"--service_port={port}"],
            env=env, stdout=sink, stderr=subprocess.STDOUT, start_new_session=True)  # Its workers join its group.
    try:
        deadline = time.monotonic() + POOL_START_SECONDS
        while True:
            try:
                socket.create_connection(("127.0.0.1", port), timeout=1).close()
                break
            except OSError:
                if pool.poll() is not None or time.monotonic() > deadline:
                    pytest.fail(f"worker pool did not start: {log.read_text(errors='replace')[-2000:]}")
                time.sleep(0.5)
        yield WorkerPool(f"127.0.0.1:{port}", log)
    finally:
        os.killpg(pool.pid, signal.SIGTERM)  # The pool and any worker it left running.
        pool.wait(timeout=30)


def portable_args(pool: WorkerPool) -> tuple[str, ...]:
    """The flink preset's Beam arguments for this pool, then the embedded job server."""
    from pipeline.beam_presets import BeamSettings, beam_args

    preset = beam_args("flink", BeamSettings(job_endpoint=PLACEHOLDER_JOB_ENDPOINT, worker_pool=pool.address), "")
    assert {"--runner=PortableRunner", "--environment_type=EXTERNAL", f"--environment_config={pool.address}"} <= set(preset)
    return (*preset, "--job_endpoint=embed")


def _examples(uri: str, split: str) -> list:
    import tensorflow as tf

    pattern = os.path.join(uri, f"Split-{split}", "*.gz")
    return [tf.train.Example.FromString(record.numpy())
            for record in tf.data.TFRecordDataset(tf.io.gfile.glob(pattern), compression_type="GZIP")]


def test_the_pipelines_beam_components_run_in_the_external_workers(worker_pool, tmp_path):
    """ExampleGen (the input checks), StatisticsGen, SchemaGen and Transform, as `create_pipeline`
    wires them, run by TFX's LocalDagRunner (a partial run, up to the Transform) with the
    portable Beam arguments; their outputs are what this process computes from the same rows."""
    import numpy as np
    import tensorflow as tf
    import tensorflow_data_validation as tfdv
    from ml_metadata.proto import metadata_store_pb2
    from tfx import v1 as tfx
    from tfx.orchestration.pipeline import RunOptions  # Not in tfx.v1.

    from components.input_checks import INPUT_COUNTS_PROPERTY
    from pipeline.config import PipelineConfig
    from pipeline.input_check import check_and_stage
    from pipeline.run_folder import RunFolder
    from pipeline.summary import latest_run_outputs
    from preprocessing import features
    from preprocessing.transform import stems, token_ids

    data = write_sample(tmp_path / "articles.csv", rows=PIPELINE_ROWS)
    config, folder = PipelineConfig(beam_args=portable_args(worker_pool)), RunFolder(str(tmp_path / "run"))
    started = worker_pool.workers_started()
    pipeline = dag.create_pipeline(config, folder.locations(str(data)),
                                   tfx.orchestration.metadata.sqlite_metadata_connection_config(folder.metadata_path))
    tfx.orchestration.LocalDagRunner().run(pipeline, run_options=RunOptions(to_nodes=[dag.TRANSFORM]))
    assert worker_pool.workers_started() > started

    executions, outputs = latest_run_outputs(folder.metadata_path, config.pipeline_name)
    beam_components = (dag.EXAMPLE_GEN, dag.STATISTICS_GEN, dag.SCHEMA_GEN, dag.TRANSFORM)
    assert {node: executions[node].last_known_state for node in beam_components} == {
        node: metadata_store_pb2.Execution.COMPLETE for node in beam_components}

    examples = outputs[dag.EXAMPLE_GEN]["examples"][0]
    local = check_and_stage(data, tmp_path / "staged")
    assert examples.custom_properties[INPUT_COUNTS_PROPERTY].string_value == local.counts_json()

    splits = ("train", "eval")
    raw = {split: _examples(examples.uri, split) for split in splits}
    assert sum(len(rows) for rows in raw.values()) == PIPELINE_ROWS
    statistics = outputs[dag.STATISTICS_GEN]["statistics"][0].uri
    for split in splits:
        stats = tfdv.load_stats_binary(os.path.join(statistics, f"Split-{split}", "FeatureStats.pb"))
        assert stats.datasets[0].num_examples == len(raw[split])

    transformed = outputs[dag.TRANSFORM]["transformed_examples"][0].uri
    for split in splits:
        in_workers = sorted(tuple(example.features.feature[features.TOKEN_IDS_KEY].int64_list.value)
                            for example in _examples(transformed, split))
        fields = {key: tf.constant([(example.features.feature[key].bytes_list.value or [b""])[0]
                                    for example in raw[split]]) for key in features.TEXT_KEYS}
        here = sorted(tuple(row) for row in np.asarray(token_ids(stems(fields), config.truncating)))
        assert in_workers == here


def test_score_under_the_portable_runner_matches_serving_default(pipeline_run, worker_pool, tmp_path, capsys):
    from fakenews.cli import main as cli

    articles = fresh_articles()
    data = write_csv(tmp_path / "fresh.csv", articles)
    started = worker_pool.workers_started()
    assert cli(["score", "--model-base", pipeline_run.serving_base, "--data", str(data), "--output", str(tmp_path / "out"),
                "--beam-preset", "flink", "--beam-job-endpoint", PLACEHOLDER_JOB_ENDPOINT,
                "--beam-worker-pool", worker_pool.address, "--beam-arg=--job_endpoint=embed"]) == 0
    assert "Beam preset 'flink'" in capsys.readouterr().out
    assert worker_pool.workers_started() > started
    assert_served_scores(scored_shards(tmp_path / "out"), served_scores(pipeline_run.serving_base, articles))
