"""The pipeline's ExampleGen, with the input checks inside the DAG: raw CSV in, checked examples out.

`CheckedCsvExampleGen`: TFX's FileBasedExampleGen with a custom executor (TFX's documented way
to read another format; tfx.v1 exports only its CSV and import subclasses, hence the import
from tfx.components). Each input file is read as a stream by a Beam worker and run through
components/input_checks.py, the checks the local pre-check runs (components/checked_rows.py, the
reading batch scoring shares), so the outcomes and one-line messages are the same, and memory
does not grow with a file's size (but for 8 bytes a row, input_checks.FileSummary). What spans
files (duplicate ids, column types, optional columns) is combined by Beam. The counts are recorded in ML Metadata as the examples artifact's
input_checks.INPUT_COUNTS_PROPERTY (InputCounts.counts_json), so they stay with the examples
they describe.

Unlike TFX's CsvExampleGen, which types each column by all of its values, the examples have
one fixed schema: id, title, author and text as bytes, label as int64.

No step here needs FileBasedExampleGen's driver (which open-source KFP does not run): span,
version and input_fingerprint are not read; input_base and the split pattern are.
"""

from __future__ import annotations

import json
import posixpath
from typing import Any

import apache_beam as beam
import tensorflow as tf
from google.protobuf import any_pb2, struct_pb2
from tfx import types
from tfx.components.example_gen import component as example_gen_component
from tfx.components.example_gen.base_example_gen_executor import BaseExampleGenExecutor
from tfx.dsl.components.base import executor_spec as tfx_executor_spec
from tfx.proto import example_gen_pb2
from tfx.types import artifact_utils, standard_component_specs
from tfx.utils import proto_utils

from components import checked_rows, input_checks
from preprocessing import features

_COUNTS_FILE = "input_counts.json"  # Beam writes the counts here (in the examples' folder); Do records them.
_COUNTS_DIR_KEY = "_input_counts_dir"  # The private exec property that tells the transform where.


class _Columns:
    """The configuration's column names, as custom_config carries them (input_checks.ColumnNames)."""

    def __init__(self, names: dict[str, str | None]) -> None:
        for key in input_checks.COLUMNS:
            setattr(self, key, names.get(key))


def input_config(data: str) -> tuple[str, example_gen_pb2.Input]:
    """The ExampleGen's input_base and input_config for `data`: one CSV file (a name ending in
    .csv, any case), or every .csv file of a folder (checked_rows.input_pattern)."""
    input_base, pattern = checked_rows.input_pattern(data)
    return input_base, example_gen_pb2.Input(splits=[example_gen_pb2.Input.Split(name="single_split", pattern=pattern)])


def custom_config(columns: input_checks.ColumnNames, drop_invalid: bool, code: str = "") -> example_gen_pb2.CustomConfig:
    """The ExampleGen's custom_config: the column names and drop_invalid, as a packed Struct;
    `code`, this executor's code fingerprint, only to key the cache (the executor ignores it)."""
    struct = struct_pb2.Struct()
    struct.update({"columns": {key: getattr(columns, key) for key in input_checks.COLUMNS},
                   "drop_invalid": drop_invalid, "code": code})
    packed = any_pb2.Any()
    packed.Pack(struct)
    return example_gen_pb2.CustomConfig(custom_config=packed)


def _read_custom_config(exec_properties: dict[str, Any]) -> tuple[_Columns, bool]:
    config = example_gen_pb2.CustomConfig()
    proto_utils.json_to_proto(exec_properties[standard_component_specs.CUSTOM_CONFIG_KEY], config)
    struct = struct_pb2.Struct()
    config.custom_config.Unpack(struct)
    values = json.loads(proto_utils.proto_to_json(struct))
    return _Columns(values["columns"]), bool(values["drop_invalid"])


