"""The results plugin (sa_conformance.results): one record per (claim,
backend, driver, scope mode) with the documented outcome aggregation, under
xdist, with leak errors mapped to failures, and a valid file after an
interrupt or a crash.  Inner runs use pytester with a tiny catalogue of their own."""

from __future__ import annotations

import json
import xml.etree.ElementTree as ET

import pytest
from sa_conformance.model import Document, Outcome, Record, ResultsSchemaError, Run, validate
from sa_conformance.resultsio import load_results
from sa_conformance.testing import make_inner_project

# subprocess-heavy: generous timeout on a loaded machine
pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(300)]

INI = """
[pytest]
claims_catalogue = claims
expectations_file = expectations.toml
addopts = -p sa_conformance.plugin -p sa_conformance.results -p no:randomly -p no:cacheprovider
xfail_strict = true
"""


@pytest.fixture
def inner(pytester: pytest.Pytester, monkeypatch: pytest.MonkeyPatch) -> pytest.Pytester:
    """A pytester dir with the mini catalogue and ini; no results-dir or
    CI summary environment leaks in from the outer run."""
    monkeypatch.setenv("SA_CONFORMANCE_RESULTS_INTERVAL", "0")
    return make_inner_project(
        pytester, monkeypatch, INI, claims=("alpha", "beta", "gamma", "ancient", "never-tested")
    )


OUTCOMES_MODULE = """
import pytest
from sa_conformance import leakguard

@pytest.fixture
def broken():
    raise RuntimeError("fixture exploded")

@pytest.fixture
def leaky():
    yield
    leakguard.report("registry still held a Session")

@pytest.mark.claim("registry.alpha")
@pytest.mark.parametrize("backend", ["b1", "b2"])
def test_alpha(backend):
    '''alpha passes on b1 and fails on b2'''
    assert backend == "b1", "alpha broke on " + backend

@pytest.mark.claim("registry.alpha")
@pytest.mark.parametrize("backend", ["b1"])
def test_alpha_skip(backend):
    pytest.skip("lacks capability x")

@pytest.mark.claim("registry.beta")
@pytest.mark.parametrize("backend", ["b1"])
def test_beta_error(backend, broken):
    pass

@pytest.mark.claim("registry.beta")
@pytest.mark.parametrize("backend", ["b2"])
def test_beta_leak(backend, leaky):
    pass

@pytest.mark.claim("registry.gamma")
@pytest.mark.parametrize("scope_mode", ["thread", "task"])
def test_gamma(scope_mode):
    pass

@pytest.mark.claim("registry.ancient")
def test_ancient():
    pass
"""


def records(doc: Document) -> dict[tuple, Record]:
    """(claim, backend, scope_mode) -> record (these inner runs have no driver)."""
    return {(r.claim, r.backend, r.scope_mode): r for r in doc.records}


def check_outcomes(doc: Document) -> None:
    recs = records(doc)
    # worst wins: fail beats pass for alpha on b2; pass beats skip on b1
    assert recs[("registry.alpha", "b1", "default")].outcome is Outcome.PASS
    assert dict(recs[("registry.alpha", "b1", "default")].counts) == {"pass": 1, "skip": 1}
    assert len(recs[("registry.alpha", "b1", "default")].tests) == 2
    fail = recs[("registry.alpha", "b2", "default")]
    assert fail.outcome is Outcome.FAIL
    assert fail.message.startswith("AssertionError: alpha broke on b2")
    assert fail.tests == ("test_outcomes.py::test_alpha[b2]",)
    lines = open(fail.source.path).read().splitlines()  # the test's first line (its claim decorator)
    assert lines[fail.source.line - 1] == '@pytest.mark.claim("registry.alpha")'
    assert lines[fail.source.line + 1] == "def test_alpha(backend):"
    err = recs[("registry.beta", "b1", "default")]
    assert err.outcome is Outcome.ERROR and "RuntimeError: fixture exploded" in err.message
    # a leak after a clean call: the test broke (pytest: an error), the claim was not judged failing
    leak = recs[("registry.beta", "b2", "default")]
    assert leak.outcome is Outcome.ERROR and leak.leak is True
    assert leak.message.startswith("teardown: LeakError: leak: registry still held a Session")
    assert recs[("registry.gamma", None, "thread")].outcome is Outcome.PASS
    assert recs[("registry.gamma", None, "task")].outcome is Outcome.PASS
    na = recs[("registry.ancient", None, "default")]
    assert na.outcome is Outcome.NOT_APPLICABLE and "holds for SQLAlchemy <1.0" in na.reason
    never = recs[("registry.never-tested", None, "default")]
    assert never.outcome is Outcome.NOT_RUN
    assert doc.claims["registry.alpha"]["source"].endswith("#alpha")
    assert doc.claims["registry.ancient"]["until"] == "1.0"


