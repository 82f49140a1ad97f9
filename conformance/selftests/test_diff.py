"""`diff` of two results files keyed by (claim, backend, scope mode): the
categories, Markdown/HTML output, and the exit status as a CI gate."""

from __future__ import annotations

import copy
import json
import subprocess
import sys
from pathlib import Path

import pytest

from sa_conformance.diff import classify, diff_results, exit_code, html, markdown
from sa_conformance.results import ResultsError
from test_report_html import CLAIMS, make_doc, two_runs

# subprocess-heavy: generous timeout on a loaded machine
pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(300)]


def cli(*args: str, cwd: Path | None = None) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "sa_conformance.cli", *args], capture_output=True, text=True,
                          timeout=60, cwd=cwd)


@pytest.mark.parametrize(
    "old, new, category",
    [
        ("pass", "fail", "regressed"),
        ("pass", "error", "regressed"),
        ("expected-fail", "fail", "regressed"),
        ("fail", "pass", "fixed"),
        ("expected-fail", "unexpected-pass", "fixed"),
        ("not-applicable", "pass", "newly-applicable"),
        ("not-applicable", "fail", "newly-applicable"),
        ("pass", "not-applicable", "no-longer-applicable"),
        (None, "pass", "appeared"),
        ("pass", None, "vanished"),
        ("pass", "skip", "other"),
        ("pass", "pass", None),
    ],
)
def test_classify(old, new, category):
    mk = lambda o: None if o is None else {"outcome": o}  # noqa: E731
    assert classify(mk(old), mk(new)) == category


def test_message_change_is_reported_but_addresses_are_not():
    a = {"outcome": "fail", "message": "Session object at 0x7f00aa is in state X"}
    assert classify(a, {"outcome": "fail", "message": "Session object at 0x7fffbb is in state X"}) is None
    assert classify(a, {"outcome": "fail", "message": "Session object at 0x7f00aa is in state Y"}) == "message-changed"


def test_diff_of_two_versions():
    old, new = two_runs()
    d = diff_results(old, new, "old.json", "new.json")
    cats = {c.key: c.category for c in d.changes}
    assert cats == {
        ("remove.closes-session", "mysql", "default"): "regressed",
        ("proxy.new-members", "sqlite-memory", "default"): "newly-applicable",
        ("proxy.new-members", "mysql", "default"): "newly-applicable",
        ("registry.remove-clears", "sqlite-memory", "asyncio-task"): "other",
    }
    assert [c.key for c in d.gate] == [("remove.closes-session", "mysql", "default")]
    assert exit_code(d) == 1
    md = markdown(d)
    assert "# Conformance diff: SQLAlchemy 2.0.58 → 2.1.9" in md
    assert "## Regressed (1)" in md and "pass → fail ❗" in md
    assert "connection still checked out" in md
    page = html(d)
    assert 'data-category="regressed"' in page and "connection still checked out" in page
    # identical runs: no change, gate passes
    same = diff_results(old, copy.deepcopy(old))
    assert same.changes == [] and exit_code(same) == 0


def test_suite_change_is_flagged_on_a_change():
    """A failure that comes from a test the old run did not have is marked
    as a suite change, not silently blamed on SQLAlchemy."""
    old, new = two_runs()
    new["results"][6]["tests"].append("conformance/sa_conformance/suite/test_remove_more.py::test_new[mysql]")
    d = diff_results(old, new)
    change = next(c for c in d.changes if c.category == "regressed")
    assert change.tests_added == ["conformance/sa_conformance/suite/test_remove_more.py::test_new"]
    assert any("suite differs" in w for w in d.warnings)
    assert "suite: new test(s) conformance/sa_conformance/suite/test_remove_more.py::test_new" in markdown(d)


def test_different_suites_are_refused():
    old, new = two_runs()
    other = make_doc("2.1.9", new["results"], CLAIMS, suite="someone-elses-suite")
    with pytest.raises(ResultsError, match="different suites"):
        diff_results(old, other)


def write(tmp_path: Path, name: str, doc: dict) -> str:
    p = tmp_path / name
    p.write_text(json.dumps(doc))
    return str(p)


def test_cli_diff_exit_codes_and_html(tmp_path):
    old, new = two_runs()
    a, b = write(tmp_path, "a.json", old), write(tmp_path, "b.json", new)
    regress = cli("diff", a, b, "--html", str(tmp_path / "d.html"))
    assert regress.returncode == 1, regress.stderr
    assert regress.stdout.startswith("# Conformance diff")
    assert (tmp_path / "d.html").read_text().count('class="change gate"') == 1
    assert cli("diff", a, a).returncode == 0
    assert cli("diff", b, a).returncode == 0  # going back only fixes things
    assert cli("diff", a, b, "--no-gate").returncode == 0


def test_cli_diff_refuses_different_suites_in_one_line(tmp_path):
    old, new = two_runs()
    other = make_doc("2.1.9", new["results"], CLAIMS, suite="someone-elses-suite")
    proc = cli("diff", write(tmp_path, "a.json", old), write(tmp_path, "b.json", other))
    assert proc.returncode == 2
    assert proc.stdout == ""
    assert len(proc.stderr.strip().splitlines()) == 1 and "different suites" in proc.stderr
