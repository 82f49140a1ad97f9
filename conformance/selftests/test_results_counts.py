"""One unit of counting, said everywhere: with SQLAlchemy broken on purpose
(``-p sa_conformance.mutations``), the terminal's claims line, summary.md,
the HTML matrix and results.json count the same claim verdicts; pytest's own
counts stay as pytest prints them (and results.json keeps them); JUnit has
one <testcase> per test; and only the broken claims are red."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import xml.etree.ElementTree as ET
from pathlib import Path

import pytest
from sa_conformance.model import UNIT, Outcome, claims_line
from sa_conformance.mutations import MUTATIONS
from sa_conformance.paths import SUITE_DIR
from sa_conformance.resultsio import load_results

from test_report_html import DOM

pytestmark = [pytest.mark.selfcheck, pytest.mark.timeout(300)]

MUTATION = "remove-does-not-close"
REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def broken_run(tmp_path_factory) -> dict:
    out = tmp_path_factory.mktemp("counts")
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SA_CONFORMANCE_", "GITHUB_"))}
    env["SA_CONFORMANCE_MUTATION"] = MUTATION
    cmd = [
        sys.executable, "-m", "pytest", "-p", "sa_conformance.mutations", "--backend", "sqlite-memory",
        str(SUITE_DIR / "test_remove.py"), f"--results={out / 'results.json'}", f"--junitxml={out / 'junit.xml'}",
        "-p", "no:cacheprovider", "-n", "0", "-q", "--color=no",
    ]
    proc = subprocess.run(cmd, cwd=REPO, env=env, capture_output=True, text=True, timeout=240)
    assert proc.returncode == 1, proc.stdout[-3000:] + proc.stderr[-2000:]
    return {"out": out, "stdout": proc.stdout}


def pytest_counts(stdout: str) -> dict[str, int]:
    """pytest's final line, e.g. ``7 failed, 14 passed, 8 skipped, 3 errors in 2.01s``."""
    last = [line for line in stdout.splitlines() if re.search(r"\d+ (passed|failed)", line)][-1]
    words = {"error": "errors", "errors": "errors"}
    return {words.get(w, w): int(n) for n, w in re.findall(r"(\d+) (\w+)", last.split(" in ")[0])}


def test_terminal_summary_html_and_results_count_the_same_verdicts(broken_run):
    out, stdout = broken_run["out"], broken_run["stdout"]
    doc = load_results(out / "results.json")
    counts = doc.verdict_counts()
    line = claims_line(counts)
    assert line.startswith(f"claims: {len(doc.records)} {UNIT}: ")
    assert counts[Outcome.FAIL] >= 2 and counts[Outcome.PASS] >= 1
    # the terminal: pytest's own counts untouched, plus the claims line
    assert line in stdout.splitlines()
    assert dict(doc.tests.counts) == pytest_counts(stdout)
    # summary.md says the same line and lists exactly the bad verdicts
    summary = (out / "summary.md").read_text()
    assert f"**{line}**" in summary
    bad = [r for r in doc.records if r.outcome.bad]
    assert f"### Failing verdicts ({len(bad)})" in summary
    assert summary.count("  - rerun: `sa-conformance run --claim ") == len(bad)
    assert f"tests (as pytest counts them): {doc.tests.total} tests: " in summary
    # the HTML: the same line, and per-outcome counts that add up to it
    dom = DOM((out / "matrix.html").read_text())
    assert dom.find("p", id="claims-line")[0]["text"].strip() == line
    shown = {s["attrs"]["data-outcome"]: int(s["text"]) for s in dom.find("span", "count")}
    assert shown == {o.value: counts.get(o, 0) for o in Outcome}
    assert len([c for c in dom.find("td", "cell") if c["attrs"]["data-outcome"] in ("fail", "error")]) == len(
        {(r.claim, r.backend) for r in bad}
    )
    # every verdict is shown exactly once: the cells' records plus the claim-column ones
    cells = sum(int(c["attrs"]["data-verdicts"]) for c in dom.find("td", "cell") if "data-verdicts" in c["attrs"])
    assert cells + len(dom.find("div", "no-db")) == len(doc.records)


def test_only_the_broken_claims_are_red(broken_run):
    """Every claim the mutation names turns red (FAIL); no other claim does.
    What else the mutation breaks (a leak after a test's checks passed) is an
    ERROR of that test's claims: amber, not a claim that did not hold."""
    doc = load_results(broken_run["out"] / "results.json")
    named = set(MUTATIONS[MUTATION].claims)
    red = {r.claim for r in doc.records if r.outcome is Outcome.FAIL}
    assert named <= red
    assert red <= named | {"remove.rolls-back-transaction"}, sorted(red - named)  # the mysql-only claim, also here
    others = [r for r in doc.records if r.outcome.bad and r.outcome is not Outcome.FAIL]
    assert all(r.outcome is Outcome.ERROR and r.leak for r in others), [(r.claim, r.message) for r in others]
    for r in doc.records:
        if r.outcome.bad:
            assert r.source is not None and Path(r.source.path).name == "test_remove.py" and r.source.line
            assert r.rerun_command() == f"sa-conformance run --claim {r.claim} --backend sqlite-memory"


def test_junit_has_one_testcase_per_test_with_properties(broken_run):
    out, stdout = broken_run["out"], broken_run["stdout"]
    counts = pytest_counts(stdout)
    root = ET.parse(out / "junit.xml").getroot()
    cases = list(root.iter("testcase"))
    names = [(c.get("classname"), c.get("name")) for c in cases]
    assert len(names) == len(set(names)), "a test appears twice"
    assert len(cases) == counts.get("passed", 0) + counts.get("failed", 0) + counts.get("skipped", 0)
    for case in cases:
        props = {p.get("name"): p.get("value") for p in case.iter("property")}
        assert props.get("claim", "").startswith("remove.") and props.get("backend") == "sqlite-memory", props
        assert props.get("driver") == "pysqlite" and "scope_mode" in props
