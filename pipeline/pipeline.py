r"""`create_pipeline`: the one wiring of the TFX DAG, shared by the local and Kubeflow runners.

CsvExampleGen (checks the raw CSV) -> StatisticsGen -> SchemaGen -> ExampleValidator
             \-> Transform -> Trainer -> ServedModelBaseline -> Evaluator -> Pusher
                  \-> (Tuner) -/     \----------------------/          \-> EvaluationReport

The Tuner runs only when the config says tune: the Trainer then trains its best hyperparameters.

Every task is one that open-source Kubeflow Pipelines, Vertex AI and the local runner all run:
no Resolver (components/baseline.py says why the baseline is the served model).
"""

from __future__ import annotations

from typing import Any

from tfx import v1 as tfx

from components.baseline import MIN_AUC, BaselineAwareEvaluator, ServedModelBaseline
from components.checked_csv_example_gen import CheckedCsvExampleGen
from components.evaluation import eval_config
from components.pusher import AtomicPusher
from components.report.component import EvaluationReport
from components.search_space import tuner_config
from components.tunable_trainer import BATCH_SIZE, ENSEMBLE_SIZE, EPOCHS, TunableTrainer
from pipeline.code_version import code_fingerprint
from pipeline.config import PREPROCESSING_FN, RUN_FN, TUNER_FN, Locations, PipelineConfig
from preprocessing import features
from preprocessing.transform import STYLE, TFIDF, TRUNCATING

# Component ids, as they appear in ML Metadata, in the KFP DAG and in the run summary.
EXAMPLE_GEN = "CsvExampleGen"
STATISTICS_GEN = "StatisticsGen"
SCHEMA_GEN = "SchemaGen"
EXAMPLE_VALIDATOR = "ExampleValidator"
TRANSFORM = "Transform"
TUNER = "Tuner"
TRAINER = "Trainer"
SERVED_BASELINE = "ServedModelBaseline"
EVALUATOR = "Evaluator"
EVALUATION_REPORT = "EvaluationReport"
PUSHER = "Pusher"


def _module(import_path: str) -> str:
    return import_path.rpartition(".")[0]


def run_parameter_values(config: PipelineConfig) -> dict[str, int | float]:
    """The settings a Kubeflow run may change without recompiling (KFP runtime parameters, named
    as the properties they set), with `config`'s values as defaults. Only whole properties of
    primitive type can be run parameters in TFX's Kubeflow V2 compiler: the Trainer's and the
    Evaluator's, which are ours to split out (components/tunable_trainer.py). The rest of the
    config is fixed at compile time."""
    hyperparameters = config.hyperparameters
    return {EPOCHS: hyperparameters.epochs, BATCH_SIZE: hyperparameters.batch_size,
            ENSEMBLE_SIZE: hyperparameters.ensemble_size, MIN_AUC: config.min_auc}


