"""The Evaluator's baseline: the model being served, on every orchestrator.

TFX's usual baseline is a Resolver (LatestBlessedModelStrategy) that queries ML Metadata for
the latest blessed model. Kubeflow Pipelines compiles it to `resolver` tasks, which Vertex AI
runs and the open-source KFP backend refuses ("resolver not implemented yet"). The question
the gate asks is anyway "is the candidate at least as good as what users are served now?",
and the served model is on disk where the Pusher put it: `ServedModelBaseline` copies the
newest version under the serving base (TF Serving's rule: the highest all-digit folder) into
its Model artifact, where the Evaluator reads a baseline (`Format-Serving/`), and writes
`served_from.json` beside it. With nothing served yet, the artifact holds no model and
`BaselineAwareEvaluator` evaluates without a baseline: the absolute bound alone decides, as
on a first run before. Its `min_auc` property sets that bound in the eval config when the
task runs, so a Kubeflow run can change it (a run parameter: a RuntimeParameter nested in the
eval config proto never reaches the task; components/tunable_trainer.py says why). Its
`code` property is its code fingerprint, as for the other components whose code is ours.

It takes the candidate model as an input, unused but for the dependency: the served folder is
read after training, and the lookup is cached exactly when the candidate is (an unchanged
re-run reuses the same decision; a new candidate is compared with what is served then).
"""

# No `from __future__ import annotations`: TFX reads the component signature's annotations.
import json
import os
from typing import Any

import tensorflow_model_analysis as tfma
from tfx import types
from tfx import v1 as tfx
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import base_component, executor_spec
from tfx.dsl.io import fileio
from tfx.types import standard_artifacts, standard_component_specs
from tfx.types.component_spec import ExecutionParameter
from tfx.utils import io_utils, json_utils, path_utils, proto_utils

from components.evaluation import with_min_auc
from components.served_versions import served_versions

MIN_AUC = "min_auc"  # The property, and the name of the Kubeflow run parameter.
CODE = "code"  # The property holding this module's code fingerprint (pipeline.code_version).

SERVED_FROM_FILE = "served_from.json"  # {"version": "...", "path": "..."}: what the copy came from.


def served_model_of(baseline_uri: str) -> dict[str, str] | None:
    """What a baseline artifact holds: the served version and its path, or None if nothing was served."""
    path = os.path.join(baseline_uri, SERVED_FROM_FILE)
    if not fileio.exists(path):
        return None
    with fileio.open(path, "r") as f:
        return json.load(f)


@tfx.dsl.components.component
def ServedModelBaseline(
    candidate: tfx.dsl.components.InputArtifact[tfx.types.standard_artifacts.Model],
    baseline: tfx.dsl.components.OutputArtifact[tfx.types.standard_artifacts.Model],
    serving_base: tfx.dsl.components.Parameter[str],
    code: tfx.dsl.components.Parameter[str],
) -> None:
    """serving_base: the folder the Pusher pushes to; code: this component's code fingerprint
    (pipeline.code_version), read by TFX's cache only."""
    versions = served_versions(serving_base)
    if not versions:
        return  # An empty artifact: BaselineAwareEvaluator then evaluates without a baseline.
    version = str(versions[-1])
    source = os.path.join(serving_base, version)
    io_utils.copy_dir(source, path_utils.serving_model_dir(baseline.uri))
    with fileio.open(os.path.join(baseline.uri, SERVED_FROM_FILE), "w") as f:
        f.write(json.dumps({"version": version, "path": source}))


class BaselineAwareEvaluatorSpec(standard_component_specs.EvaluatorSpec):
    PARAMETERS = {**standard_component_specs.EvaluatorSpec.PARAMETERS, MIN_AUC: ExecutionParameter(type=float),
                  CODE: ExecutionParameter(type=str)}


class BaselineAwareEvaluatorExecutor(evaluator_executor.Executor):
    """TFX's Evaluator, told "no baseline" when the baseline artifact holds no served model:
    TFX then drops the change thresholds (rubber stamp), as for a pipeline with no baseline;
    the eval config's AUC bound is the `min_auc` property's."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        exec_properties = dict(exec_properties)
        min_auc = exec_properties.pop(MIN_AUC)
        exec_properties.pop(CODE)  # For TFX's cache only.
        config_key = standard_component_specs.EVAL_CONFIG_KEY
        config = proto_utils.json_to_proto(exec_properties[config_key], tfma.EvalConfig())
        exec_properties[config_key] = proto_utils.proto_to_json(with_min_auc(config, min_auc))
        key = standard_component_specs.BASELINE_MODEL_KEY
        baselines = input_dict.get(key, [])
        if baselines and served_model_of(baselines[0].uri) is None:
            input_dict = {name: artifacts for name, artifacts in input_dict.items() if name != key}
        super().Do(input_dict, output_dict, exec_properties)


class BaselineAwareEvaluator(base_component.BaseComponent):
    """tfx.components.Evaluator (examples, model, optional baseline, eval config) with
    BaselineAwareEvaluatorExecutor and `min_auc`, a float or a RuntimeParameter."""

    SPEC_CLASS = BaselineAwareEvaluatorSpec
    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(BaselineAwareEvaluatorExecutor)

    def __init__(self, examples: types.BaseChannel, model: types.BaseChannel,
                 baseline_model: types.BaseChannel | None, eval_config: tfma.EvalConfig, min_auc: Any, code: str):
        super().__init__(spec=BaselineAwareEvaluatorSpec(
            examples=examples,
            model=model,
            baseline_model=baseline_model,
            eval_config=eval_config,
            # As tfx.components.Evaluator passes them when not given.
            example_splits=json_utils.dumps(None),
            fairness_indicator_thresholds=json_utils.dumps(None),
            min_auc=min_auc,
            code=code,
            evaluation=types.Channel(type=standard_artifacts.ModelEvaluation),
            blessing=types.Channel(type=standard_artifacts.ModelBlessing),
        ))
