"""Attribution per claim and JUnit shape, end to end through the results
plugin (inner pytester runs with the toy catalogue, serial and under xdist).

* a test with two ``with claim()`` blocks where only the second fails turns
  only that claim red; a claim after the failing block is "not reached";
  a failure outside any block fails every claim not yet checked;
* a test that fails and then leaks is one JUnit ``<testcase>`` carrying the
  claim/backend/scope_mode/leak properties, and the XML keeps the shape of
  the xunit1 family the suite writes (per-suite counts match the cases, at
  most one result element per case, properties first, file and line).
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
addopts = -p sa_conformance.plugin -p sa_conformance.results -p no:randomly -p no:cacheprovider -o junit_family=xunit1
"""

MODULE = """
import pytest
from sa_conformance import leakguard
from sa_conformance.attribution import claim

@pytest.fixture
def leaky():
    yield
    leakguard.report("registry still held a Session")

@pytest.mark.claim("registry.alpha", "registry.beta", "registry.gamma")
@pytest.mark.parametrize("backend", ["b1"])
def test_blocks(backend):
    with claim("registry.alpha"):
        assert 1 + 1 == 2
    with claim("registry.beta"):
        assert backend == "b2", "beta broke on " + backend
    with claim("registry.gamma"):
        assert True

@pytest.mark.claim("registry.alpha", "registry.beta")
@pytest.mark.parametrize("backend", ["b2"])
def test_unattributed(backend):
    with claim("registry.alpha"):
        pass
    assert False, "outside any block"

@pytest.mark.claim("registry.alpha", "registry.gamma")
@pytest.mark.parametrize("backend", ["b3"])
def test_fails_and_leaks(backend, leaky):
    assert False, "broken and leaking"
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    monkeypatch.setenv("SA_CONFORMANCE_RESULTS_INTERVAL", "0")
    project = make_inner_project(pytester, monkeypatch, INI, claims=("alpha", "beta", "gamma"))
    project.makepyfile(test_attr=MODULE)
    return project


@pytest.mark.parametrize("workers", [0, 2], ids=["serial", "xdist"])
def test_only_the_claim_whose_check_failed_turns_red(inner, workers):
    args = ["--results=out/results.json"] + (["-n", str(workers)] if workers else [])
    inner.runpytest_subprocess(*args).assert_outcomes(failed=3)
    recs = {(r.claim, r.backend): r for r in load_results(inner.path / "out" / "results.json").records}
    assert recs[("registry.alpha", "b1")].outcome is Outcome.PASS
    beta = recs[("registry.beta", "b1")]
    assert beta.outcome is Outcome.FAIL and beta.message.startswith("AssertionError: beta broke on b1")
    gamma = recs[("registry.gamma", "b1")]
    assert gamma.outcome is Outcome.NOT_REACHED
    assert gamma.reason == "not reached: the test stopped at a failing check of registry.beta"
    # no claim on the exception: the checked claim passes, the unchecked one fails
    assert recs[("registry.alpha", "b2")].outcome is Outcome.PASS
    assert recs[("registry.beta", "b2")].outcome is Outcome.FAIL
    # a leak fails every claim of its test, and is flagged as such
    for cid in ("registry.alpha", "registry.gamma"):
        rec = recs[(cid, "b3")]
        assert rec.outcome is Outcome.FAIL and rec.leak is True
        assert rec.message.startswith("AssertionError: broken and leaking")
        assert "also leaked: LeakError: leak: registry still held a Session" in rec.message


def test_failing_and_leaking_test_is_one_junit_testcase_with_properties(inner):
    result = inner.runpytest_subprocess("--results=out/results.json", "--junitxml=out/junit.xml", "-n", "2")
    # pytest's own count: the leak after a failure is no second error
    result.assert_outcomes(failed=3, errors=0)
    result.stdout.fnmatch_lines(["*test_fails_and_leaks*also leaked: LeakError: leak: registry still held a Session*"])
    root = ET.parse(inner.path / "out" / "junit.xml").getroot()
    cases = list(root.iter("testcase"))
    assert sorted(c.get("name") for c in cases) == ["test_blocks[b1]", "test_fails_and_leaks[b3]", "test_unattributed[b2]"]
    case = next(c for c in cases if c.get("name") == "test_fails_and_leaks[b3]")
    assert [child.tag for child in case] == ["properties", "failure"]
    props = [(p.get("name"), p.get("value")) for p in case.find("properties")]
    assert props == [
        ("claim", "registry.alpha"), ("claim", "registry.gamma"), ("backend", "b3"), ("scope_mode", "default"),
        ("kind", "example"), ("leak", "true"),
    ]
    for c in cases:  # claim and backend on every entry, failures included
        names = {p.get("name") for p in c.iter("property")}
        assert {"claim", "backend", "scope_mode"} <= names, c.get("name")
    check_xunit1_shape(root)


def check_xunit1_shape(root: ET.Element) -> None:
    """The suite writes ``junit_family=xunit1``: the JUnit 10 XSD behind
    pytest's xunit2 allows <properties> only on a <testsuite>, so per-test
    properties (claim, backend) are valid only in the xunit1 (Jenkins legacy)
    family, which also gives each case its ``file`` and ``line``.  Its rules:
    a <testsuites> of <testsuite>s whose counters match their cases; a case
    has name/classname/time/file/line, <properties> first, at most one of
    failure/error/skipped, then system-out/err."""
    assert root.tag == "testsuites"
    for suite in root.iter("testsuite"):
        cases = suite.findall("testcase")
        outcome_tags = [[ch.tag for ch in c if ch.tag in ("failure", "error", "skipped")] for c in cases]
        assert int(suite.get("tests")) == len(cases)
        assert int(suite.get("failures")) == sum(t == ["failure"] for t in outcome_tags)
        assert int(suite.get("errors")) == sum(t == ["error"] for t in outcome_tags)
        assert int(suite.get("skipped")) == sum(t == ["skipped"] for t in outcome_tags)
        for case, tags in zip(cases, outcome_tags):
            assert len(tags) <= 1, f"{case.get('name')}: {tags}"
            for attr in ("name", "classname", "time", "file", "line"):
                assert case.get(attr) is not None, (case.get("name"), attr)
            children = [ch.tag for ch in case]
            assert "property" not in children
            if "properties" in children:
                assert children.index("properties") == 0
            allowed = {"properties", "failure", "error", "skipped", "system-out", "system-err"}
            assert set(children) <= allowed, children
