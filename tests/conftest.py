"""Shared fixtures and the rule that keeps unit tests off Beam.

`fixture_model` (unit tests) is the pipeline's exported model, trained, exported and pushed in
this process without the DAG (tests/fixture_model.py); its one Beam pipeline, tf.Transform's
analysis, runs under `beam_allowed`, as does the same analysis with the other truncation side
(`post_transform_output`). `pipeline_run` (e2e tests only) runs the
whole TFX DAG once per session on a 1,000-row sample of the real articles; the e2e tests share it.
A test not marked e2e that starts a Beam pipeline fails (`pytest_configure` below), so
`pytest -m "not e2e"` provably runs no other.
"""

from __future__ import annotations

import contextlib
import csv
import dataclasses
import os
import pathlib

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
_beam_allowed: list[bool] = [False]


@contextlib.contextmanager
def beam_allowed():
    """Lets the code inside run Beam whichever test it serves: only the fixture model's build
    (and its Transform step again, `post_transform_output`), whose Transform analysis (the TF-IDF's vocabulary and document frequencies) is a Beam
    pipeline over its few hundred articles, as tf.Transform has no other way to run analyzers."""
    _beam_allowed[0] = True
    try:
        yield
    finally:
        _beam_allowed[0] = False


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
        if item is not None and item.get_closest_marker(E2E) is None and not _beam_allowed[0]:
            pytest.fail(f"{item.nodeid} is not marked {E2E} but started a Beam pipeline; "
                        "use the fixture_model fixture or mark the test @pytest.mark.e2e", pytrace=False)
        return run(pipeline, *args, **kwargs)

    apache_beam.Pipeline.run = guarded_run


@pytest.fixture(scope="session")
def fixture_model(tmp_path_factory):
    """The pipeline's exported model, pushed to <base>/<model name>/<version>/, built without Beam."""
    from tests.fixture_model import FIXTURE_ROWS, build

    root = tmp_path_factory.mktemp("fixture_model")
    with beam_allowed():
        return build(write_sample(root / "articles.csv", rows=FIXTURE_ROWS), root)


@pytest.fixture(scope="session")
def post_transform_output(fixture_model, tmp_path_factory) -> str:
    """The fixture's Transform graph analyzed again with truncating="post": it keeps a long
    document's first MAX_LENGTH words (token ids and TF-IDF alike)."""
    from tests.fixture_model import write_transform_graph

    with beam_allowed():
        return write_transform_graph(fixture_model, tmp_path_factory.mktemp("post_transform"), "post")


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
