"""The compiled Kubeflow spec, executed: every task of the PipelineJob `compile_pipeline` returns
runs as the open-source KFP backend would run it (tests/kfp_local.py), on 1,000 real articles,
once with local folders standing in for the bucket and once against an S3 server (moto) on
127.0.0.1 with s3:// roots, credentials from a (stand-in) Kubernetes secret.

The spec is the default one, baseline included (components/baseline.py): the first run has no
model served, so the absolute bound decides and it pushes; on local folders a second run of
the same spec, trained on shuffled train labels (test_gate.py's data, for the reasons given
there), is compared with that served model, is not blessed, pushes nothing, and its report
names the served version it lost to."""

from __future__ import annotations

import dataclasses
import json
import pathlib
from typing import Iterator

import boto3
import pytest
import tensorflow as tf
from google.protobuf import json_format
from moto.server import ThreadedMotoServer

from components.hyperparameters import hyperparameters_for
from components.input_checks import INPUT_COUNTS_PROPERTY
from components.report import layout
from kubeflow import runner
from kubeflow.s3 import S3Access
from pipeline import pipeline as wiring
from pipeline.config import DEFAULT_BEAM_ARGS, Locations, PipelineConfig
from pipeline.input_check import check_and_stage
from tests.conftest import MEETABLE_MIN_AUC, SAMPLE_EPOCHS, SAMPLE_ROWS, write_sample
from tests.e2e.test_gate import write_train_shuffled
from tests.kfp_local import LocalKfp, PipelineRun

pytestmark = pytest.mark.e2e

# The session pipeline_run's budget: the smallest with a real model clearly above a
# shuffled-labels one (tests/conftest.py).
ROWS = SAMPLE_ROWS
IMAGE = "fakenews-tfx:test"  # Pinned, as compile_pipeline requires; tasks run on this machine's venv.
BUCKET = "fakenews-test"
SECRET = "fakenews-s3"
# Any key pair opens moto's store; they reach the tasks only through the secret mapping.
SECRET_VALUES = {"AWS_ACCESS_KEY_ID": "test-access-key", "AWS_SECRET_ACCESS_KEY": "test-secret-key"}
REGION = "us-east-1"


# What `fakenews compile-kubeflow` compiles (the default spec, baseline included), on the
# session run's training budget.
CONFIG = PipelineConfig(beam_args=DEFAULT_BEAM_ARGS, hyperparameters=hyperparameters_for(epochs=SAMPLE_EPOCHS),
                        min_auc=MEETABLE_MIN_AUC)


def locations(pipeline_root: str, data: str) -> Locations:
    if pipeline_root.startswith("s3://"):
        return runner.kubeflow_locations(pipeline_root, data)
    # Local folders stand in for the bucket; the CLI's check (kubeflow_locations) refuses them,
    # so they are laid out as it lays out bucket URIs.
    return Locations(data=data, pipeline_root=pipeline_root, serving_root=f"{pipeline_root}/serving")


class LocalStore:
    """The bucket as local folders."""

    def __init__(self, base: pathlib.Path):
        self.base = base

    def uri(self, path: str) -> str:
        return str(self.base / path)

    def upload(self, local: pathlib.Path, path: str) -> None:
        target = self.base / path
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(local.read_bytes())

    def folders(self, uri: str) -> list[str]:
        base = pathlib.Path(uri)
        return sorted(p.name for p in base.iterdir() if p.is_dir()) if base.exists() else []

    def local_copy(self, uri: str, target: pathlib.Path) -> pathlib.Path:
        return pathlib.Path(uri)


