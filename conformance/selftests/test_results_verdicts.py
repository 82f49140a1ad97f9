"""Which claim a test's result goes to, beyond a plain failure (inner
pytester runs with the toy catalogue and a known-deviations file):

* a leak after a test's checks passed is an ERROR of its claims (pytest
  counts it as an error too), never a FAIL: the claims held; a leak after a
  failed check is noted on that claim's FAIL only (one JUnit testcase);
* an error outside every claim's check (no assertion: a driver error, a
  timeout) in a test of several claims judges none of them: ERROR;
* under a known deviation of one claim, another claim whose check fails is a
  FAIL (not an expected failure), one that holds passes, and an unexpected
  pass is only the listed claim's;
* a setup error is an ERROR; pytest's counts, the claims line and JUnit
  agree on every test.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET

import pytest
from sa_conformance.model import Outcome
from sa_conformance.resultsio import load_results
from sa_conformance.testing import make_inner_project

pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(300)]

INI = """
[pytest]
claims_catalogue = claims
xfail_strict = true
addopts = -p sa_conformance.plugin -p sa_conformance.results -p no:randomly -p no:cacheprovider -o junit_family=xunit1
"""

EXPECT = "".join(
    f'[[expect]]\nclaim = "registry.beta"\nbackend = "{b}"\nissue = "https://example.invalid/{b}"\n'
    f'reason = "beta deviates on {b}"\n\n'
    for b in ("x-other", "x-listed", "x-pass", "x-error")
)

MODULE = """
import pytest
from sa_conformance import leakguard
from sa_conformance.attribution import claim

@pytest.fixture
def leaky():
    yield
    leakguard.report("registry still held a Session")

@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")

@pytest.mark.claim("registry.alpha", "registry.beta")
@pytest.mark.parametrize("backend", ["leak"])
def test_checks_pass_then_leaks(backend, leaky):
    with claim("registry.alpha"):
        pass
    with claim("registry.beta"):
        pass

@pytest.mark.claim("registry.alpha", "registry.beta")
@pytest.mark.parametrize("backend", ["fail-leak"])
def test_one_check_fails_then_leaks(backend, leaky):
    with claim("registry.alpha"):
        pass
    with claim("registry.beta"):
        assert False, "beta broke"

@pytest.mark.claim("registry.alpha", "registry.beta")
@pytest.mark.parametrize("backend", ["outside"])
def test_error_outside_the_checks(backend):
    with claim("registry.alpha"):
        pass
    raise ConnectionError("the server went away")

@pytest.mark.claim("registry.alpha")
@pytest.mark.parametrize("backend", ["setup"])
def test_setup_error(backend, broken):
    pass

@pytest.mark.claim("registry.alpha", "registry.beta")
@pytest.mark.parametrize("backend", ["x-error"])
def test_known_deviation_errors_outside_the_checks(backend):
    raise ConnectionError("the server went away")

@pytest.mark.claim("registry.alpha", "registry.beta")
@pytest.mark.parametrize("backend", ["x-other", "x-listed", "x-pass"])
def test_known_deviation(backend):
    with claim("registry.alpha"):
        assert backend != "x-other", "alpha broke"
    with claim("registry.beta"):
        assert backend == "x-pass", "beta deviates"
"""


@pytest.fixture
def run(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SA_CONFORMANCE_RESULTS_INTERVAL", "0")
    project = make_inner_project(pytester, monkeypatch, INI, claims=("alpha", "beta"))
    project.makefile(".toml", expect=EXPECT)
    project.makepyfile(test_verdicts=MODULE)
    result = project.runpytest_subprocess(
        "--results=out/results.json", "--junitxml=out/junit.xml", "--expectations=expect.toml", "-n", "2"
    )
    doc = load_results(project.path / "out" / "results.json")
    return result, doc, ET.parse(project.path / "out" / "junit.xml").getroot()


def test_each_claim_gets_the_verdict_of_its_own_check(run):
    _, doc, _ = run
    v = {(r.claim, r.backend): r for r in doc.records}
    # a leak after clean checks: the claims held, the test broke
    for cid in ("registry.alpha", "registry.beta"):
        rec = v[(cid, "leak")]
        assert rec.outcome is Outcome.ERROR and rec.leak, rec
        assert rec.message.startswith("teardown: LeakError: leak: registry still held a Session")
    # a failed check and then a leak: only that claim is red, the leak noted on it
    assert v[("registry.alpha", "fail-leak")].outcome is Outcome.PASS
    red = v[("registry.beta", "fail-leak")]
    assert red.outcome is Outcome.FAIL and red.leak and red.message.startswith("AssertionError: beta broke")
    assert "(the test also leaked: LeakError: leak: registry still held a Session)" in red.message
    # an error outside every check: the checked claim passed, the other is not judged
    assert v[("registry.alpha", "outside")].outcome is Outcome.PASS
    outside = v[("registry.beta", "outside")]
    assert outside.outcome is Outcome.ERROR
    assert outside.message.startswith("ConnectionError: the server went away") and "no claim judged" in outside.message
    assert v[("registry.alpha", "setup")].outcome is Outcome.ERROR
    assert v[("registry.alpha", "setup")].message == "setup: RuntimeError: fixture exploded"
    # known deviation of beta: alpha failing is a failure, not an expected one
    other = v[("registry.alpha", "x-other")]
    assert other.outcome is Outcome.FAIL and other.message.startswith("AssertionError: alpha broke")
    assert "expectations.toml lists only registry.beta" in other.message
    assert v[("registry.beta", "x-other")].outcome is Outcome.NOT_REACHED
    assert v[("registry.alpha", "x-listed")].outcome is Outcome.PASS
    assert v[("registry.beta", "x-listed")].outcome is Outcome.EXPECTED_FAIL
    assert v[("registry.alpha", "x-pass")].outcome is Outcome.PASS
    assert v[("registry.beta", "x-pass")].outcome is Outcome.UNEXPECTED_PASS
    # ... and an error outside every check there judges alpha not at all; beta stays expected
    assert v[("registry.alpha", "x-error")].outcome is Outcome.ERROR
    assert v[("registry.beta", "x-error")].outcome is Outcome.EXPECTED_FAIL


def test_pytest_the_claims_line_and_junit_agree(run):
    result, doc, junit = run
    # pytest: the strict xpass fails, the two xfails are xfailed, leak and setup error are errors
    result.assert_outcomes(passed=1, failed=3, errors=2, xfailed=3)  # a leak after a failure: no 2nd error
    assert dict(doc.tests.counts) == {"passed": 1, "failed": 3, "errors": 2, "xfailed": 3}
    assert doc.tests.total == 8  # the leaking test passed and errored: one test
    counts = doc.verdict_counts()
    assert counts == {Outcome.ERROR: 5, Outcome.FAIL: 2, Outcome.PASS: 4, Outcome.NOT_REACHED: 1,
                      Outcome.EXPECTED_FAIL: 2, Outcome.UNEXPECTED_PASS: 1}
    result.stdout.fnmatch_lines([doc.claims_line()])
    cases = list(junit.iter("testcase"))
    assert len(cases) == doc.tests.total
    for case in cases:
        assert {"claim", "backend"} <= {p.get("name") for p in case.iter("property")}, case.get("name")
