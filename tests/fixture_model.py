"""The unit tests' model: the pipeline's own exported SavedModel, built in this process without Beam.

Each step calls the code the pipeline's component runs, on a few hundred real articles:

- staging:      pipeline.input_check.check_and_stage, as the local runner does;
- CsvExampleGen: each staged row as a tf.Example (the one step written here: CsvExampleGen's
                encoding rule, see `_csv_examples`), in a gzipped TFRecord;
- StatisticsGen + SchemaGen: TFDV's in-memory statistics and `tfdv.infer_schema`, the call the
                SchemaGen executor makes;
- Transform:    tf.Transform's in-place analysis (`impl_helper.analyze_in_place`), the path TFX's
                Transform executor itself takes for a preprocessing_fn without analyzers (the
                `improved` model's: no TF-IDF, no style); the transformed examples are encoded with
                tf.Transform's ExampleProtoCoder;
- Trainer:      `components.trainer.run_fn`, so the model is trained, its threshold chosen and
                it is exported (`components.signatures`) exactly as in the pipeline;
- Pusher:       `components.pusher.push_atomically` into `<base>/<model name>/<version>/`.

A Beam pipeline would cost minutes; this takes seconds. A model with a wide or style part
needs the TF-IDF's and the style's analyzers, which only a Beam pipeline runs:
`write_tfidf_transform_graph`, for e2e tests.
"""

from __future__ import annotations

import csv
import dataclasses
import functools
import pathlib
import tempfile

import apache_beam as beam
import tensorflow as tf
import tensorflow_data_validation as tfdv
import tensorflow_transform as tft
import tensorflow_transform.beam as tft_beam
from tensorflow_data_validation.statistics import stats_impl
from tensorflow_metadata.proto.v0 import schema_pb2
from tensorflow_transform import impl_helper
from tensorflow_transform.tf_metadata import dataset_metadata, metadata_io, schema_utils
from tfx import v1 as tfx
from tfx.utils import path_utils
from tfx_bsl.coders import example_coder
from tfx_bsl.public import tfxio

from components import pusher, trainer, warmup
from components.hyperparameters import hyperparameters_for
from pipeline.config import MODEL_NAME
from components.input_checks import csv_value_type
from pipeline.input_check import check_and_stage
from preprocessing.transform import STYLE, TFIDF, TRUNCATING, preprocessing_fn

# The first rows of articles.csv (~23% fake); the rows after them are the held-out articles
# tests/test_fixture_model.py scores.
FIXTURE_ROWS = 400
# The "improved" model (the LSTM; the default, "wide-style", needs Beam's analysis), as the
# pipeline trains it, for fewer epochs: three epochs of 400 articles are about twenty gradient
# steps, enough for scores that rank real articles.
FIXTURE_PRESET = "improved"
FIXTURE_EPOCHS = 3
_TRANSFORM_BATCH = 128
_FEATURE_OF_TYPE = {
    "INT": lambda value: tf.train.Feature(int64_list=tf.train.Int64List(value=[int(value)])),
    "FLOAT": lambda value: tf.train.Feature(float_list=tf.train.FloatList(value=[float(value)])),
    "STRING": lambda value: tf.train.Feature(bytes_list=tf.train.BytesList(value=[value.encode("utf-8")])),
}
_TYPE_RANK = ("INT", "FLOAT", "STRING")  # A column takes the widest type of its values.


@dataclasses.dataclass(frozen=True)
class FixtureModel:
    serving_base: str  # <base>/<model name>: the folder TF Serving and `fakenews serve` watch.
    model_name: str
    version: int
    pushed_path: str  # <serving_base>/<version>: the pushed SavedModel.
    transform_output: str  # Transform's transform_graph: metadata/, transform_fn/, transformed_metadata/.
    model_run_dir: str  # The Trainer's model_run: training_summary.json, TensorBoard logs.


def _csv_examples(staged_csv: str) -> list[bytes]:
    """The staged rows as serialized tf.Examples, the way CsvExampleGen writes them: a column is
    int64 if all its values are integers, float if all are numbers, else bytes (the type rule
    tfx_bsl applies, predicted by components.input_checks.csv_value_type); an empty value is absent."""
    with open(staged_csv, encoding="utf-8", newline="") as f:
        rows = list(csv.DictReader(f))
    types = {}
    for column in rows[0]:
        seen = {csv_value_type(row[column]) for row in rows} - {None}
        types[column] = max(seen, key=_TYPE_RANK.index) if seen else "STRING"
    return [
        tf.train.Example(features=tf.train.Features(feature={
            column: _FEATURE_OF_TYPE[types[column]](value) for column, value in row.items() if value
        })).SerializeToString()
        for row in rows
    ]


def _write_tfrecord(path: pathlib.Path, records: list[bytes]) -> str:
    path.parent.mkdir(parents=True, exist_ok=True)
    with tf.io.TFRecordWriter(str(path), options="GZIP") as writer:
        for record in records:
            writer.write(record)
    return str(path)


def _infer_schema(examples: list[bytes]) -> schema_pb2.Schema:
    """StatisticsGen's statistics (computed in memory) and SchemaGen's inference over them."""
    record_batch = example_coder.ExamplesToRecordBatchDecoder().DecodeBatch(examples)
    # generate_statistics_in_memory: what tfdv's own in-memory entry points call.
    statistics = stats_impl.generate_statistics_in_memory(record_batch, tfdv.StatsOptions())
    return tfdv.infer_schema(statistics, infer_feature_shape=True)  # As pipeline.pipeline's SchemaGen.


def _write_raw_metadata(schema: schema_pb2.Schema, output: pathlib.Path) -> None:
    metadata_io.write_metadata(dataset_metadata.DatasetMetadata(schema),
                               str(output / tft.TFTransformOutput.RAW_METADATA_DIR))