@pytest.mark.parametrize("workers", [0, 2], ids=["serial", "xdist"])
def test_records_aggregate_outcomes_per_claim_backend_and_scope_mode(inner, workers):
    """fail > error > unexpected-pass > expected-fail > pass > skip > n/a per
    (claim, backend, driver, scope mode); a leak after a clean call is an error; never-run claims
    are listed; the file validates against the published schema (also with -n 2)."""
    inner.makepyfile(test_outcomes=OUTCOMES_MODULE)
    args = ["--results=out/results.json"] + (["-n", str(workers)] if workers else [])
    result = inner.runpytest_subprocess(*args)
    result.assert_outcomes(passed=4, failed=1, skipped=2, errors=2)
    doc = load_results(inner.path / "out" / "results.json")
    check_outcomes(doc)
    assert doc.complete is True and doc.exit_status == 1
    assert doc.run.finished is not None
    # pytest's own counts, as its summary line says them
    assert dict(doc.tests.counts) == {"passed": 4, "failed": 1, "skipped": 2, "errors": 2}
    summary = (inner.path / "out" / "summary.md").read_text()
    assert "registry.alpha" in summary and "alpha broke on b2" in summary
    html = (inner.path / "out" / "matrix.html").read_text()
    assert html.count('class="claim-row"') == 5
    # no column for the tests without a backend
    assert 'data-backend="None"' not in html and ">none<" not in html


def test_junit_properties_name_claims_and_backend(inner):
    inner.makepyfile(test_outcomes=OUTCOMES_MODULE)
    inner.runpytest_subprocess("--results=out/results.json", "--junitxml=out/junit.xml", "-n", "2")
    root = ET.parse(inner.path / "out" / "junit.xml").getroot()
    case = next(c for c in root.iter("testcase") if c.get("name") == "test_alpha[b2]")
    props = {(p.get("name"), p.get("value")) for p in case.iter("property")}
    assert ("claim", "registry.alpha") in props and ("backend", "b2") in props


def test_results_dir_env_and_metadata(inner, monkeypatch):
    """SA_CONFORMANCE_RESULTS_DIR picks the directory; the run metadata names
    the versions, the hypothesis profile and the catalogue."""
    import sqlalchemy

    monkeypatch.setenv("SA_CONFORMANCE_RESULTS_DIR", str(inner.path / "envdir"))
    inner.makepyfile(test_one="import pytest\n@pytest.mark.claim('registry.alpha')\ndef test_a():\n    pass\n")
    inner.runpytest_subprocess("--hypothesis-seed=1234").assert_outcomes(passed=1)
    doc = load_results(inner.path / "envdir" / "results.json")
    run = doc.run
    assert run.sqlalchemy == sqlalchemy.__version__
    assert run.hypothesis["profile"] in ("ci", "dev", "thorough")
    assert run.hypothesis["seed"] == "1234"
    assert run.catalogue == str((inner.path / "claims").resolve())
    assert "--hypothesis-seed=1234" in run.command
    assert doc.suite_name == "sa-session-conformance"


def test_backend_metadata_from_xdist_workers(inner):
    """With the fixtures plugin and -n 2, Backend.describe() of each opened
    backend reaches the controller's results file."""
    inner.makepyfile(
        test_db="""
        import pytest
        @pytest.mark.claim("registry.alpha")
        def test_a(backend):
            with backend.engine.connect() as conn:
                conn.exec_driver_sql("select 1")
        """
    )
    result = inner.runpytest_subprocess(
        "-p", "sa_fixtures.pytest_plugin", "--backend", "sqlite-memory,sqlite-file", "-n", "2",
        "--results=out/results.json",
    )
    result.assert_outcomes(passed=2)
    doc = load_results(inner.path / "out" / "results.json")
    backends = doc.run.backends
    assert set(backends) == {"sqlite-memory", "sqlite-file"}
    for info in backends.values():
        assert info["dialect"] == "sqlite" and info["driver"] == "pysqlite"
        assert info["product"] == "SQLite" and info["server_version"]
        assert info["isolation_level"]
        assert info["dbapi"].startswith("sqlite3")
    assert doc.run.backends_selected == ("sqlite-memory", "sqlite-file")
    alpha = {(r.backend, r.driver) for r in doc.records if r.claim == "registry.alpha"}
    assert alpha == {("sqlite-memory", "pysqlite"), ("sqlite-file", "pysqlite")}


