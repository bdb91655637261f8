"""The conftest guard: a test not marked e2e fails as soon as it starts a Beam pipeline, so
`pytest -m "not e2e"` runs none; an e2e test runs its pipeline as before."""

from __future__ import annotations

import pathlib

pytest_plugins = ["pytester"]

CONFTEST = pathlib.Path(__file__).with_name("conftest.py")
BEAM_TESTS = '''
import apache_beam as beam
import pytest


def _run_a_pipeline():
    with beam.Pipeline() as pipeline:
        _ = pipeline | beam.Create([1, 2, 3])


def test_unit_that_runs_beam():
    _run_a_pipeline()


@pytest.mark.e2e
def test_e2e_that_runs_beam():
    _run_a_pipeline()
'''


def test_only_e2e_tests_may_run_a_beam_pipeline(pytester):
    pytester.makeconftest(CONFTEST.read_text(encoding="utf-8"))
    pytester.makeini("[pytest]\nmarkers =\n    e2e: runs the whole TFX pipeline\n")
    pytester.makepyfile(test_beam=BEAM_TESTS)
    result = pytester.runpytest_subprocess("-p", "no:cacheprovider")
    result.assert_outcomes(passed=1, failed=1)
    result.stdout.fnmatch_lines(["*test_unit_that_runs_beam is not marked e2e but started a Beam pipeline*"])
