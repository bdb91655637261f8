"""EvaluationReport: the notebook's closing classification report and confusion-matrix heatmap,
plus ROC and precision-recall curves, metrics per slice, the blessing's reasons and a model
card, all from the Evaluator's TFMA outputs of this run.

A python-function component referenced by import path, so the same code runs under
LocalDagRunner and, from the pipeline image, under Kubeflow.
"""

# No `from __future__ import annotations`: TFX reads the signature's annotations as objects.
from tfx import v1 as tfx
from tfx.types.experimental.simple_artifacts import File

InputArtifact = tfx.dsl.components.InputArtifact
OutputArtifact = tfx.dsl.components.OutputArtifact
Parameter = tfx.dsl.components.Parameter
artifacts = tfx.types.standard_artifacts


# The output is a generic `File` (a folder of files here): Kubeflow V2 only round-trips TFX's
# own artifact types, or custom ones whose TYPE_NAME is an importable "<package>.<Class>" path.
@tfx.dsl.components.component
def EvaluationReport(
    evaluation: InputArtifact[artifacts.ModelEvaluation],
    blessing: InputArtifact[artifacts.ModelBlessing],
    model: InputArtifact[artifacts.Model],
    model_run: InputArtifact[artifacts.ModelRun],
    statistics: InputArtifact[artifacts.ExampleStatistics],
    examples: InputArtifact[artifacts.Examples],
    report: OutputArtifact[File],
    data_source: Parameter[str],
    code: Parameter[str],
) -> None:
    """examples: the ExampleGen's, for the input checks' counts recorded with them and the eval
    split's articles, which the model's explain signature explains;
    data_source: the input the user named; code: the fingerprint of this component's code (pipeline.code_version), read by TFX's cache
    only: a new fingerprint makes a new execution."""
    # Imported when the component runs, not when the DAG is defined or compiled: those need
    # neither matplotlib nor TFMA.
    from components.report import inputs, writer

    writer.write(
        inputs.gather(evaluation, blessing, model, model_run, statistics, examples, data_source),
        report.uri,
    )
