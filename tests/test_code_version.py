"""Each component's cache key follows exactly the code it runs (pipeline/code_version.py).

The edits are made to a copy of the project's packages, so the fingerprints are computed the
way `create_pipeline` computes them, over the copy's files."""

from __future__ import annotations

import json
import pathlib
import shutil

import pytest

from pipeline import code_version
from pipeline import pipeline as dag
from components.hyperparameters import PRESETS
from pipeline.config import RUN_FN, Locations, PipelineConfig
from preprocessing.transform import STYLE, TFIDF

REPO = pathlib.Path(code_version.__file__).resolve().parent.parent
# The module each component of ours runs (pipeline.py passes the same).
ENTRY_MODULES = {
    dag.EXAMPLE_GEN: ("components.checked_csv_example_gen",),
    dag.TRANSFORM: ("preprocessing.transform",),
    dag.TRAINER: ("components.trainer", "components.tunable_trainer"),
    dag.SERVED_BASELINE: ("components.baseline",),
    dag.EVALUATOR: ("components.baseline",),  # BaselineAwareEvaluator's executor.
    dag.EVALUATION_REPORT: ("components.report.component",),
    dag.PUSHER: ("components.pusher",),
}


def fingerprints(root: pathlib.Path) -> dict[str, str]:
    return {node: code_version.code_fingerprint(*modules, root=root) for node, modules in ENTRY_MODULES.items()}


@pytest.fixture()
def project_copy(tmp_path) -> pathlib.Path:
    for package in code_version.PROJECT_PACKAGES:
        shutil.copytree(REPO / package, tmp_path / package, ignore=shutil.ignore_patterns("__pycache__"))
    return tmp_path


def changed_after_editing(root: pathlib.Path, relative_path: str) -> set[str]:
    before = fingerprints(root)
    path = root / relative_path
    path.write_text(path.read_text() + "\n# An edit.\n")
    after = fingerprints(root)
    return {node for node in ENTRY_MODULES if before[node] != after[node]}


def test_create_pipeline_passes_each_component_its_fingerprint(tmp_path):
    locations = Locations(data=str(tmp_path / "d.csv"), pipeline_root=str(tmp_path),
                          serving_root=str(tmp_path / "serving"))
    pipeline = dag.create_pipeline(PipelineConfig(), locations)
    nodes = {component.id: component for component in pipeline.components}
    expected = fingerprints(REPO)
    for node in (dag.TRANSFORM, dag.TRAINER, dag.PUSHER):  # custom_config: a JSON string.
        assert json.loads(nodes[node].exec_properties["custom_config"])["code"] == expected[node]
    example_gen_config = json.loads(nodes[dag.EXAMPLE_GEN].exec_properties["custom_config"])  # A packed Struct.
    assert example_gen_config["custom_config"]["value"]["code"] == expected[dag.EXAMPLE_GEN]
    for node in (dag.SERVED_BASELINE, dag.EVALUATOR, dag.EVALUATION_REPORT):
        assert nodes[node].exec_properties["code"] == expected[node]


def test_editing_report_code_changes_only_the_report(project_copy):
    assert changed_after_editing(project_copy, "components/report/plots.py") == {dag.EVALUATION_REPORT}


def test_editing_model_or_hyperparameter_code_changes_only_the_trainer(project_copy):
    # The Evaluator, report and Pusher then re-run through the new model artifact (TFX's cache
    # keys on inputs), not because their own code changed.
    assert changed_after_editing(project_copy, "components/model.py") == {dag.TRAINER}
    assert changed_after_editing(project_copy, "components/hyperparameters.py") == {dag.TRAINER}
    assert changed_after_editing(project_copy, "components/tunable_trainer.py") == {dag.TRAINER}


def test_editing_preprocessing_changes_the_transform(project_copy):
    # The stemmer runs in the Transform graph, and in the explain signature the Trainer
    # exports (a wide part's words are stemmed to find their terms), so both re-run.
    assert changed_after_editing(project_copy, "preprocessing/porter.py") == {dag.TRANSFORM, dag.TRAINER}
    # The stopword list is data, read by both the Transform graph and the serving signatures.
    assert dag.TRANSFORM in changed_after_editing(project_copy, "preprocessing/english_stopwords.txt")


def test_the_pusher_follows_its_own_code(project_copy):
    assert changed_after_editing(project_copy, "components/pusher.py") == {dag.PUSHER}


def test_imports_inside_functions_are_followed():
    # components.report.component imports its readers and writers inside the function.
    closure = code_version.module_closure("components.report.component", REPO)
    assert {"components.report.inputs", "components.report.writer", "components.report.plots"} <= closure.keys()
    assert "components.trainer" not in closure and "pipeline.config" not in closure


def test_the_pipeline_still_builds_after_the_trainer_reloads_its_module_code(tmp_path):
    """TFX's Trainer executor imports run_fn's module with importlib.reload (tfx.utils.
    import_utils): the component classes must not live there, or the next create_pipeline in
    the same process (a re-run, a test) meets classes the reload replaced."""
    import importlib

    from tfx.utils import import_utils

    locations = Locations(data=str(tmp_path / "d.csv"), pipeline_root=str(tmp_path),
                          serving_root=str(tmp_path / "serving"))
    dag.create_pipeline(PipelineConfig(), locations)
    import_utils.import_func_from_module(*RUN_FN.rsplit(".", 1))
    importlib.reload(importlib.import_module(RUN_FN.rsplit(".", 1)[0]))  # As a second Trainer run does.
    dag.create_pipeline(PipelineConfig(), locations)


def test_editing_the_input_checks_changes_the_example_gen_and_the_report_that_shows_their_counts(project_copy):
    # The rest re-runs through the new examples artifact, if its content changed.
    assert changed_after_editing(project_copy, "components/input_checks.py") == {dag.EXAMPLE_GEN, dag.EVALUATION_REPORT}
    assert changed_after_editing(project_copy, "components/checked_csv_example_gen.py") == {dag.EXAMPLE_GEN}


@pytest.mark.parametrize("preset, tfidf, style", [("improved", False, False), ("notebook", False, False),
                                                  ("linear", True, False), ("wide-deep", True, False),
                                                  ("wide-style", True, True)])
def test_the_transform_computes_the_tfidf_and_style_only_for_a_model_that_reads_them(tmp_path, preset, tfidf, style):
    """The TF-IDF's analysis is most of a Transform's time; a model without a wide part skips it,
    and one without a style part the style (changing either re-runs the Transform, its
    custom_config being part of its cache key)."""
    locations = Locations(data=str(tmp_path / "d.csv"), pipeline_root=str(tmp_path),
                          serving_root=str(tmp_path / "serving"))
    pipeline = dag.create_pipeline(PipelineConfig(hyperparameters=PRESETS[preset]), locations)
    transform = next(component for component in pipeline.components if component.id == dag.TRANSFORM)
    custom_config = json.loads(transform.exec_properties["custom_config"])
    assert (custom_config[TFIDF], custom_config[STYLE]) == (tfidf, style)


def test_the_transform_leaves_statistics_to_statistics_gen(tmp_path):
    """Its own TFDV statistics of its input and output are read by nothing here, and over
    104,000 Kaggle-sized articles they doubled the run's peak memory (README, "Results")."""
    locations = Locations(data=str(tmp_path / "d.csv"), pipeline_root=str(tmp_path),
                          serving_root=str(tmp_path / "serving"))
    pipeline = dag.create_pipeline(PipelineConfig(), locations)
    transform = next(component for component in pipeline.components if component.id == dag.TRANSFORM)
    assert transform.exec_properties["disable_statistics"]