def _example(values: dict[str, str]) -> tf.train.Example:
    """A checked row as the Transform graph reads it: text as bytes (an empty value has no
    bytes, as CsvExampleGen writes it), the label as int64."""
    feature = {
        key: tf.train.Feature(bytes_list=tf.train.BytesList(value=[values[key].encode("utf-8")] if values[key] else []))
        for key in (features.ID_KEY, *features.TEXT_KEYS)
    }
    feature[features.LABEL_KEY] = tf.train.Feature(int64_list=tf.train.Int64List(value=[int(values[features.LABEL_KEY])]))
    return tf.train.Example(features=tf.train.Features(feature=feature))


def _judge(summary: input_checks.FileSummary, data: str, columns: _Columns) -> str:
    """The checks across files (raises InputError); the counts as JSON."""
    input_checks.check_summaries(data, columns, summary)
    return summary.counts.counts_json()


def _write_counts(counts_json: str, folder: str) -> None:
    with beam.io.filesystems.FileSystems.create(posixpath.join(folder, _COUNTS_FILE)) as file:
        file.write(counts_json.encode("utf-8"))


@beam.ptransform_fn
@beam.typehints.with_input_types(beam.Pipeline)
@beam.typehints.with_output_types(tf.train.Example)
def CheckedCsvToExample(pipeline: beam.Pipeline, exec_properties: dict[str, Any], split_pattern: str):  # noqa: N802 (Beam's style)
    """The checked rows of the input files as tf.train.Examples; the counts to _COUNTS_FILE."""
    input_base = exec_properties[standard_component_specs.INPUT_BASE_KEY]
    columns, drop_invalid = _read_custom_config(exec_properties)
    checked = pipeline | "Read" >> checked_rows.ReadCheckedRows(
        checked_rows.input_files(input_base, split_pattern), columns, drop_invalid, convert=_example)
    counts = (
        checked[checked_rows.SUMMARIES]
        | "Merge" >> beam.CombineGlobally(checked_rows.MergeSummaries())
        | "Judge" >> beam.Map(_judge, input_base, columns)
    )
    if exec_properties.get(_COUNTS_DIR_KEY):
        _ = counts | "WriteCounts" >> beam.Map(_write_counts, exec_properties[_COUNTS_DIR_KEY])
    return checked[checked_rows.ROWS]


class Executor(BaseExampleGenExecutor):
    """FileBasedExampleGen's executor: the input checks, then the base executor's splits and writing."""

    def GetInputSourceToExamplePTransform(self) -> beam.PTransform:  # noqa: N802 (TFX's name)
        return CheckedCsvToExample

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:  # noqa: N802 (TFX's name)
        examples = artifact_utils.get_single_instance(output_dict[standard_component_specs.EXAMPLES_KEY])
        try:
            super().Do(input_dict, output_dict, {**exec_properties, _COUNTS_DIR_KEY: examples.uri})
        except input_checks.InputError as error:
            # Beam appends the step to the message ("... [while running 'Check']"): keep the line.
            raise input_checks.InputError(str(error).split(" [while running")[0].strip()) from None
        with beam.io.filesystems.FileSystems.open(posixpath.join(examples.uri, _COUNTS_FILE)) as file:
            examples.set_string_custom_property(input_checks.INPUT_COUNTS_PROPERTY, file.read().decode("utf-8"))


class CheckedCsvExampleGen(example_gen_component.FileBasedExampleGen):
    """The ExampleGen of `data` (a CSV file, or a folder of them): checked rows, split by
    output_config. `code`: this module's code fingerprint, to key the cache."""

    EXECUTOR_SPEC = tfx_executor_spec.BeamExecutorSpec(Executor)

    def __init__(self, data: str, columns: input_checks.ColumnNames, drop_invalid: bool,
                 output_config: example_gen_pb2.Output, code: str) -> None:
        input_base, config = input_config(data)
        super().__init__(input_base=input_base, input_config=config, output_config=output_config,
                         custom_config=custom_config(columns, drop_invalid, code))
