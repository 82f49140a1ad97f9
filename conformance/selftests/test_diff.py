"""`diff`: one row per claim, sorted into undocumented / documented / API /
fixed / appeared / other; the headline; Markdown, HTML and JSON; the gate."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest
from sa_conformance.diff import diff_results, exit_code
from sa_conformance.diff_render import html, json_text, markdown
from sa_conformance.model import Document, Record, ResultsError, Run
from sa_conformance.resultsio import write_document

pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(300)]

CLAIMS = {
    "x.old": {"id": "x.old", "family": "x", "claim": "Old behaviour.", "source": "https://e.org/old",
              "section": "s", "since": None, "until": "2.1.0"},
    "x.new": {"id": "x.new", "family": "x", "claim": "New behaviour.", "source": "https://e.org/new",
              "section": "s", "since": "2.1.0", "until": None, "changes": "x.old", "changelog": "#9809 2.1.0",
              "reference": "https://e.org/changelog#9809"},
    "x.api": {"id": "x.api", "family": "x", "claim": "Member added.", "source": "https://e.org/api",
              "section": "s", "since": "2.1", "until": None},
    "x.stable": {"id": "x.stable", "family": "x", "claim": "Stable.", "source": "https://e.org/stable",
                 "section": "s", "since": None, "until": None},
    "x.flaky": {"id": "x.flaky", "family": "x", "claim": "Was broken.", "source": "https://e.org/f",
                "section": "s", "since": None, "until": None},
}


def doc(version: str, outcomes: dict, *, complete: bool = True, invocation: str | None = None) -> Document:
    """outcomes: {claim: {backend: outcome}}"""
    records = [Record(claim=c, backend=b, driver=None, scope_mode="default", outcome=o,
                      message="boom" if o == "fail" else None, tests=(f"test_x.py::test_{c.split('.')[1]}",))
               for c, per in outcomes.items() for b, o in per.items()]
    run = Run(sqlalchemy=version, python="3.11", platform="linux", started="2026-12-01T00:00:00+00:00",
              finished="2026-12-01T00:01:00+00:00", command="pytest", invocation=invocation)
    return Document(suite_version="0.1.0", complete=complete, exit_status=0, run=run, claims=CLAIMS, records=records)


BOTH = ("sqlite-memory", "mysql")
OLD = {"x.old": dict.fromkeys(BOTH, "pass"), "x.new": dict.fromkeys(BOTH, "not-applicable"),
       "x.api": dict.fromkeys(BOTH, "not-applicable"), "x.stable": dict.fromkeys(BOTH, "pass"),
       "x.flaky": dict.fromkeys(BOTH, "fail")}
NEW = {"x.old": dict.fromkeys(BOTH, "not-applicable"), "x.new": dict.fromkeys(BOTH, "pass"),
       "x.api": dict.fromkeys(BOTH, "pass"), "x.stable": {"sqlite-memory": "pass", "mysql": "fail"},
       "x.flaky": dict.fromkeys(BOTH, "pass")}


def test_every_difference_is_one_row_per_claim_in_its_category():
    d = diff_results(doc("2.0.58", OLD), doc("2.1.9", NEW), "old.json", "new.json")
    rows = {(ch.category, ch.old_claim, ch.claim) for ch in d.changes}
    assert rows == {("documented", "x.old", "x.new"), ("api", None, "x.api"),
                    ("undocumented", None, "x.stable"), ("fixed", None, "x.flaky")}
    stable = next(ch for ch in d.changes if ch.claim == "x.stable")
    assert [t.target for t in stable.targets] == ["mysql", "sqlite-memory"]  # folded, both kept
    assert [t.changed for t in stable.targets] == [True, False]
    documented = next(ch for ch in d.changes if ch.category == "documented")
    assert documented.changelog == "#9809 2.1.0" and documented.reference == "https://e.org/changelog#9809"
    assert d.headline() == ("2.0.58 → 2.1.9: 1 documented behaviour change, 1 API change, 1 undocumented change "
                            "(claims; also 1 fixed, 0 appeared/vanished, 0 other)")
    assert exit_code(d) == 1


def test_documented_change_passes_the_gate_unless_fail_on_documented():
    new = dict(NEW, **{"x.stable": dict.fromkeys(BOTH, "pass")})
    d = diff_results(doc("2.0.58", OLD), doc("2.1.9", new))
    assert not d.gate and exit_code(d) == 0 and exit_code(d, "documented") == 1


def test_documented_pair_whose_new_behaviour_fails_is_undocumented():
    new = dict(NEW, **{"x.new": {"sqlite-memory": "pass", "mysql": "fail"}})
    d = diff_results(doc("2.0.58", OLD), doc("2.1.9", new))
    row = next(ch for ch in d.changes if ch.claim == "x.new")
    assert row.category == "undocumented" and row.old_claim == "x.old"
    assert "x.new does not hold" in row.detail


def test_documented_pair_checked_on_neither_side_is_not_counted_as_shown():
    """A switch the catalogue documents but this run skipped on both releases is not a shown change."""
    old = dict(OLD, **{"x.old": dict.fromkeys(BOTH, "skip")})
    new = dict(NEW, **{"x.new": dict.fromkeys(BOTH, "skip")})
    d = diff_results(doc("2.0.58", old), doc("2.1.9", new))
    row = next(ch for ch in d.changes if ch.claim == "x.new")
    assert (row.category, row.old_claim) == ("other", "x.old")
    assert row.detail == "documented change x.old → x.new not observed on these targets: skip → skip"
    assert d.headline().startswith("2.0.58 → 2.1.9: 0 documented behaviour changes,")


def test_documented_pair_seen_on_one_side_only_says_so():
    new = dict(NEW, **{"x.new": {"sqlite-memory": "pass", "mysql": "skip"}})
    d = diff_results(doc("2.0.58", OLD), doc("2.1.9", new))
    row = next(ch for ch in d.changes if ch.claim == "x.new")
    assert row.category == "documented" and row.detail == ""
    new = dict(NEW, **{"x.new": dict.fromkeys(BOTH, "skip")})
    row = next(ch for ch in diff_results(doc("2.0.58", OLD), doc("2.1.9", new)).changes if ch.claim == "x.new")
    assert row.category == "documented" and row.detail == "only the old behaviour was observed"


def test_a_test_becoming_applicable_beside_a_pass_is_coverage_not_behaviour():
    old = dict(OLD, **{"x.stable": {"sqlite-memory": "not-applicable", "mysql": "pass"}})
    new = dict(NEW, **{"x.stable": dict.fromkeys(BOTH, "pass")})
    row = next(ch for ch in diff_results(doc("2.0.58", old), doc("2.1.9", new)).changes if ch.claim == "x.stable")
    assert row.category == "other"
    assert row.detail == "checked on the new release only by test_stable on sqlite-memory"


def test_newly_applicable_claim_that_fails_is_undocumented_and_appeared_claims_are_listed():
    old = {k: v for k, v in OLD.items() if k != "x.flaky"}
    new = dict(NEW, **{"x.api": dict.fromkeys(BOTH, "fail")})
    d = diff_results(doc("2.0.58", old), doc("2.1.9", new))
    cats = {ch.claim: ch.category for ch in d.changes}
    assert cats["x.api"] == "undocumented" and cats["x.flaky"] == "appeared"


def test_outputs_open_with_the_headline():
    d = diff_results(doc("2.0.58", OLD), doc("2.1.9", NEW), "old.json", "new.json")
    md = markdown(d)
    assert md.splitlines()[0] == "# " + d.headline()
    assert "| [x.old → x.new](https://e.org/new) | pass → pass |" in md
    page = html(d)
    assert f'<h1 id="headline">{d.headline()}</h1>' in page
    assert page.count('<tr class="change') == 4 and page.count("<details") == 4
    data = json.loads(json_text(d))
    assert data["headline"] == d.headline() and data["unit"] == "claims"
    assert data["counts"] == {"undocumented": 1, "documented": 1, "api": 1, "fixed": 1, "appeared": 0, "other": 0}


def test_different_suites_are_refused():
    other = doc("2.1.9", NEW)
    other = Document(suite_version="1", complete=True, exit_status=0, run=other.run, claims=CLAIMS,
                     records=other.records, suite_name="another-suite")
    with pytest.raises(ResultsError, match="refusing to diff results of different suites"):
        diff_results(doc("2.0.58", OLD), other)


def test_cli_diff_formats_and_exit_codes(tmp_path):
    a, b = tmp_path / "a.json", tmp_path / "b.json"
    write_document(a, doc("2.0.58", OLD))
    write_document(b, doc("2.1.9", dict(NEW, **{"x.stable": dict.fromkeys(BOTH, "pass")})))

    def run(*extra):
        return subprocess.run([sys.executable, "-m", "sa_conformance", "diff", str(a), str(b), *extra],
                              capture_output=True, text=True, timeout=120)

    plain = run()
    assert plain.returncode == 0, plain.stderr
    assert plain.stdout.startswith("# 2.0.58 → 2.1.9: 1 documented behaviour change, 1 API change, 0 undocumented")
    assert run("--fail-on", "documented").returncode == 1
    js = run("--format", "json", "--html", str(tmp_path / "d.html"))
    assert json.loads(js.stdout)["counts"]["documented"] == 1 and (tmp_path / "d.html").is_file()
