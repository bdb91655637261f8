"""The gate: with a blessed model already served, a run on shuffled labels is not blessed and
not pushed, and the served version stays the old one.

Why only the train split's labels are shuffled: the Evaluator scores the candidate *and* the
baseline on the eval split of the new run's data. Shuffling every label would leave both
models without a relation to those labels, and whether the candidate "regresses" from the
baseline would be a coin toss: a flaky test. Here the eval split keeps its true labels, so it
is the very eval split the baseline was blessed on (CsvExampleGen assigns a row to a split by
a hash of its id: `_PartitionFn` in tfx/components/example_gen/base_example_gen_executor.py,
called below to choose the rows; the fixture checks them against the baseline's split). The
baseline keeps its AUC there (0.82 with the session's data and seed); the candidate, trained
on labels with no relation to the text, falls well below it, so the no-regression change
threshold fails it, and that is what the test asserts.

Why not the absolute bound: a network that learned nothing still ranks articles by whatever
its initial weights pick up, and on this data that is not 0.5 (0.64 measured once, above
MEETABLE_MIN_AUC's 0.6; below it with an earlier model). The comparison with the baseline on
the same rows is the check that holds.

The baseline is the session's `pipeline_run`: its run folder (ML Metadata, serving folder) is
copied, so its pushed model is the served one the new run compares with, at the cost of one run.
"""

from __future__ import annotations

import csv
import os
import random
import shutil

import pytest

from components.input_checks import staged_id
from components.report import layout
from components.served_versions import served_versions
from pipeline import pipeline as dag
from pipeline.config import DEFAULT_MIN_AUC, PipelineConfig
from pipeline.run_folder import RunFolder
from tests.conftest import MEETABLE_MIN_AUC, PipelineRun, run_pipeline

pytestmark = pytest.mark.e2e


def split_of(row_id: str, config: PipelineConfig) -> str:
    """"train" or "eval", exactly as CsvExampleGen partitions the row once staged (its id as
    text, components.input_checks.staged_id)."""
    import tensorflow as tf
    from tfx.components.example_gen.base_example_gen_executor import _PartitionFn
    from tfx.proto import example_gen_pb2

    split_config = example_gen_pb2.SplitConfig(
        splits=[example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=config.train_buckets),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=config.eval_buckets)],
        partition_feature_name="id",
    )
    example = tf.train.Example(features=tf.train.Features(
        feature={"id": tf.train.Feature(bytes_list=tf.train.BytesList(value=[staged_id(row_id).encode()]))}))
    buckets = [config.train_buckets, config.train_buckets + config.eval_buckets]
    return ("train", "eval")[_PartitionFn(example, len(buckets), buckets, split_config)]


def write_train_shuffled(source: str, target: str, config: PipelineConfig) -> set[str]:
    """Copies source with the train split's labels permuted; returns the eval split's ids."""
    with open(source, encoding="utf-8", newline="") as f:
        reader = csv.DictReader(f)
        fields, rows = reader.fieldnames, list(reader)
    train = [row for row in rows if split_of(row["id"], config) == "train"]
    labels = [row["label"] for row in train]
    random.Random(7).shuffle(labels)
    for row, label in zip(train, labels):
        row["label"] = label
    with open(target, "w", encoding="utf-8", newline="") as f:
        writer = csv.DictWriter(f, fieldnames=fields)
        writer.writeheader()
        writer.writerows(rows)
    return {row["id"] for row in rows if split_of(row["id"], config) == "eval"}


def example_ids(examples_uri: str, split: str) -> set[str]:
    """The ids in one split of an ExampleGen output (gzipped TFRecords of tf.Examples)."""
    import tensorflow as tf

    files = tf.io.gfile.glob(os.path.join(examples_uri, f"Split-{split}", "*"))
    return {tf.train.Example.FromString(record.numpy()).features.feature["id"].bytes_list.value[0].decode()
            for record in tf.data.TFRecordDataset(files, compression_type="GZIP")}


@pytest.fixture(scope="module")
def shuffled_run(pipeline_run: PipelineRun, tmp_path_factory) -> tuple[PipelineRun, list[int]]:
    """(the shuffled-labels run, the served versions before it) in a copy of pipeline_run's folder."""
    folder = tmp_path_factory.mktemp("gate")
    output = folder / "run"
    shutil.copytree(pipeline_run.folder.path, output)
    data = str(folder / "shuffled.csv")
    eval_ids = write_train_shuffled(pipeline_run.data, data, pipeline_run.config)
    _, outputs = pipeline_run.latest_outputs()
    # The premise: split_of chose exactly the rows ExampleGen put in the baseline's eval split.
    assert eval_ids == example_ids(outputs[dag.EXAMPLE_GEN]["examples"][0].uri, "eval")
    before = served_versions(RunFolder(str(output)).serving_base(pipeline_run.config.model_name))
    assert len(before) == 1
    return run_pipeline(pipeline_run.config, data, output), before


def _failed_checks(evaluation_uri: str) -> set[tuple[str, bool, bool]]:
    """(metric, whether the check is against the baseline, whether on the overall slice) of
    every failed blessing check; TFMA marks a change-threshold failure with is_diff."""
    import tensorflow_model_analysis as tfma

    validation = tfma.load_validation_result(evaluation_uri)
    return {(failure.metric_key.name, failure.metric_key.is_diff, not per_slice.slice_key.single_slice_keys)
            for per_slice in validation.metric_validations_per_slice for failure in per_slice.failures}


def test_shuffled_labels_are_not_blessed(shuffled_run, pipeline_run, capsys):
    run, _ = shuffled_run
    assert run.config.min_auc == pipeline_run.config.min_auc == MEETABLE_MIN_AUC  # The same gate.
    assert run.summary.split_rows["eval"] == pipeline_run.summary.split_rows["eval"]
    candidate_auc = run.summary.overall_metrics["auc"]
    baseline_auc = pipeline_run.summary.overall_metrics["auc"]
    with capsys.disabled():
        print(f"\ngate: eval AUC of the baseline {baseline_auc:.3f}, of the shuffled-labels candidate {candidate_auc:.3f}")
    assert candidate_auc < baseline_auc
    # Without a served model to compare with, the default absolute bound would have refused it too.
    assert candidate_auc < DEFAULT_MIN_AUC
    assert run.summary.blessed is False
    evaluation_uri = run.latest_outputs()[1][dag.EVALUATOR]["evaluation"][0].uri
    assert ("auc", True, True) in _failed_checks(evaluation_uri)  # No-regression, overall.


def test_the_report_names_the_served_model_it_lost_to(shuffled_run):
    run, before = shuffled_run
    served = os.path.join(run.serving_base, str(before[0]))
    assert run.summary.evaluation["baseline_served"] == {"version": str(before[0]), "path": served}
    with open(os.path.join(run.summary.report_folder, layout.REPORT_TXT), encoding="utf-8") as f:
        assert f"NOT blessed: compared with the served model, version {before[0]} ({served})" in f.read()


def test_nothing_is_pushed_and_the_old_version_stays_served(shuffled_run):
    run, before = shuffled_run
    assert run.summary.pushed_path is None
    assert served_versions(run.serving_base) == before
    assert [name for name in os.listdir(run.serving_base)] == [str(before[0])]  # No leftovers.
