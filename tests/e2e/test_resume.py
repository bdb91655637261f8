"""Resume: `fakenews run` killed by SIGTERM during the Trainer, then run again, reuses every
upstream execution from ML Metadata's cache and finishes with a pushed model."""

from __future__ import annotations

import collections
import os
import pathlib
import queue
import signal
import subprocess
import sys
import threading
import time

import pytest

from pipeline import pipeline as dag
from tests.conftest import write_sample
from tests.data import REPO_ROOT

pytestmark = pytest.mark.e2e

START_DEADLINE = 600  # Seconds for the killed run to reach the Trainer, on a shared machine.
EXIT_DEADLINE = 120  # Seconds for it to exit after SIGTERM.
UPSTREAM = (dag.EXAMPLE_GEN, dag.STATISTICS_GEN, dag.SCHEMA_GEN, dag.EXAMPLE_VALIDATOR, dag.TRANSFORM)


def _lines(stream) -> queue.Queue:
    """The stream's lines on a queue, read by a thread, so the test can wait with a deadline."""
    lines: queue.Queue = queue.Queue()

    def pump() -> None:
        for line in stream:
            lines.put(line)
        lines.put(None)

    threading.Thread(target=pump, daemon=True).start()
    return lines


def _wait_for(lines: queue.Queue, wanted: str, deadline: float, seen: list[str]) -> None:
    while time.monotonic() < deadline:
        try:
            line = lines.get(timeout=max(0.1, deadline - time.monotonic()))
        except queue.Empty:
            break
        if line is None:
            break
        seen.append(line)
        if wanted in line:
            return
    raise AssertionError(f"{wanted!r} not printed in time; output so far:\n{''.join(seen)}")


def _executions_by_node(metadata_path: str) -> dict[str, list[str]]:
    """node id -> the state names of its executions, oldest first."""
    import ml_metadata as mlmd
    from ml_metadata.proto import metadata_store_pb2
    from tfx import v1 as tfx

    store = mlmd.MetadataStore(tfx.orchestration.metadata.sqlite_metadata_connection_config(metadata_path))
    states: dict[str, list[str]] = collections.defaultdict(list)
    for context in store.get_contexts_by_type("node"):
        node = context.name.split(".", 1)[1]
        for execution in sorted(store.get_executions_by_context(context.id), key=lambda e: e.id):
            states[node].append(metadata_store_pb2.Execution.State.Name(execution.last_known_state))
    return dict(states)


def test_killed_during_trainer_then_rerun_resumes_from_the_cache(tmp_path):
    from components.served_versions import served_versions

    data = write_sample(tmp_path / "in" / "articles.csv", rows=300)
    output = tmp_path / "run"
    # --min-auc 0: this test is about orchestration, not model quality; 300 rows and one epoch
    # must not decide whether the resumed run pushes.
    argv = ["run", "--data", str(data), "--output", str(output), "--epochs", "1", "--min-auc", "0"]
    trainer_outputs = output / "pipeline" / dag.TRAINER / "model"

    env = dict(os.environ, PYTHONUNBUFFERED="1", TF_USE_LEGACY_KERAS="1", TF_CPP_MIN_LOG_LEVEL="2")
    with (tmp_path / "killed.stderr").open("w+") as stderr:
        process = subprocess.Popen([sys.executable, "-m", "fakenews", *argv], cwd=REPO_ROOT, env=env,
                                   stdout=subprocess.PIPE, stderr=stderr, text=True)
        try:
            seen: list[str] = []
            deadline = time.monotonic() + START_DEADLINE
            _wait_for(_lines(process.stdout), "▸ Trainer", deadline, seen)
            # The progress line comes as the Trainer's launcher starts; its executor makes the
            # output folder first thing, so once it exists the signal lands mid-training.
            while not (trainer_outputs.exists() and any(trainer_outputs.iterdir())):
                assert time.monotonic() < deadline and process.poll() is None, "".join(seen)
                time.sleep(0.2)
            process.send_signal(signal.SIGTERM)
            returncode = process.wait(timeout=EXIT_DEADLINE)
        finally:
            if process.poll() is None:
                process.kill()
                process.wait()
        stderr.seek(0)
        message = [line for line in stderr.read().splitlines() if line.startswith("error:")]

    assert returncode == 128 + signal.SIGTERM
    assert message == [f"error: interrupted by SIGTERM during {dag.TRAINER}; completed components "
                       "are cached: re-run the same command to resume"]
    assert served_versions(str(output / "serving" / "fakenews")) == []
    killed = _executions_by_node(str(output / "metadata.sqlite"))
    assert killed[dag.TRAINER] == ["FAILED"]  # Recorded as failed, not left RUNNING forever.
    assert all(killed[node] == ["COMPLETE"] for node in UPSTREAM), killed
    assert dag.PUSHER not in killed

    # The same command again, as a new process like the first (which also gives it a fresh
    # look at the code, whose fingerprint is part of the Transform's and Trainer's cache keys).
    rerun = subprocess.run([sys.executable, "-m", "fakenews", *argv], cwd=REPO_ROOT, env=env, text=True,
                           capture_output=True, timeout=START_DEADLINE)
    assert rerun.returncode == 0, rerun.stderr[-3000:]

    resumed = _executions_by_node(str(output / "metadata.sqlite"))
    for node in UPSTREAM:
        assert resumed[node] == ["COMPLETE", "CACHED"], (node, resumed)
    assert resumed[dag.TRAINER] == ["FAILED", "COMPLETE"]
    assert resumed[dag.PUSHER] == ["COMPLETE"]
    versions = served_versions(str(output / "serving" / "fakenews"))
    assert len(versions) == 1
    assert (pathlib.Path(output, "serving", "fakenews", str(versions[0]), "saved_model.pb")).exists()
