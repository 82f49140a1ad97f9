"""The results model on its own: outcomes that know their rank, frozen types
that round-trip through validated JSON, one error class per defect of a
results file, and a library side (model, I/O, report, diff, cli) that
imports nothing of pytest."""

from __future__ import annotations

import dataclasses
import json
import subprocess
import sys
from pathlib import Path

import pytest
from sa_conformance.model import (
    FORMAT_VERSION, UNIT, Document, Outcome, Record, ResultsError, ResultsFormatError, ResultsMissingError,
    ResultsNotJSONError, ResultsSchemaError, ResultsUnreadableError, Run, Source, worst,
)
from sa_conformance.resultsio import load_results, write_document

pytestmark = pytest.mark.selfcheck


def small_doc() -> Document:
    run = Run(sqlalchemy="2.1.9", python="3.11", platform="Linux", started="2026-01-01T00:00:00+00:00",
              finished=None, command="pytest", backends_selected=("sqlite-memory",),
              extra={"hypothesis": {"profile": "ci"}})
    records = (
        Record(claim="remove.closes-session", backend="sqlite-memory", driver="pysqlite", scope_mode="default",
               outcome=Outcome.FAIL, tests=("t::a",), counts={"fail": 1}, message="AssertionError: x",
               source=Source("/abs/test_remove.py", 20), kinds=("example",)),
        Record(claim="remove.closes-session", backend=None, driver=None, scope_mode="default", outcome="pass"),
        Record(claim="remove.noop-when-empty", backend=None, driver=None, scope_mode="default",
               outcome=Outcome.NOT_RUN, reason="no test"),
    )
    claims = {r.claim: {"id": r.claim, "family": "remove", "claim": "c.", "source": "s", "section": "x",
                        "since": None, "until": None} for r in records}
    return Document(suite_version="0.1", complete=True, exit_status=1, run=run, claims=claims, records=records)


def test_outcomes_know_their_rank_and_meaning():
    assert [o.value for o in sorted(Outcome, key=lambda o: o.rank)][:5] == [
        "fail", "error", "unexpected-pass", "expected-fail", "pass"]
    assert worst(["pass", "skip", "not-reached"]) is Outcome.PASS
    assert worst([Outcome.PASS, Outcome.FAIL]) is Outcome.FAIL
    assert {o for o in Outcome if o.bad} == {Outcome.FAIL, Outcome.ERROR, Outcome.UNEXPECTED_PASS}
    assert not Outcome.NOT_REACHED.judged and not Outcome.ERROR.judged and Outcome.EXPECTED_FAIL.judged
    assert Outcome("not-applicable").label == "n/a" and Outcome.PASS == "pass"


def test_document_round_trips_through_validated_json(tmp_path):
    doc = small_doc()
    with pytest.raises(dataclasses.FrozenInstanceError):
        doc.complete = False  # type: ignore[misc]
    path = tmp_path / "results.json"
    write_document(path, doc)
    again = load_results(path)
    assert again == doc
    data = json.loads(path.read_text())
    assert data["format_version"] == FORMAT_VERSION == 2
    assert data["verdicts"] == {"fail": 1, "pass": 1, "not-run": 1}
    assert data["totals"] == {"sqlite-memory": {"fail": 1}, "(no database)": {"pass": 1}, "(not run)": {"not-run": 1}}
    assert doc.backends() == ["sqlite-memory"]
    assert doc.claims_line() == "claims: 3 claim verdicts (claim × backend × driver × scope mode): 1 FAIL, 1 pass, 1 not run"
    bad = dataclasses.replace(doc.records[0], scope_mode="")  # schema: minLength 1
    with pytest.raises(ResultsSchemaError, match="results/"):
        Document(**{**vars(doc), "records": (bad,)}).to_dict()


@pytest.mark.parametrize("content, error, words", [
    (None, ResultsMissingError, "no such results file"),
    ("", ResultsUnreadableError, "empty file"),
    (b"\xff\xfe\x00", ResultsUnreadableError, "cannot read"),
    ('{"format": "sa-conformance-results", ', ResultsNotJSONError, "not JSON"),
    ('{"hello": "world"}', ResultsFormatError, "not an sa-conformance results file"),
    ('{"format": "sa-conformance-results", "format_version": 1}', ResultsFormatError, "format version 1"),
    ('{"format": "sa-conformance-results", "format_version": 2}', ResultsSchemaError, "required property"),
], ids=["missing", "empty", "undecodable", "not-json", "not-results", "old-version", "schema"])
def test_each_defect_of_a_results_file_has_its_error_class(tmp_path, content, error, words):
    path = tmp_path / "r.json"
    if isinstance(content, bytes):
        path.write_bytes(content)
    elif content is not None:
        path.write_text(content)
    with pytest.raises(error) as info:
        load_results(path)
    assert isinstance(info.value, ResultsError)
    message = str(info.value)
    assert words in message and str(path) in message and "\n" not in message


def test_library_side_imports_nothing_of_pytest():
    code = ("import sys, sa_conformance.model, sa_conformance.resultsio, sa_conformance.report, "
            "sa_conformance.diff, sa_conformance.cli; "
            "print(sorted(m for m in sys.modules if m.split('.')[0] in ('pytest', '_pytest')))")
    proc = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, timeout=60,
                          cwd=Path(__file__).parent)
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.strip() == "[]"


def test_exception_group_blames_every_claim_its_members_name():
    """Hypothesis raises an exception group for several distinct failures:
    each member's claim fails, the test's other unchecked claims are not
    reached, a completed block still passes."""
    from sa_conformance.attribution import attribute
    from sa_conformance.collect import ItemFacts, exception_facts

    if sys.version_info >= (3, 11):
        from builtins import ExceptionGroup
    else:  # the backport hypothesis depends on
        from exceptiongroup import ExceptionGroup
    group = ExceptionGroup("two", [attribute(AssertionError("a"), "x.a"), attribute(AssertionError("b"), "x.b")])
    call = {"when": "call", "outcome": "failed", "duration": 0.0, "exc": exception_facts(group), "checked": ["x.d"]}
    item = ItemFacts("t::x", meta={"claims": ["x.a", "x.b", "x.c", "x.d"]}, phases={"call": call})
    got = {c: (v.outcome, v.reason) for c, v in item.claim_verdicts().items()}
    assert got == {
        "x.a": (Outcome.FAIL, None), "x.b": (Outcome.FAIL, None), "x.d": (Outcome.PASS, None),
        "x.c": (Outcome.NOT_REACHED, "not reached: the test stopped at a failing check of x.a, x.b"),
    }


def test_the_diff_counts_verdicts_like_every_report():
    """`sa-conformance diff` adds a line in the reports' unit: newly + still
    failing verdicts add up to the new run's failing verdicts, by outcome."""
    from sa_conformance.diff import diff_results

    old = small_doc()
    broken = [r.replace(outcome=Outcome.ERROR, message="teardown: LeakError: leak")
              if r.claim == "remove.closes-session" and r.backend is None else r for r in old.records]
    broken.append(Record(claim="remove.other", backend="sqlite-memory", driver="pysqlite", scope_mode="default",
                         outcome=Outcome.FAIL, message="AssertionError: y"))
    new = dataclasses.replace(old, records=tuple(broken))
    line = diff_results(old, new).verdict_line()
    assert line == (f"verdicts: 3 → 4 {UNIT}; 2 newly failing (1 FAIL, 1 ERROR), 1 still failing, "
                    "0 fixed, 0 other changes")
    assert len(new.bad()) == 2 + 1
