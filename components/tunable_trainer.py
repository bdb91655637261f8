"""`TunableTrainer`: TFX's Trainer (generic, run_fn) with three training settings as
properties of their own, so that a Kubeflow run can change them (KFP runtime parameters)
without recompiling.

The hyperparameters travel in custom_config, a JSON string; TFX's Kubeflow V2 compiler turns a
RuntimeParameter into a run parameter only when it is a whole property of primitive type (one
nested in custom_config is written into the JSON as the RuntimeParameter object itself, and
the run never sees a value). So epochs, batch size and ensemble size are properties, and the
executor writes them into the hyperparameters before TFX's Trainer executor calls `run_fn`
(components/trainer.py), which reads one `Hyperparameters` as before. It also takes the
ExampleGen's raw examples, whose eval split the exported model's TF Serving warmup requests
are drawn from (components/warmup.py), and tells run_fn where they are (custom_config).

A module apart from the module code: TFX's Trainer executor imports (and re-imports) the
run_fn module by its path, which would re-create these classes under the pipeline's feet.
The Trainer's code fingerprint covers both modules (pipeline/pipeline.py).
"""

from __future__ import annotations

import dataclasses
import os
from typing import Any

from tfx import types
from tfx.components.trainer import executor as trainer_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.proto import trainer_pb2
from tfx.types import artifact_utils, standard_artifacts, standard_component_specs
from tfx.types.component_spec import ChannelParameter, ExecutionParameter
from tfx.utils import json_utils

from components import warmup
from components.hyperparameters import Hyperparameters


# TunableTrainer's property names, also the names of the Kubeflow run parameters (pipeline/pipeline.py).
EPOCHS = "epochs"
BATCH_SIZE = "batch_size"
ENSEMBLE_SIZE = "ensemble_size"
TUNABLE = (EPOCHS, BATCH_SIZE, ENSEMBLE_SIZE)
# The ExampleGen's raw examples, beside the Transform's: the exported model's TF Serving warmup
# requests are raw articles of their eval split (components/warmup.py).
RAW_EXAMPLES = "raw_examples"
WARMUP_SPLIT = "eval"


class TunableTrainerSpec(standard_component_specs.TrainerSpec):
    PARAMETERS = {
        **standard_component_specs.TrainerSpec.PARAMETERS,
        **{name: ExecutionParameter(type=int) for name in TUNABLE},
    }
    INPUTS = {
        **standard_component_specs.TrainerSpec.INPUTS,
        RAW_EXAMPLES: ChannelParameter(type=standard_artifacts.Examples),
    }


def with_settings(custom_config: str, settings: dict[str, Any], extra: dict[str, Any] | None = None) -> str:
    """custom_config (JSON) with `settings` written into its hyperparameters, validated as
    `Hyperparameters` validates them (a run parameter of 0 epochs fails here, at once), and
    the `extra` keys beside them."""
    config = json_utils.loads(custom_config)
    updated = dataclasses.replace(Hyperparameters.from_custom_config(config), **settings)
    return json_utils.dumps({**config, **updated.as_custom_config(), **(extra or {})})


class TunableTrainerExecutor(trainer_executor.GenericExecutor):
    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        properties = dict(exec_properties)
        settings = {name: properties.pop(name) for name in TUNABLE}
        key = standard_component_specs.CUSTOM_CONFIG_KEY
        inputs = dict(input_dict)
        raw_examples = artifact_utils.get_single_instance(inputs.pop(RAW_EXAMPLES))
        warmup_source = os.path.join(artifact_utils.get_split_uri([raw_examples], WARMUP_SPLIT), "*")
        properties[key] = with_settings(properties[key], settings, {warmup.SOURCE_KEY: warmup_source})
        super().Do(inputs, output_dict, properties)


class TunableTrainer(base_component.BaseComponent):
    """tfx.components.Trainer (generic, run_fn) with epochs, batch_size and ensemble_size as
    properties, each an int or a RuntimeParameter, and the raw examples as an input (and, as
    TFX's Trainer, optionally the Tuner's best_hyperparameters)."""

    SPEC_CLASS = TunableTrainerSpec
    EXECUTOR_SPEC = executor_spec.ExecutorClassSpec(TunableTrainerExecutor)

    def __init__(self, examples: types.BaseChannel, raw_examples: types.BaseChannel, transform_graph: types.BaseChannel,
                 schema: types.BaseChannel, run_fn: str, train_args: trainer_pb2.TrainArgs, eval_args: trainer_pb2.EvalArgs,
                 custom_config: dict[str, Any], epochs: Any, batch_size: Any, ensemble_size: Any,
                 hyperparameters: types.BaseChannel | None = None):
        super().__init__(spec=TunableTrainerSpec(
            examples=examples,
            raw_examples=raw_examples,
            transform_graph=transform_graph,
            schema=schema,
            train_args=train_args,
            eval_args=eval_args,
            run_fn=run_fn,
            custom_config=json_utils.dumps(custom_config),
            epochs=epochs,
            batch_size=batch_size,
            ensemble_size=ensemble_size,
            hyperparameters=hyperparameters,  # The Tuner's best, which run_fn applies over the preset's.
            model=types.Channel(type=standard_artifacts.Model),
            model_run=types.Channel(type=standard_artifacts.ModelRun),
        ))
