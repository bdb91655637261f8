"""A row's train/eval split depends on its id alone: one non-integer id joining a file of
integer ids (the Kaggle file's ids are integers) moves no other row.

The splits are computed by CsvExampleGen's own code, called directly instead of through Beam:
its CSV record reader, tfx_bsl's line parser and column type inference, its CSV-to-tf.Example
conversion and ExampleGen's partition function, with the split config `create_pipeline` gives
CsvExampleGen. Only the Beam plumbing between those calls is left out.
"""

from __future__ import annotations

import csv
import pathlib

import pytest

from pipeline.config import Locations, PipelineConfig
from pipeline.input_check import check_and_stage
from tests.data import read_rows

ROWS = 300
TEXT_ID = "kaggle-extra-1"  # Not an integer: CsvExampleGen would type the whole column as text.


def example_gen_splits(csv_path: pathlib.Path, config: PipelineConfig) -> tuple[dict[str, set[str]], str]:
    """(split name -> ids of the rows CsvExampleGen puts there, the type it gives the id column)."""
    from google.protobuf import json_format
    from tfx.components.example_gen.base_example_gen_executor import _PartitionFn
    from tfx.components.example_gen.csv_example_gen.executor import (
        _ParsedCsvToTfExample,
        _ReadCsvRecordsFromTextFile,
    )
    from tfx.proto import example_gen_pb2
    from tfx.utils import io_utils
    from tfx_bsl.coders import csv_decoder

    from pipeline.pipeline import EXAMPLE_GEN, create_pipeline
    from preprocessing import features

    example_gen = next(component for component in create_pipeline(
        config, Locations(data_source=str(csv_path), data_root=str(csv_path.parent), pipeline_root=str(csv_path.parent),
                          serving_root=str(csv_path.parent / "serving"))).components
                       if component.id == EXAMPLE_GEN)
    split_config = json_format.Parse(example_gen.exec_properties["output_config"], example_gen_pb2.Output()).split_config
    buckets = [sum(split.hash_buckets for split in split_config.splits[:i + 1]) for i in range(len(split_config.splits))]

    column_names = io_utils.load_csv_column_names(str(csv_path))
    parser = csv_decoder.ParseCSVLine(delimiter=",")
    parser.setup()
    rows = [cells for record in _ReadCsvRecordsFromTextFile().process(str(csv_path))
            for cells, _ in parser.process(record)]
    inferrer = csv_decoder.ColumnTypeInferrer(column_names, skip_blank_lines=True)
    types = inferrer.create_accumulator()
    for cells in rows:
        types = inferrer.add_input(types, cells)
    column_infos = inferrer.extract_output(types)

    to_example = _ParsedCsvToTfExample()
    splits: dict[str, set[str]] = {split.name: set() for split in split_config.splits}
    for cells in rows:
        example = next(iter(to_example.process(cells, column_infos)))
        split = split_config.splits[_PartitionFn(example, len(buckets), buckets, split_config)].name
        row_id = cells[column_names.index(features.ID_KEY)].decode("utf-8")
        splits[split].add(row_id)
    id_type = next(info.type for info in column_infos if info.name == features.ID_KEY)
    return splits, id_type.name


@pytest.fixture(scope="module")
def integer_id_files(tmp_path_factory) -> tuple[pathlib.Path, pathlib.Path]:
    """Real articles with the Kaggle file's integer ids 0..ROWS-1; the second file adds one row
    with a text id. One row per line, so CsvExampleGen could read either file unstaged."""
    folder = tmp_path_factory.mktemp("ids")
    real = read_rows("articles.csv", ROWS + 1)
    rows = [{**row, "id": str(number)} for number, row in enumerate(real[:ROWS])]
    extra = {**real[ROWS], "id": TEXT_ID}
    paths = []
    for name, content in (("integer_ids.csv", rows), ("one_text_id.csv", rows + [extra])):
        path = folder / name
        with path.open("w", encoding="utf-8", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(rows[0]), lineterminator="\n")
            writer.writeheader()
            writer.writerows({key: " ".join(value.split()) for key, value in row.items()} for row in content)
        paths.append(path)
    return paths[0], paths[1]


def test_unstaged_integer_ids_would_move_when_one_text_id_joins(integer_id_files, tmp_path):
    """The premise, on TFX's own code: ExampleGen hashes an int64 id and the same id as text
    differently, and the column's type follows all of its values."""
    integers, one_text = integer_id_files
    config = PipelineConfig()
    before, before_type = example_gen_splits(integers, config)
    after, after_type = example_gen_splits(one_text, config)
    assert (before_type, after_type) == ("INT", "STRING")
    moved = before["eval"] ^ (after["eval"] - {TEXT_ID})
    assert len(moved) > ROWS // 10, "int64 and text ids hash alike: staging need not make ids text"


def test_staged_ids_keep_every_row_in_its_split_when_one_text_id_joins(integer_id_files, tmp_path):
    integers, one_text = integer_id_files
    config = PipelineConfig()
    before, before_type = example_gen_splits(pathlib.Path(check_and_stage(integers, tmp_path / "a").staged_csv), config)
    after, after_type = example_gen_splits(pathlib.Path(check_and_stage(one_text, tmp_path / "b").staged_csv), config)
    assert (before_type, after_type) == ("STRING", "STRING")
    extra = after["eval"] | after["train"]
    extra -= before["eval"] | before["train"]
    assert extra == {TEXT_ID}  # A text id is staged as it is.
    assert after["eval"] - extra == before["eval"]
    assert after["train"] - extra == before["train"]
    # Both splits are really used: the 2:1 hash split of 300 rows.
    assert ROWS // 4 < len(before["eval"]) < ROWS // 2