def create_pipeline(
    config: PipelineConfig,
    locations: Locations,
    metadata_connection_config: Any | None = None,
    run_parameters: bool = False,
) -> tfx.dsl.Pipeline:
    """The DAG `config` describes, reading and writing where `locations` says.

    Components whose code is ours carry its fingerprint (pipeline.code_version) as a property,
    so editing that code, and only that code, invalidates their cached results.

    run_parameters: the `run_parameter_values` settings as RuntimeParameters (defaults from
    `config`) instead of constants, for the Kubeflow compiler; the local runner runs constants."""
    settings: dict[str, Any] = run_parameter_values(config)
    if run_parameters:
        settings = {name: tfx.dsl.experimental.RuntimeParameter(name=name, ptype=type(value), default=value)
                    for name, value in settings.items()}
    example_gen = CheckedCsvExampleGen(
        data=locations.data,
        columns=config.columns,
        drop_invalid=config.drop_invalid,
        code=code_fingerprint(CheckedCsvExampleGen.__module__),
        output_config=tfx.proto.Output(
            split_config=tfx.proto.SplitConfig(
                splits=[
                    tfx.proto.SplitConfig.Split(name="train", hash_buckets=config.train_buckets),
                    tfx.proto.SplitConfig.Split(name="eval", hash_buckets=config.eval_buckets),
                ],
                # By id, so a row stays in its split when the file grows or is reordered.
                partition_feature_name=features.ID_KEY,
            )
        ),
    ).with_id(EXAMPLE_GEN)
    statistics_gen = tfx.components.StatisticsGen(examples=example_gen.outputs["examples"])
    schema_gen = tfx.components.SchemaGen(
        statistics=statistics_gen.outputs["statistics"], infer_feature_shape=True
    )
    example_validator = tfx.components.ExampleValidator(
        statistics=statistics_gen.outputs["statistics"], schema=schema_gen.outputs["schema"]
    )
    transform = tfx.components.Transform(
        examples=example_gen.outputs["examples"],
        schema=schema_gen.outputs["schema"],
        preprocessing_fn=PREPROCESSING_FN,
        # The analyzers (the TF-IDF's vocabulary and document frequencies, the style's means and
        # variances) see the train split only, so nothing of the eval split the Evaluator
        # scores leaks into the features.
        splits_config=tfx.proto.SplitsConfig(analyze=["train"], transform=["train", "eval"]),
        # No TFDV statistics of the Transform's input and output: nothing reads them
        # (StatisticsGen's feed SchemaGen and ExampleValidator; `fakenews drift` computes its
        # own), and over 104,000 Kaggle-sized articles they took the run's peak memory from
        # 3.5 to 6.6 GB (README, "Results").
        disable_statistics=True,
        custom_config={TRUNCATING: config.truncating,
                       TFIDF: config.hyperparameters.wide,  # The wide part reads it,
                       STYLE: config.hyperparameters.style,  # the style part this.
                       "code": code_fingerprint(_module(PREPROCESSING_FN))},
    )
    tuner = None
    if config.tune:
        tuner = tfx.components.Tuner(
            tuner_fn=TUNER_FN,
            examples=transform.outputs["transformed_examples"],
            transform_graph=transform.outputs["transform_graph"],
            schema=schema_gen.outputs["schema"],
            train_args=tfx.proto.TrainArgs(splits=["train"]),  # Its validation slice is the objective's.
            eval_args=tfx.proto.EvalArgs(splits=["eval"]),  # Required by the Tuner; tuner_fn never reads it.
            custom_config={**tuner_config(config.hyperparameters, config.tune_trials, config.tune_epochs),
                           "code": code_fingerprint(_module(TUNER_FN))},
        ).with_id(TUNER)
    trainer = TunableTrainer(
        run_fn=RUN_FN,
        examples=transform.outputs["transformed_examples"],
        raw_examples=example_gen.outputs["examples"],
        transform_graph=transform.outputs["transform_graph"],
        schema=schema_gen.outputs["schema"],
        train_args=tfx.proto.TrainArgs(splits=["train"]),
        eval_args=tfx.proto.EvalArgs(splits=["eval"]),
        custom_config={**config.hyperparameters.as_custom_config(),
                       "code": code_fingerprint(_module(RUN_FN), TunableTrainer.__module__)},
        epochs=settings[EPOCHS],
        batch_size=settings[BATCH_SIZE],
        ensemble_size=settings[ENSEMBLE_SIZE],
        hyperparameters=tuner.outputs["best_hyperparameters"] if tuner else None,
    ).with_id(TRAINER)
    serving_base = locations.serving_base(config.model_name)
    served_baseline = None
    if config.compare_with_baseline:
        served_baseline = ServedModelBaseline(
            candidate=trainer.outputs["model"], serving_base=serving_base,
            code=code_fingerprint(ServedModelBaseline.__module__),
        ).with_id(SERVED_BASELINE)
    evaluator = BaselineAwareEvaluator(
        examples=example_gen.outputs["examples"],
        model=trainer.outputs["model"],
        # Without a baseline, TFX drops the change threshold and the absolute bound decides.
        baseline_model=served_baseline.outputs["baseline"] if served_baseline else None,
        eval_config=eval_config(config.min_auc),
        min_auc=settings[MIN_AUC],
        code=code_fingerprint(BaselineAwareEvaluator.__module__),
    ).with_id(EVALUATOR)
    # Issue 6: the notebook's classification report and confusion matrix, ROC/PR curves, slices,
    # the blessing's reasons and a model card, from the Evaluator's outputs.
    evaluation_report = EvaluationReport(
        evaluation=evaluator.outputs["evaluation"],
        blessing=evaluator.outputs["blessing"],
        model=trainer.outputs["model"],
        model_run=trainer.outputs["model_run"],
        statistics=statistics_gen.outputs["statistics"],
        examples=example_gen.outputs["examples"],
        data_source=locations.data,
        code=code_fingerprint(EvaluationReport.__module__),
    ).with_id(EVALUATION_REPORT)
    pusher = AtomicPusher(
        model=trainer.outputs["model"],
        model_blessing=evaluator.outputs["blessing"],
        push_destination=tfx.proto.PushDestination(
            filesystem=tfx.proto.PushDestination.Filesystem(base_directory=serving_base)
        ),
        custom_config={"code": code_fingerprint(AtomicPusher.__module__)},
    ).with_id(PUSHER)
    return tfx.dsl.Pipeline(
        pipeline_name=config.pipeline_name,
        pipeline_root=locations.pipeline_root,
        components=[
            component for component in (
                example_gen, statistics_gen, schema_gen, example_validator, transform,
                tuner, trainer, served_baseline, evaluator, evaluation_report, pusher,
            ) if component is not None
        ],
        enable_cache=config.enable_cache,
        metadata_connection_config=metadata_connection_config,
        beam_pipeline_args=list(config.beam_args),
    )
