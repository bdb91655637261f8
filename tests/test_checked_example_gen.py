"""The in-DAG input checks (components/checked_csv_example_gen.py) give what the local pre-check
gives: for every bad-data case of tests/test_bad_data.py the same one-line error or the same
counts and rows, and for a messy file of real articles and junk the same counts and rows; and
`fakenews run` shows a failed check as the same one line. Each case runs the executor's Beam
pipeline (DirectRunner), hence e2e."""

from __future__ import annotations

import csv
import io
import json
import pathlib

import pytest

from tests.test_bad_data import CASES, JUNK_ROWS, NUL_STAND_IN, staged_rows

pytestmark = pytest.mark.e2e


def exec_properties(data: pathlib.Path, drop_invalid: bool) -> dict:
    """The ExampleGen's execution properties, as pipeline/pipeline.py would set them."""
    from tfx.proto import example_gen_pb2
    from tfx.types import standard_component_specs as specs
    from tfx.utils import proto_utils

    from components import checked_csv_example_gen
    from pipeline.config import Columns

    split_config = example_gen_pb2.SplitConfig(
        splits=[example_gen_pb2.SplitConfig.Split(name="train", hash_buckets=2),
                example_gen_pb2.SplitConfig.Split(name="eval", hash_buckets=1)],
        partition_feature_name="id")
    return {
        specs.INPUT_BASE_KEY: str(data),
        specs.INPUT_CONFIG_KEY: proto_utils.proto_to_json(example_gen_pb2.Input(
            splits=[example_gen_pb2.Input.Split(name="single_split", pattern="*")])),
        specs.OUTPUT_CONFIG_KEY: proto_utils.proto_to_json(example_gen_pb2.Output(split_config=split_config)),
        specs.CUSTOM_CONFIG_KEY: proto_utils.proto_to_json(
            checked_csv_example_gen.custom_config(Columns(), drop_invalid)),
        specs.OUTPUT_DATA_FORMAT_KEY: example_gen_pb2.FORMAT_TF_EXAMPLE,
    }


def run_executor(data: pathlib.Path, out: pathlib.Path, drop_invalid: bool):
    """Runs the executor as the ExampleGen would; returns the examples artifact."""
    from tfx.types import standard_artifacts, standard_component_specs as specs

    from components import checked_csv_example_gen

    examples = standard_artifacts.Examples()
    examples.uri = str(out)
    checked_csv_example_gen.Executor().Do({}, {specs.EXAMPLES_KEY: [examples]}, exec_properties(data, drop_invalid))
    return examples


def example_rows(examples) -> list[dict[str, str]]:
    """Every split's examples as staged rows (strings, "" for no value)."""
    import tensorflow as tf

    rows = []
    for path in sorted(pathlib.Path(examples.uri).glob("Split-*/*.gz")):
        for record in tf.data.TFRecordDataset(str(path), compression_type="GZIP"):
            feature = tf.train.Example.FromString(record.numpy()).features.feature
            row = {key: (feature[key].bytes_list.value[0].decode() if feature[key].bytes_list.value else "")
                   for key in ("id", "title", "author", "text")}
            row["label"] = str(feature["label"].int64_list.value[0])
            rows.append(row)
    return rows


def assert_same_as_local(data: pathlib.Path, tmp_path: pathlib.Path, drop_invalid: bool) -> None:
    from components.input_checks import InputError
    from pipeline.input_check import check_and_stage

    try:
        report = check_and_stage(data, tmp_path / "staged", drop_invalid=drop_invalid)
    except InputError as local_error:
        with pytest.raises(InputError) as error:
            run_executor(data, tmp_path / "examples", drop_invalid)
        assert str(error.value) == str(local_error)
        return
    examples = run_executor(data, tmp_path / "examples", drop_invalid)
    recorded = json.loads(examples.get_string_custom_property("input_counts"))
    assert recorded == json.loads(report.counts_json())
    key = lambda row: (row["id"], row["title"], row["text"])  # noqa: E731
    assert sorted(example_rows(examples), key=key) == sorted(staged_rows(report), key=key)


@pytest.mark.parametrize("content, drop_invalid, outcome", [case[1:] for case in CASES],
                         ids=[case[0] for case in CASES])
def test_each_bad_input_has_the_same_outcome_in_the_dag(tmp_path, content, drop_invalid, outcome):
    data = tmp_path / "data"
    data.mkdir()
    (data / "input.csv").write_bytes(content)
    assert_same_as_local(data, tmp_path, drop_invalid)


def test_a_messy_file_of_real_articles_gives_the_same_counts_and_rows(tmp_path):
    from tests.conftest import write_sample

    real_csv = write_sample(tmp_path / "real.csv", rows=300)
    with real_csv.open(encoding="utf-8", newline="") as f:
        real = list(csv.reader(f))[1:]
    buffer = io.StringIO()
    writer = csv.writer(buffer, lineterminator="\r\n")
    writer.writerow(["id", "title", "author", "text", "label", "source"])
    writer.writerows(row + ["kaggle"] for row in real)
    writer.writerows([*(value.replace("\x00", NUL_STAND_IN) for value in row), "junk" if any(row) else ""]
                     for row in JUNK_ROWS)
    data = tmp_path / "data"
    data.mkdir()
    (data / "messy.csv").write_bytes(buffer.getvalue().replace(NUL_STAND_IN, "\x00").encode("utf-8-sig"))
    # A second file, so duplicate ids and counts are combined across files.
    (data / "second.CSV").write_bytes(real_csv.read_bytes())
    assert_same_as_local(data, tmp_path, drop_invalid=True)


def test_run_stops_at_the_example_gen_with_the_checks_one_line(capsys, tmp_path):
    """Bad input fails the DAG's first task: `fakenews run` prints the check's own line (no
    trace, no "pipeline failed"), exits 2, and ML Metadata records the ExampleGen FAILED."""
    from ml_metadata.proto import metadata_store_pb2

    from fakenews import cli
    from pipeline import pipeline as dag
    from pipeline.run_folder import RunFolder
    from pipeline.summary import latest_run_outputs

    data = tmp_path / "bad.csv"
    data.write_text("id,title,author,text,label\n1,t,a,b,fake\n", encoding="utf-8")
    folder = RunFolder(str(tmp_path / "run"))
    assert cli.main(["run", "--data", str(data), "--output", folder.path]) == 2
    _, err = capsys.readouterr()
    assert err == f"error: {data}:2: label 'fake' is not 0 or 1 (pass --drop-invalid to skip and count such rows)\n"
    executions, _ = latest_run_outputs(folder.metadata_path, "fakenews")
    assert executions[dag.EXAMPLE_GEN].last_known_state == metadata_store_pb2.Execution.FAILED
    assert set(executions) == {dag.EXAMPLE_GEN}  # Nothing after it ran.
