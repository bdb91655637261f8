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
on a first run before.

It takes the candidate model as an input, unused but for the dependency: the served folder is
read after training, and the lookup is cached exactly when the candidate is (an unchanged
re-run reuses the same decision; a new candidate is compared with what is served then).
"""

# No `from __future__ import annotations`: TFX reads the component signature's annotations.
import json
import os
from typing import Any

from tfx import types
from tfx import v1 as tfx
from tfx.components.evaluator import executor as evaluator_executor
from tfx.dsl.components.base import executor_spec
from tfx.dsl.io import fileio
from tfx.types import standard_component_specs
from tfx.utils import io_utils, path_utils

from components.served_versions import served_versions

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


class BaselineAwareEvaluatorExecutor(evaluator_executor.Executor):
    """TFX's Evaluator, told "no baseline" when the baseline artifact holds no served model:
    TFX then drops the change thresholds (rubber stamp), as for a pipeline with no baseline."""

    def Do(self, input_dict: dict[str, list[types.Artifact]], output_dict: dict[str, list[types.Artifact]],
           exec_properties: dict[str, Any]) -> None:
        key = standard_component_specs.BASELINE_MODEL_KEY
        baselines = input_dict.get(key, [])
        if baselines and served_model_of(baselines[0].uri) is None:
            input_dict = {name: artifacts for name, artifacts in input_dict.items() if name != key}
        super().Do(input_dict, output_dict, exec_properties)


class BaselineAwareEvaluator(tfx.components.Evaluator):
    """tfx.components.Evaluator with BaselineAwareEvaluatorExecutor; same inputs, outputs, properties."""

    EXECUTOR_SPEC = executor_spec.BeamExecutorSpec(BaselineAwareEvaluatorExecutor)