@pytest.mark.parametrize("how", ["keyboard-interrupt", "crash"])
def test_interrupted_or_crashed_run_leaves_a_valid_partial_file(inner, how):
    """After Ctrl-C (KeyboardInterrupt) or a hard crash (os._exit) halfway,
    the file is valid JSON per the schema, says complete: false, and holds
    the records of the tests that ran."""
    stop = "raise KeyboardInterrupt" if how == "keyboard-interrupt" else "os._exit(3)"
    inner.makepyfile(
        test_stop=f"""
        import os, pytest
        @pytest.mark.claim("registry.alpha")
        def test_1():
            pass
        @pytest.mark.claim("registry.beta")
        def test_2():
            assert False, "beta is broken"
        @pytest.mark.claim("registry.gamma")
        def test_3():
            {stop}
        @pytest.mark.claim("registry.never-tested")
        def test_4():
            pass
        """
    )
    result = inner.runpytest_subprocess("--results=out/results.json")
    assert result.ret != 0
    doc = load_results(inner.path / "out" / "results.json")
    assert doc.complete is False
    recs = records(doc)
    assert recs[("registry.alpha", None, "default")].outcome is Outcome.PASS
    assert recs[("registry.beta", None, "default")].outcome is Outcome.FAIL
    assert recs[("registry.never-tested", None, "default")].outcome is Outcome.NOT_RUN
    assert not list((inner.path / "out").glob(".results.json.*.tmp")), "temp file left behind"


def test_stopping_early_is_incomplete(inner):
    inner.makepyfile(test_x="""
        import pytest
        @pytest.mark.claim("registry.alpha")
        def test_1():
            assert 0
        @pytest.mark.claim("registry.beta")
        def test_2():
            pass
        """)
    inner.runpytest_subprocess("-x", "--results=out/results.json")
    doc = load_results(inner.path / "out" / "results.json")
    assert doc.complete is False and doc.exit_status == 1


def test_collect_only_writes_no_results(inner):
    """The self-check collects the suite in a subprocess; that must never
    overwrite the real run's results file."""
    inner.makepyfile(test_x="import pytest\n@pytest.mark.claim('registry.alpha')\ndef test_1():\n    pass\n")
    inner.runpytest_subprocess("--collect-only", "--results=out/results.json")
    assert not (inner.path / "out").exists()


def test_reproduction_text_is_extracted(inner):
    """Hypothesis's falsifying example and @reproduce_failure blob (the
    exception's notes), and a script attached with attribution.attach_repro,
    land in "repro" -- read from the exception, not the rendered traceback."""
    inner.makepyfile(
        test_repro="""
        import pytest
        from hypothesis import given, settings, strategies as st

        @pytest.mark.claim("registry.alpha")
        @settings(database=None, print_blob=True, derandomize=True, max_examples=50)
        @given(st.integers())
        def test_h(n):
            assert n < 10, "too big"

        @pytest.mark.claim("registry.beta")
        def test_script():
            from sa_conformance.attribution import attach_repro
            raise attach_repro(AssertionError("after step 3: mismatch"), "import sqlalchemy\\nprint('replay')")
        """
    )
    inner.runpytest_subprocess("--results=out/results.json")
    recs = records(load_results(inner.path / "out" / "results.json"))
    hyp = recs[("registry.alpha", None, "default")]
    assert hyp.outcome is Outcome.FAIL
    assert ("Falsifying example" in hyp.repro or "Failing test case" in hyp.repro)
    assert "test_h(" in hyp.repro and "n=10" in hyp.repro
    assert "@reproduce_failure(" in hyp.repro
    script = recs[("registry.beta", None, "default")]
    assert script.repro == "import sqlalchemy\nprint('replay')"
    assert script.message == "AssertionError: after step 3: mismatch"


def test_schema_rejects_a_malformed_document():
    """The schema is not vacuous: a bad outcome and a missing field fail, on
    write (to_dict) and on read (from_dict)."""
    run = Run(sqlalchemy="2.0.1", python="3", platform="x", started="2020-01-01T00:00:00+00:00",
              finished=None, command="pytest", extra={"hypothesis": {"profile": "ci"}})
    doc = Document(suite_version="1", complete=False, exit_status=None, run=run, claims={}, records=())
    data = doc.to_dict()
    validate(data)
    assert Document.from_dict(data) == doc
    bad = json.loads(json.dumps(data))
    bad["results"] = [{"claim": "a.b", "backend": "x", "driver": None, "scope_mode": "default",
                       "outcome": "great", "duration": 0, "tests": []}]
    with pytest.raises(ResultsSchemaError, match=r"results/0/outcome"):
        Document.from_dict(bad)
    del bad["run"]
    with pytest.raises(ResultsSchemaError, match="'run' is a required property"):
        validate(bad)
    with pytest.raises(ValueError):
        Record(claim="a.b", backend=None, driver=None, scope_mode="default", outcome="great")
