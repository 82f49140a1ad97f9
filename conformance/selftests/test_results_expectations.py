"""Known deviations (conformance/sa_conformance/expectations.toml): matching items become
strict xfails, reported as expected-fail; an unexpected pass fails the run."""

from __future__ import annotations

from pathlib import Path

import pytest
from sa_conformance.paths import EXPECTATIONS_FILE
from sa_conformance.expectations import ExpectationsError, load_expectations
from sa_conformance.resultsio import load_results
from sa_conformance.testing import make_inner_project

# subprocess-heavy: generous timeout on a loaded machine
pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(300)]

INI = """
[pytest]
claims_catalogue = claims
expectations_file = expectations.toml
addopts = -p sa_conformance.plugin -p sa_conformance.results -p no:randomly -p no:cacheprovider
"""
MODULE = """
import pytest
@pytest.mark.claim("registry.alpha")
@pytest.mark.parametrize("backend", ["b1", "b2"])
def test_alpha(backend):
    assert False, "alpha deviates"

@pytest.mark.claim("registry.beta")
@pytest.mark.parametrize("backend", ["b1"])
def test_beta(backend):
    pass
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    make_inner_project(pytester, monkeypatch, INI, claims=("alpha", "beta"))
    pytester.makepyfile(test_dev=MODULE)
    return pytester


def outcomes(path: Path) -> dict[tuple[str, str], dict]:
    return {(r["claim"], r["backend"]): r for r in load_results(path).to_dict()["results"]}


def test_matching_entry_turns_failure_into_expected_fail(inner):
    (inner.path / "expectations.toml").write_text(
        '[[expect]]\nclaim = "registry.alpha"\nbackend = "b2"\nissue = "https://example.org/issues/1"\n'
        'reason = "alpha deviates on b2"\n'
    )
    result = inner.runpytest_subprocess("--results=out/results.json")
    result.assert_outcomes(failed=1, passed=1, xfailed=1)
    recs = outcomes(inner.path / "out" / "results.json")
    assert recs[("registry.alpha", "b2")]["outcome"] == "expected-fail"
    assert "https://example.org/issues/1" in recs[("registry.alpha", "b2")]["reason"]
    assert recs[("registry.alpha", "b1")]["outcome"] == "fail"  # other backend: not covered by the entry


def test_unexpected_pass_fails_the_run(inner):
    (inner.path / "expectations.toml").write_text(
        '[[expect]]\nclaim = "registry.beta"\nissue = "https://example.org/issues/2"\nreason = "beta was broken"\n'
    )
    result = inner.runpytest_subprocess("--results=out/results.json")
    assert result.ret == 1
    result.stdout.fnmatch_lines(["*XPASS(strict)*beta was broken*"])
    rec = outcomes(inner.path / "out" / "results.json")[("registry.beta", "b1")]
    assert rec["outcome"] == "unexpected-pass"
    assert "expectations.toml" in rec["message"]


def test_version_range_limits_an_entry(inner):
    """An entry whose SQLAlchemy range excludes the running version is inert."""
    (inner.path / "expectations.toml").write_text(
        '[[expect]]\nclaim = "registry.alpha"\nuntil = "1.0"\nissue = "https://example.org/i/3"\nreason = "old"\n'
    )
    inner.runpytest_subprocess("--results=out/results.json").assert_outcomes(failed=2, passed=1)


def test_malformed_expectations_file_is_a_usage_error(inner):
    (inner.path / "expectations.toml").write_text('[[expect]]\nclaim = "registry.nope"\nissue = "x"\nreason = "r"\n')
    result = inner.runpytest_subprocess("--results=out/results.json")
    assert result.ret == pytest.ExitCode.USAGE_ERROR
    result.stderr.fnmatch_lines(["*expect #1*"])
    assert "Traceback" not in result.stderr.str()


def test_shipped_file_has_only_linked_entries_and_documents_an_example(pytestconfig, tmp_path):
    path = EXPECTATIONS_FILE
    active = load_expectations(path)
    # each active entry is a bounded, upstream-tracked deviation (a regression window), never open-ended
    assert [e.claim for e in active] == ["scoped-api.bulk-insert-return-defaults"]
    assert all(e.issue.startswith("https://github.com/sqlalchemy/sqlalchemy/issues/") and e.until for e in active)
    lines = path.read_text().splitlines()
    start = lines.index("# [[expect]]")
    example = "\n".join(line[2:] for line in lines[start:] if line.startswith("# "))
    probe = tmp_path / "example.toml"
    probe.write_text(example)
    entries = load_expectations(probe)  # the commented example is valid once uncommented
    assert len(entries) == 1 and entries[0].issue.startswith("https://")


def test_loader_rejects_bad_fields(tmp_path):
    bad = tmp_path / "e.toml"
    bad.write_text('[[expect]]\nclaim = "a.b"\nissue = "https://x"\nreason = "r"\nbogus = 1\n')
    with pytest.raises(ExpectationsError, match="unknown field"):
        load_expectations(bad)
    bad.write_text('[[expect]]\nclaim = "a.b"\nissue = "not a url"\nreason = "r"\n')
    with pytest.raises(ExpectationsError, match="must be a URL"):
        load_expectations(bad)
