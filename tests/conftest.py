"""Shared fixtures and the rule that keeps unit tests off Beam.

`fixture_model` (unit tests) is the pipeline's exported model, trained, exported and pushed
without Beam (tests/fixture_model.py), once per session however many xdist workers need it
(`_built_once`). `pipeline_run` (e2e tests only) runs the whole TFX DAG once per session on a
1,000-row sample of the real articles; the e2e tests share it, on one worker.
A test not marked e2e that starts a Beam pipeline fails (`pytest_configure` below), so
`pytest -m "not e2e"` provably runs none.
"""

from __future__ import annotations

import ast
import csv
import dataclasses
import fcntl
import functools
import os
import pathlib
import pickle
import shutil
from typing import Callable, TypeVar

os.environ.setdefault("TF_USE_LEGACY_KERAS", "1")  # Before anything imports TensorFlow.
os.environ.setdefault("TF_CPP_MIN_LOG_LEVEL", "2")

import pytest  # noqa: E402

E2E = "e2e"

SAMPLE_ROWS = 1_000
# The default model is small: one epoch over ~600 training articles is ten gradient steps and
# leaves its AUC near 0.66, too close to any bound for a stable test. Five epochs cost a few
# seconds and reach ~0.85, well above this bound; 1.01 no model can reach.
SAMPLE_EPOCHS = 5
MEETABLE_MIN_AUC = 0.6
IMPOSSIBLE_MIN_AUC = 1.01


@dataclasses.dataclass
class PipelineRun:
    config: object  # pipeline.config.PipelineConfig
    data: str  # The input CSV.
    folder: object  # pipeline.run_folder.RunFolder
    durations: dict
    summary: object  # pipeline.summary.RunSummary

    @property
    def serving_base(self) -> str:
        return self.folder.serving_base(self.config.model_name)

    def latest_outputs(self) -> tuple[dict, dict]:
        """pipeline.summary.latest_run_outputs of this run's folder: (executions, outputs) by node."""
        from pipeline.summary import latest_run_outputs

        return latest_run_outputs(self.folder.metadata_path, self.config.pipeline_name)


def write_sample(target: pathlib.Path, rows: int = SAMPLE_ROWS, source: str = "articles.csv") -> pathlib.Path:
    from tests.data import canonical_path

    target.parent.mkdir(parents=True, exist_ok=True)
    with canonical_path(source).open(encoding="utf-8", newline="") as src, target.open(
        "w", encoding="utf-8", newline=""
    ) as dst:
        reader, writer = csv.reader(src), csv.writer(dst)
        writer.writerow(next(reader))
        for _, row in zip(range(rows), reader):
            writer.writerow(row)
    return target


def run_pipeline(config, data: str | os.PathLike, output: str | os.PathLike) -> PipelineRun:
    from pipeline import local_runner, summary
    from pipeline.run_folder import RunFolder

    folder = RunFolder(str(output))
    durations = local_runner.run(config, str(data), folder)
    return PipelineRun(config, str(data), folder, durations,
                       summary.collect(folder.metadata_path, config.pipeline_name, durations))


_running: list[pytest.Item] = []  # The test being set up, run or torn down.
@pytest.hookimpl(hookwrapper=True)
def pytest_runtest_protocol(item: pytest.Item, nextitem: pytest.Item | None):
    _running.append(item)
    yield
    _running.pop()


def pytest_configure(config: pytest.Config) -> None:
    """Fails any test not marked e2e that runs a Beam pipeline, in its body or its fixtures'.

    Every Beam-based TFX executor, TFDV and TFMA runs its work through `Pipeline.run` (a
    `with beam.Pipeline()` block calls it on exit), so guarding it catches them all in this
    process. Beam is imported here, once, so no later import can slip past the guard.
    """
    import apache_beam

    run = apache_beam.Pipeline.run

    def guarded_run(pipeline, *args, **kwargs):
        item = _running[-1] if _running else None
        if item is not None and item.get_closest_marker(E2E) is None:
            pytest.fail(f"{item.nodeid} is not marked {E2E} but started a Beam pipeline; "
                        "use the fixture_model fixture or mark the test @pytest.mark.e2e", pytrace=False)
        return run(pipeline, *args, **kwargs)

    apache_beam.Pipeline.run = guarded_run


# The session fixtures whose tests must share a worker (pipeline_run below): a whole DAG run
# takes minutes, and a worker waiting for another's would idle as long.
WORKER_FIXTURES = ("pipeline_run",)


@functools.lru_cache(maxsize=None)
def _work_unit(module: pathlib.Path) -> str:
    """A test module's work unit under xdist: the first of WORKER_FIXTURES that a function of
    it (a test or one of its fixtures) takes as an argument, else the module itself."""
    arguments = {node.arg for node in ast.walk(ast.parse(module.read_text(encoding="utf-8")))
                 if isinstance(node, ast.arg)}
    return next((name for name in WORKER_FIXTURES if name in arguments), str(module))