def _write_transform_graph(schema: schema_pb2.Schema, examples_pattern: str, output: pathlib.Path) -> str:
    """What the Transform executor writes in place (its _RunInPlaceImpl): the raw metadata, then
    the traced preprocessing_fn and its output metadata, read by tft.TFTransformOutput."""
    _write_raw_metadata(schema, output)
    # The raw inputs' type specs as the Transform executor derives them: from the TFXIO that
    # reads the examples with the schema.
    type_specs = tfxio.TFExampleRecord(examples_pattern, schema=schema).TensorAdapter().OriginalTypeSpecs()
    impl_helper.analyze_in_place(
        preprocessing_fn,  # Its custom_config defaults are the default pipeline's (no TF-IDF).
        force_tf_compat_v1=False,  # tfx.components.Transform's default.
        feature_specs=schema_utils.schema_as_feature_spec(schema).feature_spec,
        type_specs=type_specs,
        transform_output_path=str(output),
    )
    return str(output)


def _transformed_examples(examples: list[bytes], transform_output: str) -> list[bytes]:
    """Transform's materialized output: each example through the graph, encoded with
    tf.Transform's ExampleProtoCoder over the transformed schema."""
    output = tft.TFTransformOutput(transform_output)
    coder = tft.coders.ExampleProtoCoder(output.transformed_metadata.schema)
    raw_spec = output.raw_feature_spec()
    encoded = []
    for start in range(0, len(examples), _TRANSFORM_BATCH):
        raw = tf.io.parse_example(examples[start:start + _TRANSFORM_BATCH], raw_spec)
        batch = {key: tf.RaggedTensor.from_sparse(value).to_list() if isinstance(value, tf.SparseTensor)
                 else value.numpy()  # A sparse output (the TF-IDF) is a list of values per example.
                 for key, value in output.transform_raw_features(raw).items()}
        rows = len(next(iter(batch.values())))
        encoded.extend(coder.encode({key: values[i] for key, values in batch.items()}) for i in range(rows))
    return encoded


@dataclasses.dataclass(frozen=True)
class TfidfGraph:
    """A wide model's Transform step over the fixture's articles."""

    transform_output: str  # transform_graph: the token ids, the TF-IDF and the style.
    transformed_examples: str  # The articles through it (gzipped TFRecord), as the Trainer reads them.


def write_tfidf_transform_graph(sample_csv: pathlib.Path, root: pathlib.Path, truncating: str = "pre") -> TfidfGraph:
    """The Transform step of a model with wide and style parts (TF-IDF and style on) over the
    sample's articles: tf.Transform's own analysis (`tft_beam.AnalyzeDataset`, as TFX's
    Transform executor runs it), since the TF-IDF's vocabulary and document frequencies and the
    style's means need a pass over the data. A Beam pipeline: for e2e-marked tests only."""
    examples = _csv_examples(check_and_stage(sample_csv, root / "staged").staged_csv)
    schema = _infer_schema(examples)
    raw = tfxio.TFExampleRecord(_write_tfrecord(root / "examples.gz", examples), schema=schema)
    output = root / "transform_graph"
    _write_raw_metadata(schema, output)
    analyzed = functools.partial(preprocessing_fn,
                                 custom_config={TFIDF: True, STYLE: True, TRUNCATING: truncating})
    with tempfile.TemporaryDirectory() as temp_dir, beam.Pipeline() as pipeline, \
            tft_beam.Context(temp_dir=temp_dir, force_tf_compat_v1=False):  # tfx.components.Transform's default.
        transform_fn = (pipeline | raw.BeamSource(), raw.TensorAdapterConfig()) | tft_beam.AnalyzeDataset(analyzed)
        _ = transform_fn | tft_beam.WriteTransformFn(str(output))
    transformed = _write_tfrecord(root / "transformed_examples.gz", _transformed_examples(examples, str(output)))
    return TfidfGraph(str(output), transformed)


def build(sample_csv: pathlib.Path, root: pathlib.Path, epochs: int = FIXTURE_EPOCHS) -> FixtureModel:
    """Trains, exports and pushes the fixture model; every output goes under `root`."""
    staged_csv = check_and_stage(sample_csv, root / "staged").staged_csv
    examples = _csv_examples(staged_csv)
    raw_pattern = _write_tfrecord(root / "CsvExampleGen" / "Split-train" / "data_tfrecord-00000-of-00001.gz",
                                  examples)
    transform_output = _write_transform_graph(_infer_schema(examples), raw_pattern, root / "Transform" / "transform_graph")
    train_files = _write_tfrecord(
        root / "Transform" / "transformed_examples" / "Split-train" / "transformed_examples-00000-of-00001.gz",
        _transformed_examples(examples, transform_output),
    )

    model_uri, model_run_dir = root / "Trainer" / "model", root / "Trainer" / "model_run"
    serving_model_dir = path_utils.serving_model_dir(str(model_uri))  # <model>/Format-Serving, as the Trainer.
    trainer.run_fn(tfx.components.FnArgs(
        train_files=[train_files],
        transform_output=transform_output,
        serving_model_dir=serving_model_dir,
        model_run_dir=str(model_run_dir),
        # The fixture has one raw split: its articles stand in for the eval split's.
        custom_config={**hyperparameters_for(FIXTURE_PRESET, epochs=epochs).as_custom_config(), warmup.SOURCE_KEY: raw_pattern},
    ))

    serving_base = root / "serving" / MODEL_NAME
    pushed_path, version, _ = pusher.push_atomically(serving_model_dir, str(serving_base))
    return FixtureModel(str(serving_base), MODEL_NAME, int(version), pushed_path, transform_output,
                        str(model_run_dir))