class S3Store:
    """The bucket on the S3 server, read and written by boto3: an independent client, so the
    test process never imports tensorflow-io (whose abort at exit would end pytest)."""

    def __init__(self, endpoint: str):
        self.client = boto3.client("s3", endpoint_url=endpoint, region_name=REGION,
                                   aws_access_key_id=SECRET_VALUES["AWS_ACCESS_KEY_ID"],
                                   aws_secret_access_key=SECRET_VALUES["AWS_SECRET_ACCESS_KEY"])
        self.client.create_bucket(Bucket=BUCKET)

    def uri(self, path: str) -> str:
        return f"s3://{BUCKET}/{path}"

    @staticmethod
    def _key(uri: str) -> str:
        return uri.removeprefix(f"s3://{BUCKET}/").rstrip("/")

    def upload(self, local: pathlib.Path, path: str) -> None:
        self.client.upload_file(str(local), BUCKET, path)

    def folders(self, uri: str) -> list[str]:
        prefix = self._key(uri) + "/"
        pages = self.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix, Delimiter="/")
        return sorted(common["Prefix"][len(prefix):].rstrip("/")
                      for page in pages for common in page.get("CommonPrefixes", []))

    def local_copy(self, uri: str, target: pathlib.Path) -> pathlib.Path:
        prefix = self._key(uri) + "/"
        for page in self.client.get_paginator("list_objects_v2").paginate(Bucket=BUCKET, Prefix=prefix):
            for item in page.get("Contents", []):
                if item["Key"].endswith("/"):
                    continue  # A folder marker.
                path = target / item["Key"][len(prefix):]
                path.parent.mkdir(parents=True, exist_ok=True)
                self.client.download_file(BUCKET, item["Key"], str(path))
        return target


@pytest.fixture(scope="module")
def s3_endpoint() -> Iterator[str]:
    """moto's S3 server on 127.0.0.1, on a port it picks itself; stopped after the module."""
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@dataclasses.dataclass
class Executed:
    locations: Locations
    store: LocalStore | S3Store
    kfp: LocalKfp
    run: PipelineRun
    tmp: pathlib.Path
    access: S3Access | None

    @property
    def serving_base(self) -> str:
        return self.locations.serving_base(CONFIG.model_name)


def execute(store: LocalStore | S3Store, csv: pathlib.Path, tmp: pathlib.Path, access: S3Access | None,
            label: str) -> Executed:
    """Uploads the raw `csv`, compiles the spec for it and runs every task; the spec reads the
    file on S3 by its folder's URI, locally by the file's (the two forms --data takes)."""
    store.upload(csv, f"data/{csv.name}")
    where = locations(store.uri("fakenews"), store.uri("data" if access else f"data/{csv.name}"))
    job = runner.compile_pipeline(CONFIG, where, IMAGE, s3=access)
    kfp = LocalKfp(job, runner.platform_spec(job, access) if access else None,
                   secrets={SECRET: SECRET_VALUES}, scratch=tmp / "pods")
    run = kfp.run()
    print(f"\n{label} wall time per task (s):",
          ", ".join(f"{task} {task_run.seconds:.1f}" for task, task_run in run.tasks.items()),
          f"| total {sum(task_run.seconds for task_run in run.tasks.values()):.1f}")
    return Executed(where, store, kfp, run, tmp, access)


@pytest.fixture(scope="module", params=["local", "s3"])
def executed(request, tmp_path_factory) -> Executed:
    tmp = tmp_path_factory.mktemp(f"kfp-{request.param}")
    sample = write_sample(tmp / "articles.csv", rows=ROWS)
    if request.param == "s3":
        endpoint = request.getfixturevalue("s3_endpoint")
        store, access = S3Store(endpoint), S3Access(endpoint=endpoint, region=REGION, credentials_secret=SECRET)
    else:
        store, access = LocalStore(tmp / "bucket"), None
    return execute(store, sample, tmp, access, request.param)


@pytest.fixture(scope="module")
def shuffled(executed) -> tuple[Executed, list[str]]:
    """The second run, on local folders only (each run costs minutes): (run, versions before it)."""
    before = executed.store.folders(executed.serving_base)
    csv = executed.tmp / "shuffled" / "articles.csv"
    csv.parent.mkdir()
    write_train_shuffled(str(executed.tmp / "articles.csv"), str(csv), CONFIG)
    return execute(executed.store, csv, executed.tmp / "shuffled", None, "local, shuffled labels"), before


def _pushed(executed: Executed) -> dict:
    """The Pusher's output artifact as its ExecutorOutput reported it."""
    reported = executed.run.tasks[wiring.PUSHER].executor_output.artifacts["pushed_model"].artifacts[0]
    return json_format.MessageToDict(reported.metadata)