@pytest.hookimpl(optionalhook=True)  # An xdist hook: unknown when xdist is not loaded.
def pytest_xdist_make_scheduler(config: pytest.Config, log):
    """`--dist loadgroup` (the Makefile's test command) with these groups: a module's tests run
    on one worker, so its module fixtures (a server, a model export) are set up once, and the
    modules naming one of WORKER_FIXTURES run on one worker together, so it is built once.
    (pytest-xdist 3.8 marks groups by rewriting `item._nodeid`, which pytest 9.2 no longer
    reads, so its `xdist_group` marks group nothing; the groups are given to its scheduler here.)"""
    if config.getvalue("dist") != "loadgroup":
        return None
    from xdist.scheduler import LoadGroupScheduling

    class SharedFixtureScheduling(LoadGroupScheduling):
        def _split_scope(self, nodeid: str) -> str:
            return _work_unit(config.rootpath / nodeid.split("::", 1)[0])

    config.option.loadscopereorder = False  # The groups go out in the order below.
    return SharedFixtureScheduling(config, log)


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Under xdist, the order in which the scheduler above hands out the work units (it goes
    down the collection): first those of WORKER_FIXTURES (the longest: a DAG run and the tests
    on it), then one module that needs the fixture model, whose worker builds it, then the
    modules that need no model, which the other worker runs meanwhile instead of waiting for
    the build, then the rest; within each, units of more tests first (xdist's own order)."""
    if not os.environ.get("PYTEST_XDIST_WORKER"):
        return
    units: dict[str, list[pytest.Item]] = {}
    for item in items:
        units.setdefault(_work_unit(item.path), []).append(item)
    needs_model = {unit: any("fixture_model" in item.fixturenames for item in unit_items)
                   for unit, unit_items in units.items()}
    by_size = sorted(units, key=lambda unit: -len(units[unit]))
    first_model_unit = next((unit for unit in by_size if needs_model[unit] and unit not in WORKER_FIXTURES), None)

    def rank(unit: str) -> int:
        if unit in WORKER_FIXTURES:
            return 0
        if unit == first_model_unit:
            return 1
        return 3 if needs_model[unit] else 2

    items[:] = [item for unit in sorted(by_size, key=rank) for item in units[unit]]  # sorted() is stable.


Built = TypeVar("Built")


def _built_once(tmp_path_factory: pytest.TempPathFactory, name: str,
                build: Callable[[pathlib.Path], Built]) -> Built:
    """`build(folder)`'s result, built by the first worker of the session that asks, under a
    file lock, and read back by the others: the session's folder is shared by its xdist workers
    (each worker's basetemp sits in it), so the modules needing a fixture model spread over
    both cores instead of queueing on the one that built it. The result must pickle and
    describe files under `folder`, which no test may change (the tests copy what they alter)."""
    base = tmp_path_factory.getbasetemp()
    session = base.parent if os.environ.get("PYTEST_XDIST_WORKER") else base
    folder, result = session / name, session / f"{name}.pickle"
    with open(session / f"{name}.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # Released when the file closes, also if the build fails.
        if not result.exists():
            shutil.rmtree(folder, ignore_errors=True)  # What a failed build of another worker left.
            folder.mkdir()
            result.write_bytes(pickle.dumps(build(folder)))
    return pickle.loads(result.read_bytes())


@pytest.fixture(scope="session")
def fixture_model(tmp_path_factory):
    """The pipeline's exported model, pushed to <base>/<model name>/<version>/, built without Beam."""
    from tests.fixture_model import FIXTURE_ROWS, build

    return _built_once(tmp_path_factory, "fixture_model",
                       lambda root: build(write_sample(root / "articles.csv", rows=FIXTURE_ROWS), root))


@pytest.fixture(scope="session")
def fixture_saved_model(fixture_model):
    """The fixture model's pushed SavedModel, loaded once per worker (a load traces its
    functions again: seconds each time); the tests only call its signatures."""
    import tensorflow as tf

    return tf.saved_model.load(fixture_model.pushed_path)


def _tfidf_graph(tmp_path_factory, truncating: str):
    from tests.fixture_model import FIXTURE_ROWS, write_tfidf_transform_graph

    return _built_once(tmp_path_factory, f"tfidf_transform_{truncating}", lambda root: write_tfidf_transform_graph(
        write_sample(root / "articles.csv", rows=FIXTURE_ROWS), root, truncating))


@pytest.fixture(scope="session")
def tfidf_graph(tmp_path_factory):
    """A wide model's Transform step (tests.fixture_model.TfidfGraph) over the fixture model's
    articles, analyzed on Beam: e2e tests only."""
    return _tfidf_graph(tmp_path_factory, "pre")


@pytest.fixture(scope="session")
def tfidf_post_graph(tmp_path_factory):
    """The same with truncating="post": a long document's first MAX_LENGTH words are read."""
    return _tfidf_graph(tmp_path_factory, "post")


@pytest.fixture(scope="session")
def sample_csv(tmp_path_factory) -> pathlib.Path:
    return write_sample(tmp_path_factory.mktemp("data") / "articles_sample.csv")


@pytest.fixture(scope="session")
def pipeline_run(tmp_path_factory, sample_csv) -> PipelineRun:
    """The whole DAG, default model, on the sample; its model is blessed and pushed. e2e only."""
    from components.hyperparameters import hyperparameters_for
    from pipeline.config import PipelineConfig

    config = PipelineConfig(hyperparameters=hyperparameters_for(epochs=SAMPLE_EPOCHS), min_auc=MEETABLE_MIN_AUC)
    return run_pipeline(config, sample_csv, tmp_path_factory.mktemp("run"))