def test_every_task_ran(executed):
    assert set(executed.run.tasks) == set(executed.kfp.spec.root.dag.tasks)
    assert executed.run.root.startswith(executed.locations.pipeline_root + "/" + CONFIG.pipeline_name + "/")
    for task, task_run in executed.run.tasks.items():
        for key, artifacts in task_run.executor_input.outputs.artifacts.items():
            assert artifacts.artifacts[0].uri.startswith(f"{executed.run.root}/{task}/"), (task, key)


def test_blessed_model_is_pushed_under_serving_and_loads(executed, tmp_path):
    versions = executed.store.folders(executed.serving_base)
    assert len(versions) == 1 and versions[0].isdigit(), versions
    pushed = _pushed(executed)
    version_uri = f"{executed.serving_base}/{versions[0]}"
    assert pushed["pushed"] == 1 and pushed["pushed_destination"] == version_uri
    model = tf.saved_model.load(str(executed.store.local_copy(version_uri, tmp_path / "model")))
    assert "serving_default" in model.signatures


def test_retried_pusher_pushes_no_second_version(executed):
    """KFP retries a failed pod with the same ExecutorInput: the push must be idempotent."""
    versions = executed.store.folders(executed.serving_base)
    first = executed.run.tasks[wiring.PUSHER]
    retried = executed.kfp.run_task(wiring.PUSHER, first.executor_input)
    assert executed.store.folders(executed.serving_base) == versions
    reported = retried.executor_output.artifacts["pushed_model"].artifacts[0]
    assert json_format.MessageToDict(reported.metadata)["pushed_destination"] == _pushed(executed)["pushed_destination"]


def test_the_input_checks_run_in_the_dag_and_their_counts_travel_with_the_examples(executed, tmp_path):
    """The raw CSV was uploaded unchecked: the ExampleGen task checked it and reported the counts
    as the examples artifact's metadata (KFP records it in its ML Metadata), and the report,
    downstream, read them from there."""
    examples = executed.run.tasks[wiring.EXAMPLE_GEN].executor_output.artifacts["examples"].artifacts[0]
    counts = json.loads(json_format.MessageToDict(examples.metadata)[INPUT_COUNTS_PROPERTY])
    expected = json.loads(check_and_stage(executed.tmp / "articles.csv", tmp_path / "staged").counts_json())
    assert counts == expected and counts["rows_staged"] == ROWS
    report_uri = executed.run.tasks[wiring.EVALUATION_REPORT].executor_input.outputs.artifacts["report"].artifacts[0].uri
    report_folder = executed.store.local_copy(report_uri, tmp_path / "report")
    report = json.loads((report_folder / layout.REPORT_JSON).read_text(encoding="utf-8"))
    assert report["input_counts"] == expected


def test_the_default_spec_holds_the_baseline_and_no_resolver(executed):
    tasks = executed.kfp.spec.root.dag.tasks
    assert wiring.SERVED_BASELINE in tasks
    assert tasks[wiring.EVALUATOR].inputs.artifacts["baseline_model"].task_output_artifact.producer_task == \
        wiring.SERVED_BASELINE


# The gate's second run on local folders only: the first "executed" (index 0) is "local".
ON_LOCAL_FOLDERS = pytest.mark.parametrize("executed", ["local"], indirect=True)


@ON_LOCAL_FOLDERS
def test_a_worse_model_than_the_served_one_is_not_pushed(shuffled):
    run, before = shuffled
    assert len(before) == 1
    assert run.store.folders(run.serving_base) == before
    pushed = json_format.MessageToDict(
        run.run.tasks[wiring.PUSHER].executor_output.artifacts["pushed_model"].artifacts[0].metadata)
    assert pushed["pushed"] == 0


@ON_LOCAL_FOLDERS
def test_its_report_names_the_served_model_it_lost_to(shuffled):
    run, before = shuffled
    report_uri = run.run.tasks[wiring.EVALUATION_REPORT].executor_input.outputs.artifacts["report"].artifacts[0].uri
    text = (pathlib.Path(report_uri) / layout.REPORT_TXT).read_text(encoding="utf-8")
    assert f"NOT blessed: compared with the served model, version {before[0]} ({run.serving_base}/{before[0]})" \
        in text
